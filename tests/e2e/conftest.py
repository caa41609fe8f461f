"""The whole platform, as separate processes, for end-to-end tests.

One stack per test session, on its own free ports and in its own temporary data
folder, so the tests never touch a platform a developer is running.
"""

import random
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import PORT_OFFSETS, Stack, StackConfig


def _ports_free(base: int) -> bool:
    for offset in PORT_OFFSETS.values():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", base + offset))
            except OSError:
                return False
    return True


def _free_base_port() -> int:
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20000, 32000, 100)
        if _ports_free(base):
            return base
    raise RuntimeError("no free block of ports for the test stack")


class _Log:
    """Keeps the stack's output in a file instead of the test output."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", encoding="utf-8")

    def __call__(self, name: str, line: str) -> None:
        self.file.write(f"{name:<10}| {line}\n")
        self.file.flush()


@pytest_asyncio.fixture(scope="session")
async def stack() -> AsyncIterator[Stack]:
    """Every service and the gateway, started once for the session."""
    data_dir = Path(tempfile.mkdtemp(prefix="jietiao-e2e-"))
    config = StackConfig(
        data_dir=data_dir,
        base_port=_free_base_port(),
        log_format="json",
        extra_env={
            "JIETIAO_CODE_MIN_INTERVAL_SECONDS": "0",
            "JIETIAO_EXPIRY_SWEEP_SECONDS": "0.5",
            "JIETIAO_OTEL_EXPORTER": "file",
            "JIETIAO_OTEL_FILE": str(data_dir / "spans" / "{service}.jsonl"),
        },
    )
    log_path = Path("artifacts") / "e2e-stack.log"
    log_path.parent.mkdir(exist_ok=True)
    platform = Stack(config, printer=_Log(log_path))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@pytest_asyncio.fixture(scope="session")
async def api(stack: Stack) -> AsyncIterator[JietiaoApi]:
    """The gateway's public API, with the operator token for reading SMS."""
    client = JietiaoApi(stack.config.url("gateway"), stack.config.operator_token())
    yield client
    await client.close()


@pytest.fixture
def people() -> tuple[Person, Person]:
    """Two new people for one test."""
    rng = random.Random()
    return make_person(rng), make_person(rng)
