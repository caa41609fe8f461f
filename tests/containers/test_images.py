"""A service image starts and answers ``/healthz``, as a user other than root.

Needs a Docker daemon in ``DOCKER_HOST`` and the image ``JIETIAO_TEST_SERVICE_IMAGE``
(default ``jietiao/gateway:latest``, made by ``deploy/docker/build.sh``); skipped
otherwise. The gateway needs neither NATS nor PostgreSQL to be healthy.
"""

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jietiao_stack.testing import CONTAINER_LABEL, containers_unavailable, free_port

pytestmark = pytest.mark.containers

IMAGE = os.environ.get("JIETIAO_TEST_SERVICE_IMAGE", "jietiao/gateway:latest")


def _docker_client() -> Any:
    if not os.environ.get("DOCKER_HOST"):
        containers_unavailable("DOCKER_HOST is not set: no Docker daemon to run the images on")
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        containers_unavailable(
            f"no live Docker daemon at DOCKER_HOST={os.environ['DOCKER_HOST']}: {exc}"
        )
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        containers_unavailable(f"image {IMAGE} is missing: run deploy/docker/build.sh services")
    return client


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[Any, int]]:
    client = _docker_client()
    port = free_port()
    container = client.containers.run(
        IMAGE,
        detach=True,
        network_mode="host",
        labels={CONTAINER_LABEL: "1"},
        environment={"JIETIAO_HTTP_HOST": "127.0.0.1", "JIETIAO_HTTP_PORT": str(port)},
    )
    try:
        yield container, port
    finally:
        container.remove(force=True)


def test_answers_healthz(service: tuple[Any, int]) -> None:
    container, port = service
    deadline = time.monotonic() + 60
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            if response.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        container.reload()
        assert container.status == "running", container.logs().decode(errors="replace")
        assert time.monotonic() < deadline, "no answer on /healthz within 60 s"
        time.sleep(0.2)


def test_runs_as_non_root(service: tuple[Any, int]) -> None:
    container, _ = service
    assert container.image.attrs["Config"]["User"] not in ("", "root", "0", "0:0")
    code, output = container.exec_run(["python", "-c", "import os; print(os.getuid())"])
    assert code == 0
    assert int(output.decode().strip()) != 0


def test_docker_healthcheck_passes(service: tuple[Any, int]) -> None:
    container, _ = service
    deadline = time.monotonic() + 60
    while True:
        container.reload()
        status = container.attrs["State"].get("Health", {}).get("Status")
        if status == "healthy":
            return
        assert status != "unhealthy", container.attrs["State"]["Health"]
        assert time.monotonic() < deadline, f"health status still {status} after 60 s"
        time.sleep(1)
