"""Real servers and test keys for the test suites of every service.

:class:`BackingServers` starts PostgreSQL and NATS from their wheels on free
loopback ports in a throw-away folder, so tests never touch a running platform.
:class:`ContainerPostgres` and :class:`ContainerNats` are the same servers in
containers (local images, host networking), started through testcontainers when
``JIETIAO_TEST_SERVERS=containers`` (see the root ``conftest.py``).
:class:`TestTokenIssuer` plays identity's part for services tested alone: it signs
session tokens with its own Ed25519 key and serves the key set over HTTP.
"""

import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .servers import nats_command, postgres_args, prepare_postgres, run_as_kwargs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.5),
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


class LocalPostgres:
    """A PostgreSQL server from the wheel, in a throw-away folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="jietiao-test-pg-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def database_url(self, name: str) -> str:
        """A SQLAlchemy URL for database ``name`` (created by migrate)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> "LocalPostgres":
        """Start the server and wait until it accepts connections."""
        command, user = prepare_postgres(self.folder)
        log = (self.folder / "postgres.log").open("wb")
        self._process = subprocess.Popen(
            command + postgres_args(self.port),
            stdout=log,
            stderr=log,
            start_new_session=True,
            **run_as_kwargs(user),
        )
        wait_for_port(self.port)
        time.sleep(0.3)
        return self

    def stop(self) -> None:
        """Stop the server and remove its data."""
        _stop(self._process)
        shutil.rmtree(self.folder, ignore_errors=True)


class LocalNats:
    """A JetStream NATS server from the wheel, in a throw-away folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="jietiao-test-nats-"))
        self.port = free_port()
        self.monitor_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where tests reach NATS."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "LocalNats":
        """Start the server and wait until JetStream is ready."""
        log = (self.folder / "nats.log").open("wb")
        self._process = subprocess.Popen(
            nats_command(self.folder, self.port, self.monitor_port),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        wait_for_port(self.port)
        _wait_http(f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true")
        return self

    def stop(self) -> None:
        """Stop the server and remove its data."""
        _stop(self._process)
        shutil.rmtree(self.folder, ignore_errors=True)


CONTAINER_LABEL = "jietiao.test"


def containers_unavailable(reason: str) -> NoReturn:
    """Skip a container test, or fail it where containers are required.

    ``make test-containers`` sets ``JIETIAO_REQUIRE_CONTAINERS=1``: there a missing
    daemon, tool or image is a broken run, not a reason to pass quietly.
    """
    import pytest

    if os.environ.get("JIETIAO_REQUIRE_CONTAINERS") == "1":
        pytest.fail(f"containers are required here: {reason}")
    pytest.skip(reason)


def _docker_container(image: str, command: list[str]) -> Any:
    """A generic testcontainers container on the host's network, without the reaper.

    The reaper (Ryuk) image would have to be pulled from a registry; containers are
    removed by :meth:`stop` instead, and carry a label for a sweep after the run.
    """
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer

    return (
        DockerContainer(image)
        .with_command(command)
        .with_kwargs(network_mode="host", labels={CONTAINER_LABEL: "1"})
    )


def _stop_container(container: Any) -> None:
    if container is not None:
        with contextlib.suppress(Exception):
            container.stop()


class ContainerPostgres(LocalPostgres):
    """PostgreSQL in a container (``JIETIAO_TEST_POSTGRES_IMAGE``), same interface."""

    def __init__(self, image: str | None = None) -> None:
        super().__init__()
        self.image = image or os.environ.get(
            "JIETIAO_TEST_POSTGRES_IMAGE", "jietiao/postgres:latest"
        )
        self._container: Any = None

    def start(self) -> "ContainerPostgres":
        """Start the container and wait until PostgreSQL accepts connections."""
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        ready = LogMessageWaitStrategy("ready to accept connections").with_startup_timeout(60)
        self._container = _docker_container(self.image, postgres_args(self.port)).waiting_for(ready)
        try:
            self._container.start()
            wait_for_port(self.port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Remove the container and its data."""
        _stop_container(self._container)
        self._container = None
        shutil.rmtree(self.folder, ignore_errors=True)


