"""The documents service as a process, on the suite's real PostgreSQL and NATS.

PostgreSQL, NATS and the token issuer come from the repository's root conftest.
"""

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import nats
import pytest
import pytest_asyncio
from documents.render import find_font
from jietiao_shared.bus import provision
from jietiao_shared.contracts import Envelope
from jietiao_shared.db import migrate
from jietiao_stack.testing import BackingServers, TestTokenIssuer, free_port
from nats.aio.client import Client
from nats.aio.msg import Msg

STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class RunningService:
    """A service started as ``python -m <module> serve``."""

    base_url: str
    database_url: str
    log_path: Path

    def log_text(self) -> str:
        """Everything the service logged so far."""
        return self.log_path.read_text("utf-8", errors="replace")


def service_env(**settings: str) -> dict[str, str]:
    """This process's environment without JIETIAO_* settings, plus ``settings``."""
    keep = {"JIETIAO_CJK_FONT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIETIAO_") or k in keep}
    env.update({f"JIETIAO_{k.upper()}": v for k, v in settings.items()})
    return env


async def wait_ready(base_url: str, proc: asyncio.subprocess.Process) -> None:
    """Wait until the service answers /readyz with 200; fail if it exits."""
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"service exited with {proc.returncode}")
            try:
                if (await http.get(f"{base_url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("service not ready in time")


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Stop a service we started: SIGTERM, wait, then kill."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the service's output goes."""
    return tmp_path_factory.mktemp("documents-service")


@pytest.fixture
def process_helpers() -> SimpleNamespace:
    """``service_env`` and ``stop``, for tests that start a process of their own."""
    return SimpleNamespace(service_env=service_env, stop=stop)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service's data folder (JIETIAO_DATA_DIR): its local seal PKI lives there."""
    return tmp_path_factory.mktemp("documents-data")


@pytest_asyncio.fixture(scope="module")
async def documents(
    backing_servers: BackingServers,
    token_issuer: TestTokenIssuer,
    log_dir: Path,
    data_dir: Path,
) -> AsyncIterator[RunningService]:
    """The documents service, migrated, with quick retries for the order tests."""
    try:
        find_font()
    except RuntimeError as missing:
        pytest.skip(str(missing))
    database_url = backing_servers.database_url("documents")
    await migrate(database_url, ["jietiao_shared", "documents"])
    await provision(backing_servers.nats_url, max_deliver=20)
    port = free_port()
    log_path = log_dir / "documents.log"
    env = service_env(
        http_host="127.0.0.1",
        http_port=str(port),
        nats_url=backing_servers.nats_url,
        database_url=database_url,
        jwks_url=token_issuer.jwks_url,
        log_format="text",
        outbox_poll_seconds="0.2",
        max_deliver="20",
        retry_backoff_seconds="[0.2, 0.5, 1.0]",
        data_dir=str(data_dir),
    )
    log = await asyncio.to_thread(log_path.open, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "documents",
        "serve",
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    log.close()
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, proc)
        yield RunningService(base_url, database_url, log_path)
    finally:
        await stop(proc)


@pytest_asyncio.fixture
async def bus(backing_servers: BackingServers) -> AsyncIterator[Client]:
    """A plain nats-py connection for one test."""
    nc = await nats.connect(backing_servers.nats_url)
    yield nc
    await nc.close()


class Announcements:
    """DocumentRendered envelopes seen on the bus since the test began."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []

    async def collect(self, msg: Msg) -> None:
        """Core-subscription callback."""
        self.seen.append(Envelope.model_validate_json(msg.data))

    def of(self, agreement_id: str) -> list[Envelope]:
        """The announcements for one agreement, in arrival order."""
        return [e for e in self.seen if e.data["agreement_id"] == agreement_id]


@pytest_asyncio.fixture
async def rendered(bus: Client) -> AsyncIterator[Announcements]:
    """Listens to jietiao.evt.documents.document.rendered during one test."""
    seen = Announcements()
    sub = await bus.subscribe("jietiao.evt.documents.document.rendered", cb=seen.collect)
    await bus.flush()
    yield seen
    await sub.unsubscribe()
