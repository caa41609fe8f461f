"""The Kubernetes manifests run as a kubelet would run them, minus the cluster network.

No cluster is needed: each Job and Deployment of ``deploy/k8s`` becomes one container
on the Docker daemon in ``DOCKER_HOST``, made from its pod spec as written: the
image, command, user and group, read-only root filesystem, dropped capabilities,
no privilege escalation, memory and CPU limits, every ``emptyDir`` as a fresh
folder (world-writable, owned by the fsGroup), and the environment from the
ConfigMap, the Secret and the ``env`` list. Only what the cluster's network would
provide is replaced: the services listen on 127.0.0.1 on ports of their own
instead of each pod's 8080, peers and NATS are found at those addresses instead of
by DNS, streams keep one replica on the one test NATS server, the Secret's
placeholders get fresh values, and each Deployment runs one replica. The Jobs run
to completion in file order (provision, then each migration), the Deployments must
pass their readiness probes, and an IOU is then taken from creation to voided
through the gateway with every effect checked.
"""

import os
import random
import re
import secrets
import shutil
import tempfile
import time
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jietiao_stack.client import JietiaoApi
from jietiao_stack.scenarios import drive, settled_problems
from jietiao_stack.testing import (
    CONTAINER_LABEL,
    BackingServers,
    containers_unavailable,
    free_base_port,
)

pytestmark = pytest.mark.containers

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SERVICES = ["identity", "agreements", "signing", "notify", "documents", "gateway"]
URL_SETTINGS = {f"JIETIAO_{service.upper()}_URL": service for service in SERVICES[:-1]}


def _documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _quantity_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]i)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}[unit]


def _quantity_cpus(value: str) -> float:
    return int(value[:-1]) / 1000 if value.endswith("m") else float(value)


class Cluster:
    """The manifests' objects, the local stand-ins for the network, and the containers."""

    def __init__(self, docker: Any, servers: BackingServers, base_port: int) -> None:
        self.docker = docker
        self.objects = _documents()
        self.ports = {service: base_port + n for n, service in enumerate(SERVICES)}
        self.servers = servers
        self.operator_token = secrets.token_urlsafe(32)
        self.containers: list[Any] = []
        self.folders: list[Path] = []
        config = self.one("ConfigMap", "jietiao-common")["data"]
        self.config_maps = {"jietiao-common": self._local_config(config)}
        self.secrets = {"jietiao-secrets": self._local_secrets()}

    def one(self, kind: str, name: str) -> dict[str, Any]:
        (found,) = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        return found

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def _local_config(self, data: dict[str, str]) -> dict[str, str]:
        local = dict(data)
        local["JIETIAO_HTTP_HOST"] = "127.0.0.1"
        local["JIETIAO_NATS_URL"] = self.servers.nats_url
        local["JIETIAO_STREAM_REPLICAS"] = "1"
        local["JIETIAO_JWKS_URL"] = f"{self.url('identity')}/.well-known/jwks.json"
        local["JIETIAO_PUBLIC_URL"] = self.url("gateway")
        for setting, service in URL_SETTINGS.items():
            assert setting in local, f"the ConfigMap has no {setting}"
            local[setting] = self.url(service)
        return local

    def _local_secrets(self) -> dict[str, str]:
        placeholders = self.one("Secret", "jietiao-secrets")["stringData"]
        key = b64encode(secrets.token_bytes(32)).decode()
        values = {
            "JIETIAO_OPERATOR_TOKEN": self.operator_token,
            "JIETIAO_DATA_KEYS": f"k1:{key}",
            "JIETIAO_LOOKUP_KEY": b64encode(secrets.token_bytes(32)).decode(),
        }
        for name in placeholders:
            if name.endswith("_DATABASE_URL"):
                service = name.removesuffix("_DATABASE_URL").lower()
                values[name] = self.servers.database_url(f"k8s_{service}")
        assert set(values) == set(placeholders), "a Secret key without a test value"
        return values

    def _environment(self, container: dict[str, Any], service: str) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env.update(self.config_maps[source["configMapRef"]["name"]])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item["valueFrom"]
            if "secretKeyRef" in ref:
                env[item["name"]] = self.secrets[ref["secretKeyRef"]["name"]][
                    ref["secretKeyRef"]["key"]
                ]
            else:
                key_ref = ref["configMapKeyRef"]
                env[item["name"]] = self.config_maps[key_ref["name"]][key_ref["key"]]
        env["JIETIAO_HTTP_PORT"] = str(self.ports[service])
        return env

    def run(self, pod: dict[str, Any], *, detach: bool) -> Any:
        """One pod's single container, as its spec says."""
        (container,) = pod["containers"]
        pod_security = pod.get("securityContext", {})
        security = container.get("securityContext", {})
        image = container["image"]
        service = image.rsplit("/", 1)[1].split(":")[0]
        limits = container.get("resources", {}).get("limits", {})
        declared = {v["name"]: v for v in pod.get("volumes", [])}
        volumes = {}
        for mount in container.get("volumeMounts", []):
            assert "emptyDir" in declared[mount["name"]], "only emptyDir volumes are expected"
            volumes[self._empty_dir(pod_security.get("fsGroup"))] = {
                "bind": mount["mountPath"],
                "mode": "rw",
            }
        command = container.get("command")
        options: dict[str, Any] = {
            "user": f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
            "read_only": security.get("readOnlyRootFilesystem", False),
            "cap_drop": security.get("capabilities", {}).get("drop", []),
            "security_opt": (
                ["no-new-privileges"] if security.get("allowPrivilegeEscalation") is False else []
            ),
            "volumes": volumes,
            "mem_limit": _quantity_bytes(limits["memory"]),
            "nano_cpus": int(_quantity_cpus(limits["cpu"]) * 1e9),
            "environment": self._environment(container, service),
            "network_mode": "host",
            "labels": {CONTAINER_LABEL: "1"},
        }
        if command:
            options["entrypoint"] = command[:1]
            options["command"] = command[1:] + container.get("args", [])
        started = self.docker.containers.run(f"jietiao/{service}:latest", detach=True, **options)
        self.containers.append(started)
        if not detach:
            outcome = started.wait(timeout=180)
            logs = started.logs().decode(errors="replace")
            assert outcome["StatusCode"] == 0, f"{container['name']} failed:\n{logs}"
        return started

    def _empty_dir(self, fs_group: int | None) -> str:
        """A fresh folder as the kubelet makes an emptyDir: world-writable, fsGroup-owned."""
        folder = Path(tempfile.mkdtemp(prefix="jietiao-emptydir-"))
        self.folders.append(folder)
        if fs_group is not None:
            os.chown(folder, 0, fs_group)
        folder.chmod(0o2777)
        return str(folder)

    def wait_ready(self, deployment: dict[str, Any], container: Any, within: float) -> None:
        (spec,) = deployment["spec"]["template"]["spec"]["containers"]
        service = deployment["metadata"]["name"]
        url = f"{self.url(service)}{spec['readinessProbe']['httpGet']['path']}"
        deadline = time.monotonic() + within
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            container.reload()
            logs = container.logs().decode(errors="replace")
            assert container.status == "running", f"{service} stopped:\n{logs}"
            assert time.monotonic() < deadline, f"{service} never ready at {url}:\n{logs}"
            time.sleep(0.3)

    def remove_all(self) -> None:
        for container in self.containers:
            container.remove(force=True)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


