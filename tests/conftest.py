"""The whole platform, as separate processes, for the end-to-end and browser tests.

``tests/e2e`` drives it over HTTP, ``tests/browser`` through the web client; both
share one stack per test session, on its own free ports and in its own temporary data
folder, so the tests never touch a platform a developer is running.
"""

import random
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import Stack, StackConfig
from jietiao_stack.testing import StackLog, free_base_port


@pytest_asyncio.fixture(scope="session")
async def stack() -> AsyncIterator[Stack]:
    """Every service and the gateway, started once for the session."""
    data_dir = Path(tempfile.mkdtemp(prefix="jietiao-e2e-"))
    config = StackConfig(
        data_dir=data_dir,
        base_port=free_base_port(),
        log_format="json",
        extra_env={
            "JIETIAO_CODE_MIN_INTERVAL_SECONDS": "0",
            "JIETIAO_EXPIRY_SWEEP_SECONDS": "0.5",
            "JIETIAO_OTEL_EXPORTER": "file",
            "JIETIAO_OTEL_FILE": str(data_dir / "spans" / "{service}.jsonl"),
        },
    )
    log_path = Path("artifacts") / "e2e-stack.log"
    platform = Stack(config, printer=StackLog(log_path))
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
