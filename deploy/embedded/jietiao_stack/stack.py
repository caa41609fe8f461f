"""Start and stop the whole platform as separate local processes.

Order: PostgreSQL and NATS, then the streams (one explicit step), then each
service's database migrations, then the services (identity first: the others
fetch its key set), the gateway last. Every child runs in its own session so that
Ctrl-C reaches only the launcher, which stops the children in reverse order.
"""

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from .servers import (
    check_port_free,
    nats_command,
    postgres_args,
    prepare_postgres,
    run_as_kwargs,
)

SERVICES = ["identity", "agreements", "signing", "notify", "documents", "gateway"]
PORT_OFFSETS = {
    "gateway": 0,
    "agreements": 1,
    "identity": 2,
    "signing": 3,
    "notify": 4,
    "documents": 5,
    "postgres": 10,
    "nats": 11,
    "nats-monitor": 12,
}
COLOURS = {
    "postgres": 34,
    "nats": 36,
    "identity": 35,
    "agreements": 32,
    "signing": 33,
    "notify": 31,
    "documents": 94,
    "gateway": 96,
    "stack": 37,
}

Printer = Callable[[str, str], None]


def console_printer(name: str, line: str) -> None:
    """Print a child's line prefixed by its name (coloured on a terminal)."""
    label = f"{name:<10}|"
    if sys.stdout.isatty():
        label = f"\033[{COLOURS.get(name, 37)}m{label}\033[0m"
    sys.stdout.write(f"{label} {line}\n")
    sys.stdout.flush()


@dataclass
class StackConfig:
    """Where the stack keeps its data and which ports it takes."""

    data_dir: Path
    base_port: int = 8100
    log_format: str = "text"
    extra_env: dict[str, str] = field(default_factory=dict)
    nats_nodes: int = 1
    replicas: int = 1

    def port(self, name: str, replica: int = 0) -> int:
        """The port of one part of the stack (of one replica of a service)."""
        return self.base_port + PORT_OFFSETS[name] + (20 + 10 * (replica - 1) if replica else 0)

    def url(self, service: str, replica: int = 0) -> str:
        """The HTTP base URL of one service (replica)."""
        return f"http://127.0.0.1:{self.port(service, replica)}"

    def urls(self, service: str) -> str:
        """Every replica's base URL, comma-separated."""
        return ",".join(self.url(service, r) for r in range(self.replicas))

    def nats_port(self, node: int) -> int:
        """Client port of one NATS node (node 0 is the single server's port)."""
        return self.port("nats") if node == 0 else self.base_port + 40 + 3 * node

    def nats_monitor_port(self, node: int) -> int:
        """Monitoring port of one NATS node."""
        return self.port("nats-monitor") if node == 0 else self.nats_port(node) + 1

    def nats_route_ports(self) -> list[int]:
        """Cluster route ports, one per node."""
        return [self.base_port + 50 + n for n in range(self.nats_nodes)]

    def nats_name(self, node: int) -> str:
        """The child name of one NATS node."""
        return "nats" if self.nats_nodes == 1 else f"nats-{node}"

    @property
    def nats_url(self) -> str:
        """Where the services reach NATS: every node, comma-separated."""
        return ",".join(f"nats://127.0.0.1:{self.nats_port(n)}" for n in range(self.nats_nodes))

    def child_name(self, service: str, replica: int) -> str:
        """The child name of one replica of a service."""
        return service if replica == 0 else f"{service}-{replica + 1}"

    def database_url(self, service: str) -> str:
        """The service's own database on the shared embedded server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port('postgres')}/jietiao_{service}"

    def operator_token(self) -> str:
        """The operator token, made once and kept in the data folder."""
        path = self.data_dir / "operator-token"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def data_keys(self) -> str:
        """Agreements' data keys for ``JIETIAO_DATA_KEYS``, made once, kept in the data folder.

        The file holds one ``kid:base64key`` per line. To rotate, add a new line at
        the top and keep the old ones below it: the first encrypts, all decrypt.
        """
        path = self.data_dir / "data-key"
        if not path.exists():
            kid = "k" + time.strftime("%Y%m%d")
            path.write_text(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n")
            path.chmod(0o600)
        return ",".join(line.strip() for line in path.read_text().splitlines() if line.strip())

    def lookup_key(self) -> str:
        """Agreements' HMAC key for ``JIETIAO_LOOKUP_KEY``, made once, kept in the data folder."""
        path = self.data_dir / "lookup-key"
        if not path.exists():
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()