class ContainerNats(LocalNats):
    """A JetStream NATS server in a container (``JIETIAO_TEST_NATS_IMAGE``), same interface."""

    def __init__(self, image: str | None = None) -> None:
        super().__init__()
        self.image = image or os.environ.get("JIETIAO_TEST_NATS_IMAGE", "jietiao/nats:latest")
        self._container: Any = None

    def start(self) -> "ContainerNats":
        """Start the container and wait until JetStream is ready."""
        command = [
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--http_port", str(self.monitor_port),
            "--jetstream",
            "--store_dir", "/data",
            "--server_name", "jietiao-test",
        ]  # fmt: skip
        self._container = _docker_container(self.image, command)
        try:
            self._container.start()
            wait_for_port(self.port, 60)
            _wait_http(f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Remove the container and its data."""
        _stop_container(self._container)
        self._container = None
        shutil.rmtree(self.folder, ignore_errors=True)


def servers_mode() -> str:
    """``wheels`` (default) or ``containers``, from ``JIETIAO_TEST_SERVERS``."""
    mode = os.environ.get("JIETIAO_TEST_SERVERS", "wheels").strip().lower() or "wheels"
    if mode not in ("wheels", "containers"):
        raise RuntimeError(f"JIETIAO_TEST_SERVERS must be wheels or containers, not {mode!r}")
    return mode


def make_postgres() -> LocalPostgres:
    """The PostgreSQL server the test mode asks for (not started)."""
    return ContainerPostgres() if servers_mode() == "containers" else LocalPostgres()


def make_nats() -> LocalNats:
    """The NATS server the test mode asks for (not started)."""
    return ContainerNats() if servers_mode() == "containers" else LocalNats()


class BackingServers:
    """PostgreSQL and NATS together, for a suite that needs both."""

    def __init__(self, postgres: LocalPostgres, nats_server: LocalNats) -> None:
        self.postgres = postgres
        self.nats = nats_server

    @property
    def nats_url(self) -> str:
        """Where tests reach NATS."""
        return self.nats.url

    def database_url(self, name: str) -> str:
        """A SQLAlchemy URL for database ``name``."""
        return self.postgres.database_url(name)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {seconds}s")


class TestTokenIssuer:
    """Issues session tokens the way identity does, for tests of other services."""

    __test__ = False

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex[:16]
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    @property
    def jwks_url(self) -> str:
        """Where services fetch this issuer's key set."""
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": x,
                    "kid": self.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                }
            ]
        }

    def token(self, phone: str, account_id: str | None = None, ttl: int = 3600) -> str:
        """A session token for ``phone``."""
        now = int(time.time())
        claims = {
            "iss": "jietiao-identity",
            "aud": "jietiao",
            "sub": account_id or str(uuid.uuid4()),
            "phone": phone,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def start(self) -> "TestTokenIssuer":
        """Serve the key set on 127.0.0.1 in a background thread."""
        body = json.dumps(self.jwks()).encode()
        self._server = serve_json_gets(lambda _path: (200, body), port=self.port)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self._server)


async def wait_until(check: Any, seconds: float = 20.0, interval: float = 0.1) -> Any:
    """Await ``check()`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"condition not met within {seconds}s (last value: {last!r})")


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> Any:
    """Serve an ASGI app (lifespan included) on 127.0.0.1:``port`` for a block."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), seconds=30)
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def service_env(
    monkeypatch: Any,
    servers: "BackingServers",
    database: str,
    issuer: "TestTokenIssuer | None" = None,
    **extra: str,
) -> None:
    """Point a service's settings at the test servers through its environment."""
    monkeypatch.setenv("JIETIAO_NATS_URL", servers.nats_url)
    monkeypatch.setenv("JIETIAO_DATABASE_URL", servers.database_url(database))
    if issuer is not None:
        monkeypatch.setenv("JIETIAO_JWKS_URL", issuer.jwks_url)
    for key, value in extra.items():
        monkeypatch.setenv(f"JIETIAO_{key.upper()}", value)


def _ports_free(base: int) -> bool:
    """Whether the block of 100 ports a stack may use (replicas, NATS cluster) is free."""
    for offset in range(100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", base + offset))
            except OSError:
                return False
    return True


def free_base_port() -> int:
    """A base port whose whole block of stack ports is free right now.

    Chosen below 32768 so that it does not collide with the kernel's ephemeral
    ports, which outgoing connections take.
    """
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20000, 32000, 100)
        if _ports_free(base):
            return base
    raise RuntimeError("no free block of ports for a test stack")


class StackLog:
    """Keeps a stack's output in a file instead of the test output."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(exist_ok=True)
        self.file = path.open("a", encoding="utf-8")

    def __call__(self, name: str, line: str) -> None:
        self.file.write(f"{name:<10}| {line}\n")
        self.file.flush()


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client gave up waiting (slow answers do that on purpose)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class _JsonHandler(BaseHTTPRequestHandler):
    """Answers with what the server's ``answer`` gives, as JSON."""

    server: "_JsonServer"

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.server.gets is None:
            self._reply(405, b"{}")
        else:
            self._reply(*self.server.gets(self.path))

    def do_POST(self) -> None:
        if self.server.posts is None:
            self._reply(405, b"{}")
            return
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self._reply(*self.server.posts(dict(self.headers.items()), body))

    def log_message(self, *args: Any) -> None:
        return


class _JsonServer(_QuietServer):
    gets: Any = None
    posts: Any = None


def _serve_json(port: int, *, gets: Any = None, posts: Any = None) -> ThreadingHTTPServer:
    server = _JsonServer(("127.0.0.1", port), _JsonHandler)
    server.gets, server.posts = gets, posts
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_json_posts(answer: Any) -> ThreadingHTTPServer:
    """A fake provider on a free 127.0.0.1 port: ``answer(headers, body)`` gives
    ``(status, json_bytes)`` for every POST. Stop it with :func:`stop_server`."""
    return _serve_json(0, posts=answer)


def serve_json_gets(answer: Any, port: int = 0) -> ThreadingHTTPServer:
    """A fake server on 127.0.0.1 (``port``, or a free one): ``answer(path)`` gives
    ``(status, json_bytes)`` for every GET. Stop it with :func:`stop_server`."""
    return _serve_json(port, gets=answer)


def stop_server(server: ThreadingHTTPServer | None) -> None:
    """Stop a fake server started by :func:`serve_json_posts` or :func:`serve_json_gets`."""
    if server is not None:
        server.shutdown()
        server.server_close()
