"""``deploy/compose/compose.yaml`` brought up as written, then used as people would.

The whole file runs under ``docker-compose`` (1.29 or later; ``docker compose`` v2
reads it too) on the Docker daemon in ``DOCKER_HOST``, with the images of
``deploy/docker/build.sh``: three clustered NATS nodes, PostgreSQL, the provision
and migrate steps, and the six services on their fixed ports (8100 and up), under
a project name of its own so its volumes start empty. Every IOU ending is driven
through the gateway and checked against its effects; then one NATS node is
stopped and IOUs still run, since the streams keep three replicas. Skipped when
there is no daemon, no compose tool or no images.
"""

import asyncio
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from jietiao_stack.client import JietiaoApi
from jietiao_stack.scenarios import ENDINGS, drive, settled_problems
from jietiao_stack.testing import containers_unavailable

pytestmark = [pytest.mark.containers, pytest.mark.asyncio(loop_scope="module")]

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "compose.yaml"
SERVICE_PORTS = {
    "gateway": 8100,
    "agreements": 8101,
    "identity": 8102,
    "signing": 8103,
    "notify": 8104,
    "documents": 8105,
}
PORTS = [*SERVICE_PORTS.values(), 8110, 8111, 8112, 8121, 8122, 8131, 8132, 8150, 8151, 8152]
IMAGES = [
    "jietiao/nats",
    "jietiao/postgres",
    *(f"jietiao/{service}" for service in SERVICE_PORTS),
]


@dataclass
class Project:
    """One compose project: its name and the environment its variables come from."""

    name: str
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600) -> str:
        command = ["docker-compose", "-p", self.name, "-f", str(COMPOSE_FILE), *args]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def _compose_or_skip() -> None:
    if not os.environ.get("DOCKER_HOST"):
        containers_unavailable(
            "DOCKER_HOST is not set: no Docker daemon to run the compose file on"
        )
    if shutil.which("docker-compose") is None:
        containers_unavailable("docker-compose is not installed")
    missing = [
        image
        for image in IMAGES
        if subprocess.run(
            ["docker", "image", "inspect", f"{image}:latest"], capture_output=True, check=False
        ).returncode
    ]
    if missing:
        containers_unavailable(f"images missing ({', '.join(missing)}): run deploy/docker/build.sh")


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _secret_key() -> str:
    return b64encode(secrets.token_bytes(32)).decode()


def _wait_ready(within: float) -> None:
    deadline = time.monotonic() + within
    for service, port in SERVICE_PORTS.items():
        path = "/healthz" if service == "gateway" else "/readyz"
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{service} not ready on port {port}"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    _compose_or_skip()
    taken = [port for port in PORTS if _taken(port)]
    assert not taken, f"the compose file's fixed ports are in use: {taken}"
    env = {
        **os.environ,
        "JIETIAO_OPERATOR_TOKEN": secrets.token_urlsafe(32),
        "JIETIAO_PG_PASSWORD": secrets.token_hex(16),
        "JIETIAO_DATA_KEYS": f"k1:{_secret_key()}",
        "JIETIAO_LOOKUP_KEY": _secret_key(),
    }
    up = Project(f"jietiao-test-{uuid.uuid4().hex[:8]}", env)
    try:
        up.run("up", "-d")
        _wait_ready(within=240)
        yield up
    finally:
        Path("artifacts").mkdir(exist_ok=True)
        Path("artifacts/compose.log").write_text(up.run("logs", "--no-color", "--tail", "40"))
        up.run("down", "-v", "--remove-orphans")


def _api(project: Project) -> JietiaoApi:
    token = project.env["JIETIAO_OPERATOR_TOKEN"]
    return JietiaoApi("http://127.0.0.1:8100", token, retry_seconds=60)


async def test_every_ending_runs_on_the_composed_platform(project: Project) -> None:
    api = _api(project)
    rng = random.Random()
    try:
        records = await asyncio.gather(*(drive(api, ending, rng) for ending in ENDINGS))
        assert await settled_problems(api, records) == {}
    finally:
        await api.close()


async def test_streams_are_replicated_on_the_three_nats_nodes(project: Project) -> None:
    nc = await nats.connect("nats://127.0.0.1:8111")
    try:
        js = nc.jetstream()
        for stream in ("JIETIAO_EVENTS", "JIETIAO_COMMANDS", "JIETIAO_DEAD_LETTERS"):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == 2, stream
    finally:
        await nc.close()


async def test_iou_lifecycles_go_on_with_one_nats_node_stopped(project: Project) -> None:
    project.run("stop", "nats-2")
    api = _api(project)
    try:
        rng = random.Random()
        records = [await drive(api, ending, rng) for ending in ("voided", "refused")]
        assert await settled_problems(api, records) == {}
    finally:
        await api.close()
        project.run("start", "nats-2")
