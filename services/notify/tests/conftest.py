"""Fixtures: real PostgreSQL and NATS, a token issuer, and notify as a process.

Everything listens on free 127.0.0.1 ports and lives in a /tmp folder removed at
the end of the session. Unit tests use none of it.
"""

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from jietiao_shared.bus import provision
from jietiao_shared.contracts import COMMANDS_STREAM, Contract, Envelope
from jietiao_shared.db import migrate
from jietiao_stack.servers import (
    nats_command,
    postgres_args,
    prepare_postgres,
    run_as_kwargs,
)
from jietiao_stack.testing import TestTokenIssuer, free_port, wait_for_port
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

PUBLIC_URL = "http://127.0.0.1:18100"

# The fake provider servers (tests/fakes/*.py) are imported by their module names.
sys.path.insert(0, str(Path(__file__).parent / "fakes"))

Check = Callable[[], Awaitable[Any]]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child we started, killing it if it does not stop."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def eventually(check: Check, seconds: float = 20.0) -> Any:
    """Await ``check()`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise TimeoutError(f"condition not met within {seconds}s (last: {last!r})")


# --- servers -------------------------------------------------------------------


@dataclass
class Backing:
    """Where the session's PostgreSQL and NATS listen."""

    folder: Path
    pg_port: int
    nats_port: int

    @property
    def nats_url(self) -> str:
        """The NATS server."""
        return f"nats://127.0.0.1:{self.nats_port}"

    @property
    def database_url(self) -> str:
        """Notify's database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/jietiao_notify"


@pytest.fixture(scope="session")
def backing() -> Iterator[Backing]:
    """PostgreSQL and JetStream NATS from their wheels, for this session only."""
    folder = Path(tempfile.mkdtemp(prefix="notify-test-"))
    found = Backing(folder, free_port(), free_port())
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(_start_postgres(found))
        children.append(_start_nats(found))
        wait_for_port(found.pg_port)
        wait_for_port(found.nats_port)
        yield found
    finally:
        for child in reversed(children):
            stop(child)
        shutil.rmtree(folder, ignore_errors=True)


def _start_postgres(backing: Backing) -> subprocess.Popen[bytes]:
    command, user = prepare_postgres(backing.folder)
    log = (backing.folder / "postgres.log").open("wb")
    return subprocess.Popen(
        command + postgres_args(backing.pg_port),
        stdout=log,
        stderr=log,
        start_new_session=True,
        **run_as_kwargs(user),  # type: ignore[arg-type]
    )


def _start_nats(backing: Backing) -> subprocess.Popen[bytes]:
    log = (backing.folder / "nats.log").open("wb")
    command = nats_command(backing.folder, backing.nats_port, free_port())
    return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)


# --- tokens --------------------------------------------------------------------


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestTokenIssuer]:
    """The session's token issuer, playing identity."""
    found = TestTokenIssuer().start()
    yield found
    found.stop()


# --- the service -----------------------------------------------------------------


@dataclass
class Notify:
    """The running notify process and how to reach it."""

    url: str
    operator_token: str
    log_path: Path
    public_url: str = PUBLIC_URL


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def notify(backing: Backing, issuer: TestTokenIssuer) -> AsyncIterator[Notify]:
    """Migrate, provision the streams, then run ``python -m notify serve``."""
    await migrate(backing.database_url, ["jietiao_shared", "notify"])
    await provision(backing.nats_url)
    port = free_port()
    found = Notify(
        url=f"http://127.0.0.1:{port}",
        operator_token=secrets.token_urlsafe(16),
        log_path=backing.folder / "notify.log",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIETIAO_")}
    env.update(
        JIETIAO_HTTP_PORT=str(port),
        JIETIAO_NATS_URL=backing.nats_url,
        JIETIAO_DATABASE_URL=backing.database_url,
        JIETIAO_JWKS_URL=issuer.jwks_url,
        JIETIAO_OPERATOR_TOKEN=found.operator_token,
        JIETIAO_PUBLIC_URL=PUBLIC_URL,
        JIETIAO_REMINDER_POLL_SECONDS="0.2",
        JIETIAO_LOG_FORMAT="json",
    )
    child = _spawn(env, found.log_path)
    try:
        await _wait_ready(found.url, child)
        yield found
    finally:
        stop(child)


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "notify", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_ready(url: str, child: subprocess.Popen[bytes]) -> None:
    async def ready() -> bool:
        assert child.poll() is None, "notify exited; see notify.log"
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient() as client:
                return (await client.get(url + "/readyz")).status_code == 200
        return False

    await eventually(ready, seconds=30)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def http(notify: Notify) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on notify."""
    async with httpx.AsyncClient(base_url=notify.url, timeout=10) as client:
        yield client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(notify: Notify, backing: Backing) -> AsyncIterator[AsyncEngine]:
    """Notify's database, for checks the API does not expose."""
    engine = create_async_engine(backing.database_url)
    yield engine
    await engine.dispose()


# --- the bus -------------------------------------------------------------------


class Bus:
    """Publishes commands as the other services' outbox relays do."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    @staticmethod
    def envelope(payload: Contract) -> dict[str, Any]:
        """The wire body of a payload, with a fresh message id."""
        built = Envelope(type=type(payload).__name__, data=payload.model_dump(mode="json"))
        return built.model_dump(mode="json")

    async def publish(
        self, subject: str, body: dict[str, Any], msg_id: str | None = None
    ) -> PubAck:
        """Publish one envelope to its stream; ``msg_id`` defaults to its message id."""
        headers = {
            "Nats-Msg-Id": msg_id or body["message_id"],
            "content-type": "application/json",
        }
        return await self.js.publish(subject, json.dumps(body).encode(), headers=headers)

    async def send(self, subject: str, payload: Contract) -> PubAck:
        """Publish a payload in a fresh envelope."""
        return await self.publish(subject, self.envelope(payload))

    async def handled(self, consumer: str, ack: PubAck) -> None:
        """Wait until notify's durable ``consumer`` acknowledged this message."""

        async def acked() -> bool:
            info = await self.js.consumer_info(COMMANDS_STREAM, f"notify-{consumer}")
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            return (floor or 0) >= ack.seq

        await eventually(acked)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def bus(notify: Notify, backing: Backing) -> AsyncIterator[Bus]:
    """A JetStream client on the session's NATS."""
    client = await nats.connect(backing.nats_url)
    yield Bus(client.jetstream())
    await client.close()


# --- small helpers as fixtures -------------------------------------------------


@pytest.fixture
def phone() -> Callable[[], str]:
    """Makes a fresh mainland mobile number in E.164."""
    return lambda: "+86139" + "".join(secrets.choice("0123456789") for _ in range(8))


@pytest.fixture
def ops(http: httpx.AsyncClient, notify: Notify) -> Callable[..., Awaitable[Any]]:
    """GET an operator endpoint and return its items."""

    async def get(path: str, **params: str) -> list[dict[str, Any]]:
        response = await http.get(
            path, params=params, headers={"x-operator-token": notify.operator_token}
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    return get


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    """Await a check until it returns something truthy (see :func:`eventually`)."""
    return eventually


# --- scratch databases -----------------------------------------------------------


@pytest.fixture
def scratch_database(backing: Backing) -> Callable[[str], Awaitable[str]]:
    """Makes a migrated notify database of its own, out of the running notify's reach."""

    async def make(name: str) -> str:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{backing.pg_port}/{name}_{uuid.uuid4().hex[:8]}"
        await migrate(url, ["jietiao_shared", "notify"])
        return url

    return make