def _docker_client() -> Any:
    if not os.environ.get("DOCKER_HOST"):
        containers_unavailable("DOCKER_HOST is not set: no Docker daemon to run the pods on")
    import docker

    client = docker.from_env()
    for service in SERVICES:
        try:
            client.images.get(f"jietiao/{service}:latest")
        except docker.errors.ImageNotFound:
            containers_unavailable(f"image jietiao/{service} missing: run deploy/docker/build.sh")
    return client


@pytest.fixture(scope="module")
def cluster(backing_servers: BackingServers) -> Iterator[Cluster]:
    here = Cluster(_docker_client(), backing_servers, free_base_port())
    try:
        for job in here.of_kind("Job"):
            here.run(job["spec"]["template"]["spec"], detach=False)
        running = [
            (deployment, here.run(deployment["spec"]["template"]["spec"], detach=True))
            for deployment in here.of_kind("Deployment")
        ]
        for deployment, container in running:
            here.wait_ready(deployment, container, within=120)
        yield here
    finally:
        here.remove_all()


def test_every_service_has_a_deployment_and_every_database_a_migration(
    cluster: Cluster,
) -> None:
    deployed = {d["metadata"]["name"] for d in cluster.of_kind("Deployment")}
    assert deployed == set(SERVICES)
    migrated = {
        j["spec"]["template"]["spec"]["containers"][0]["command"][2]
        for j in cluster.of_kind("Job")
        if j["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "migrate"
    }
    assert migrated == set(SERVICES) - {"gateway"}


@pytest.mark.asyncio(loop_scope="module")
async def test_an_iou_runs_to_voided_on_the_pods(cluster: Cluster) -> None:
    api = JietiaoApi(cluster.url("gateway"), cluster.operator_token, retry_seconds=60)
    try:
        record = await drive(api, "voided", random.Random())
        assert await settled_problems(api, [record]) == {}
    finally:
        await api.close()


def test_the_daemon_applied_the_pods_restrictions(cluster: Cluster) -> None:
    for container in cluster.containers:
        container.reload()
        if container.status != "running":
            continue
        config = container.attrs["HostConfig"]
        assert config["ReadonlyRootfs"] is True
        assert config["CapDrop"] == ["ALL"]
        assert config["Memory"] > 0
        assert container.attrs["Config"]["User"].startswith("10001")