@dataclass
class Child:
    """One running process and the task copying its output."""

    name: str
    process: asyncio.subprocess.Process
    reader: asyncio.Task[None]


class Stack:
    """The platform's processes, started and stopped together."""

    def __init__(self, config: StackConfig, printer: Printer = console_printer) -> None:
        self.config = config
        self.printer = printer
        self.children: list[Child] = []
        self._spawned: dict[str, tuple[list[str], dict[str, str] | None, str | None]] = {}

    def service_env(self, service: str, replica: int = 0) -> dict[str, str]:
        """Environment of one service process: only ``JIETIAO_*`` settings."""
        c = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIETIAO_")}
        env.update(
            {
                "JIETIAO_SERVICE_NAME": service,
                "JIETIAO_HTTP_HOST": "127.0.0.1",
                "JIETIAO_HTTP_PORT": str(c.port(service, replica)),
                "JIETIAO_NATS_URL": c.nats_url,
                "JIETIAO_DATABASE_URL": c.database_url(service),
                "JIETIAO_JWKS_URL": ",".join(
                    u + "/.well-known/jwks.json" for u in c.urls("identity").split(",")
                ),
                "JIETIAO_OPERATOR_TOKEN": c.operator_token(),
                "JIETIAO_LOG_FORMAT": c.log_format,
                "JIETIAO_PUBLIC_URL": c.url("gateway"),
                "JIETIAO_DATA_DIR": str(c.data_dir / service),
                "JIETIAO_STREAM_REPLICAS": str(min(3, c.nats_nodes)),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for peer in SERVICES:
            env[f"JIETIAO_{peer.upper()}_URL"] = c.urls(peer)
        if service == "agreements":
            env["JIETIAO_DATA_KEYS"] = c.data_keys()
            env["JIETIAO_LOOKUP_KEY"] = c.lookup_key()
        env.update(c.extra_env)
        return env

    async def start(self) -> None:
        """Start everything and wait until every service answers ``/healthz``."""
        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        check_port_free(c.port("postgres"), "postgres")
        if c.nats_nodes > 1:
            for node, route in enumerate(c.nats_route_ports()):
                check_port_free(route, c.nats_name(node) + " routes")
        for node in range(c.nats_nodes):
            check_port_free(c.nats_port(node), c.nats_name(node))
            check_port_free(c.nats_monitor_port(node), c.nats_name(node) + " monitoring")
        for service in SERVICES:
            for replica in range(c.replicas):
                check_port_free(c.port(service, replica), c.child_name(service, replica))
        try:
            await self._start_postgres()
            await self._start_nats()
            await self._provision()
            await asyncio.gather(*(self._run_step(f"migrate {s}", s, "migrate") for s in SERVICES))
            for service in SERVICES:
                for replica in range(c.replicas):
                    await self._spawn(
                        c.child_name(service, replica),
                        [sys.executable, "-m", service, "serve"],
                        self.service_env(service, replica),
                    )
                if service == "identity":
                    await self._wait_healthy("identity")
            await asyncio.gather(
                *(
                    self._wait_healthy(c.child_name(s, r))
                    for s in SERVICES
                    for r in range(c.replicas)
                )
            )
            self._write_pids()
        except BaseException:
            await self.stop()
            raise

    def nats_child_names(self) -> list[str]:
        """The children that are NATS nodes."""
        return [self.config.nats_name(n) for n in range(self.config.nats_nodes)]

    def _write_pids(self) -> None:
        """Record each child's pid, for the load script's CPU accounting."""
        pids = {c.name: c.process.pid for c in self.children}
        (self.config.data_dir / "pids.json").write_text(json.dumps(pids))

    async def _start_postgres(self) -> None:
        command, user = await asyncio.to_thread(prepare_postgres, self.config.data_dir)
        await self._spawn(
            "postgres", command + postgres_args(self.config.port("postgres")), user=user
        )
        dsn = f"postgresql://postgres@127.0.0.1:{self.config.port('postgres')}/postgres"
        await _until(lambda: _pg_answers(dsn), "postgres", 30)

    async def _start_nats(self) -> None:
        c = self.config
        cluster = c.nats_nodes > 1
        for node in range(c.nats_nodes):
            command = nats_command(
                c.data_dir,
                c.nats_port(node),
                c.nats_monitor_port(node),
                node=node if cluster else None,
                route_ports=c.nats_route_ports() if cluster else None,
            )
            await self._spawn(c.nats_name(node), command)
        for node in range(c.nats_nodes):
            await self._wait_nats(node)

    async def _wait_nats(self, node: int) -> None:
        port = self.config.nats_monitor_port(node)
        url = f"http://127.0.0.1:{port}/healthz?js-enabled-only=true"
        await _until(lambda: _http_ok(url), self.config.nats_name(node), 60)

    async def _provision(self) -> None:
        """Declare the streams; a new cluster may need a moment to elect its leader."""
        for attempt in range(20):
            try:
                await self._run_step("provision", "agreements", "provision")
                return
            except RuntimeError:
                if attempt == 19:
                    raise
                await asyncio.sleep(1.0)

    async def _run_step(self, label: str, service: str, command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            service,
            command,
            env=self.service_env(service),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        for line in output.decode(errors="replace").splitlines():
            self.printer(service, line)
        if process.returncode != 0:
            raise RuntimeError(f"{label} failed with exit code {process.returncode}")

    async def _spawn(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
    ) -> None:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            **run_as_kwargs(user),
        )
        reader = asyncio.create_task(self._copy_output(name, process))
        self.children.append(Child(name, process, reader))
        self._spawned[name] = (command, env, user)

    async def _copy_output(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            self.printer(name, raw.decode(errors="replace").rstrip())

    async def _wait_healthy(self, service: str) -> None:
        child = next(c for c in self.children if c.name == service)

        async def healthy() -> bool:
            if child.process.returncode is not None:
                raise RuntimeError(f"{service} exited with code {child.process.returncode}")
            return await _http_ok(self._child_url(service) + "/healthz")

        await _until(healthy, service, 60)

    def _child_url(self, name: str) -> str:
        """The HTTP base URL of a service child, by its child name."""
        base, _, number = name.rpartition("-")
        if number.isdigit() and base in SERVICES:
            return self.config.url(base, int(number) - 1)
        return self.config.url(name)

    def exited(self) -> list[str]:
        """Names of children that are no longer running."""
        return [c.name for c in self.children if c.process.returncode is not None]

    async def stop(self, grace_seconds: float = 15.0) -> None:
        """Stop the children in reverse order of start; kill what does not stop."""
        for child in reversed(self.children):
            if child.process.returncode is None:
                sig = signal.SIGINT if child.name == "postgres" else signal.SIGTERM
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(sig)
                try:
                    await asyncio.wait_for(child.process.wait(), grace_seconds)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
                    await child.process.wait()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(child.reader, 2)
        self.children.clear()

    async def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one child (a service, ``nats`` or ``postgres``) and reap it."""
        child = next(c for c in self.children if c.name == name)
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(sig)
        await child.process.wait()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(child.reader, 2)
        self.children.remove(child)

    async def respawn(self, name: str) -> None:
        """Start a killed child again as it was first started, and wait until it is up."""
        command, env, user = self._spawned[name]
        await self._spawn(name, command, env, user)
        if name == "postgres":
            dsn = f"postgresql://postgres@127.0.0.1:{self.config.port('postgres')}/postgres"
            await _until(lambda: _pg_answers(dsn), "postgres", 60)
        elif name in self.nats_child_names():
            await self._wait_nats(self.nats_child_names().index(name))
        else:
            await self._wait_healthy(name)

    async def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop one child with ``sig`` and start it again (used by fault tests)."""
        await self.kill(name, sig)
        await self.respawn(name)


async def _until(
    check: Callable[[], "asyncio.Future[bool] | object"], what: str, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} did not become ready within {seconds:.0f}s")


async def _http_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _pg_answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True
