"""Real servers and test keys for the test suites of every service.

:class:`BackingServers` starts PostgreSQL and NATS from their wheels on free
loopback ports in a throw-away folder, so tests never touch a running platform.
:class:`TestTokenIssuer` plays identity's part for services tested alone: it signs
session tokens with its own Ed25519 key and serves the key set over HTTP.
"""

import asyncio
import base64
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


class BackingServers:
    """PostgreSQL and a JetStream NATS server for one test session."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="jietiao-test-"))
        self.pg_port = free_port()
        self.nats_port = free_port()
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def nats_url(self) -> str:
        """Where tests reach NATS."""
        return f"nats://127.0.0.1:{self.nats_port}"

    def database_url(self, name: str) -> str:
        """A SQLAlchemy URL for database ``name`` (created by migrate)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/{name}"

    def start(self) -> "BackingServers":
        """Start both servers and wait until they accept connections."""
        command, user = prepare_postgres(self.folder)
        log = (self.folder / "postgres.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                command + postgres_args(self.pg_port), stdout=log, stderr=log,
                **run_as_kwargs(user),  # type: ignore[arg-type]
                start_new_session=True,
            )
        )
        monitor = free_port()
        nats_log = (self.folder / "nats.log").open("wb")
        self._processes.append(
            subprocess.Popen(
                nats_command(self.folder, self.nats_port, monitor),
                stdout=nats_log, stderr=nats_log, start_new_session=True,
            )
        )
        wait_for_port(self.pg_port)
        wait_for_port(self.nats_port)
        _wait_http(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true")
        time.sleep(0.3)
        return self

    def stop(self) -> None:
        """Stop both servers and remove their data."""
        for process in reversed(self._processes):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


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
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid,
                          "alg": "EdDSA", "use": "sig"}]}

    def token(self, phone: str, account_id: str | None = None, ttl: int = 3600) -> str:
        """A session token for ``phone``."""
        now = int(time.time())
        claims = {"iss": "jietiao-identity", "aud": "jietiao",
                  "sub": account_id or str(uuid.uuid4()), "phone": phone,
                  "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def start(self) -> "TestTokenIssuer":
        """Serve the key set on 127.0.0.1 in a background thread."""
        body = json.dumps(self.jwks()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


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
