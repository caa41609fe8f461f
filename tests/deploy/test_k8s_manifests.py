"""Static checks of the Kubernetes manifests in ``deploy/k8s/``, without a cluster.

A manifest can be well-formed YAML and still deploy a platform that does not work: a
misspelt field is dropped by a lenient client, a misspelt ``JIETIAO_*`` variable is
ignored by the settings (they use ``extra="ignore"``, so the default silently stays in
force), a probe can aim at a port or path nobody serves. These tests compare the
manifests with the code they deploy:

1. Schema: every document validates against the Kubernetes schema of the newest version
   ``kubernetes_validate`` ships, in strict mode (unknown fields are errors); duplicate
   YAML keys, which PyYAML would silently collapse to the last one, are errors too.
2. Settings: every ``env`` name of a container is a field of the settings class of the
   service in its image (as pydantic-settings maps it: env prefix + field name, or the
   field's alias); every key of a ConfigMap or Secret loaded with ``envFrom`` is a setting
   of at least one service.
3. References: every ``secretKeyRef``, ``configMapKeyRef``, ``envFrom`` source and
   ConfigMap/Secret volume names an object defined in these manifests, in the pod's
   namespace, holding the key asked for.
4. Wiring: every Service selects the pods of exactly one Deployment and targets a port a
   container declares; probe and Prometheus scrape ports are declared container ports;
   probe and scrape paths are routes the service's app serves (the app is built from the
   service's own ``build_spec`` with ``create_app``, never started); the app listens on a
   non-loopback address and a declared port (``JIETIAO_HTTP_HOST``/``_PORT`` as the container sees
   them: image ENV, then ``envFrom``, then ``env``, else the settings default).
5. Commands: ``[python, -m, <svc>, <verb>]`` names the service in the container's image and
   a verb its command line accepts (``jietiao_shared.service.main`` plus any verb the
   service's ``__main__`` handles itself).
6. Images: ``<registry>/jietiao/<svc>:<tag>`` with ``<svc>`` a service
   ``deploy/docker/build.sh`` builds; pods run as the uid (and gid) the final stage of
   ``deploy/docker/Dockerfile`` sets with ``USER``.

The checks take the paths below; to see one fail, run this file from a copy of the
repository layout whose ``deploy/k8s`` was changed.
"""

import ast
import base64
import dataclasses
import functools
import importlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from jietiao_shared.service import ServiceSpec, create_app
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings
from starlette.routing import Match

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
BUILD_SH = REPO / "deploy" / "docker" / "build.sh"
SERVICE_PY = REPO / "shared" / "jietiao_shared" / "service.py"
SERVICES_DIR = REPO / "services"

K8S_VERSION = kubernetes_validate.latest_version()
IMAGE_RE = re.compile(r"^\S+/jietiao/(?P<service>[a-z0-9][a-z0-9_-]*):(?P<tag>[\w][\w.-]{0,127})$")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

Obj = dict[str, Any]


# --- Loading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """One YAML document of one file in the manifests folder."""

    file: str
    index: int
    body: Obj = dataclasses.field(repr=False)
    duplicate_keys: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return str(self.body.get("kind"))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name"))

    @property
    def namespace(self) -> str:
        return str((self.body.get("metadata") or {}).get("namespace") or "default")

    def __str__(self) -> str:
        return f"{self.file}#{self.index}:{self.kind}/{self.name}"


def _duplicate_keys(node: Any) -> Iterator[str]:
    """Keys given twice in one mapping of a composed YAML document."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield f"duplicate key {key.value!r} at line {key.start_mark.line + 1}"
                seen.add(key.value)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def load_manifests(folder: Path) -> list[Manifest]:
    """Every non-empty document of every ``*.yaml`` file in ``folder``, in file order."""
    manifests = []
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        bodies = list(yaml.safe_load_all(text))
        for index, (node, body) in enumerate(zip(nodes, bodies, strict=True)):
            if body is None:
                continue
            if not isinstance(body, dict):
                raise ValueError(f"{path.name}#{index}: a document must be a mapping")
            manifests.append(Manifest(path.name, index, body, tuple(_duplicate_keys(node))))
    return manifests


# Where each kind keeps its pod template (a Pod is its own template).
POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}


@dataclass(frozen=True)
class Workload:
    """A manifest that runs pods, with its pod template."""

    manifest: Manifest
    template: Obj = dataclasses.field(repr=False)

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.template.get("metadata") or {}).get("labels") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict((self.template.get("metadata") or {}).get("annotations") or {})

    @property
    def pod_spec(self) -> Obj:
        return dict(self.template.get("spec") or {})

    @property
    def containers(self) -> list[Obj]:
        """The regular containers (they serve, are probed, are selected by Services)."""
        return list(self.pod_spec.get("containers") or [])

    @property
    def all_containers(self) -> list[Obj]:
        """Regular and init containers (both get env, images and commands)."""
        return list(self.pod_spec.get("initContainers") or []) + self.containers

    def __str__(self) -> str:
        return str(self.manifest)


def workloads(manifests: list[Manifest]) -> list[Workload]:
    found = []
    for manifest in manifests:
        if manifest.kind not in POD_TEMPLATES:
            continue
        template: Any = manifest.body
        for key in POD_TEMPLATES[manifest.kind]:
            template = (template or {}).get(key)
        found.append(Workload(manifest, dict(template or {})))
    return found


def config_data(manifest: Manifest) -> dict[str, str]:
    """The keys and (decoded) values of a ConfigMap or Secret."""
    body = manifest.body
    if manifest.kind == "ConfigMap":
        data = {**(body.get("binaryData") or {}), **(body.get("data") or {})}
        return {key: str(value) for key, value in data.items()}
    encoded = body.get("data") or {}
    data = {key: base64.b64decode(value).decode(errors="replace") for key, value in encoded.items()}
    return {**data, **{key: str(value) for key, value in (body.get("stringData") or {}).items()}}


def config_objects(manifests: list[Manifest]) -> dict[tuple[str, str, str], dict[str, str]]:
    """(kind, namespace, name) -> data, for every ConfigMap and Secret."""
    return {
        (m.kind, m.namespace, m.name): config_data(m)
        for m in manifests
        if m.kind in ("ConfigMap", "Secret")
    }


MANIFESTS = load_manifests(K8S_DIR)
WORKLOADS = workloads(MANIFESTS)
CONFIG = config_objects(MANIFESTS)
K8S_SERVICES = [m for m in MANIFESTS if m.kind == "Service"]


# --- What the code says ---------------------------------------------------------------------


def built_services(build_sh: Path) -> list[str]:
    """The services ``build.sh`` makes an image of (its ``SERVICES=(...)`` array)."""
    found = re.search(r"^SERVICES=\(([^)]*)\)", build_sh.read_text(encoding="utf-8"), re.M)
    assert found, f"{build_sh}: no SERVICES=(...) array"
    return found.group(1).split()


@functools.cache
def service_packages(services_dir: Path) -> list[str]:
    """Service packages: ``services/<name>/<name>/`` with a ``__main__``."""
    return sorted(
        main.parent.name
        for main in services_dir.glob("*/*/__main__.py")
        if main.parent.name == main.parent.parent.name
    )


def dockerfile_final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :] if starts else instructions


def dockerfile_user(dockerfile: Path) -> tuple[int, int | None]:
    """The uid (and gid, when given) the image runs as: the final stage's last ``USER``.

    A user name is resolved through the ``useradd --uid`` that creates it."""
    stage = dockerfile_final_stage(dockerfile)
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users, f"{dockerfile}: the final stage sets no USER (it would run as root)"
    user, _, group = users[-1].partition(":")
    if not user.isdigit():
        runs = " ".join(rest for keyword, rest in stage if keyword == "RUN")
        created = re.search(rf"useradd\b[^;&|]*?--uid[= ](\d+)[^;&|]*?\b{re.escape(user)}\b", runs)
        assert created, f"{dockerfile}: cannot tell the uid of USER {user}"
        user = created.group(1)
    return int(user), int(group) if group.isdigit() else None


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """The ``ENV`` of the final stage (``${...}`` left as written)."""
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_final_stage(dockerfile):
        if keyword != "ENV":
            continue
        words = shlex.split(rest)
        if all("=" in word for word in words):
            for word in words:
                key, _, value = word.partition("=")
                env[key] = value
        else:  # the old form: ENV KEY value with spaces
            env[words[0]] = " ".join(words[1:])
    return env


@functools.cache
def shared_cli_verbs(service_py: Path) -> frozenset[str]:
    """The ``choices`` of the ``command`` argument in ``jietiao_shared.service.main``."""
    tree = ast.parse(service_py.read_text(encoding="utf-8"))
    for function in tree.body:
        if not (isinstance(function, ast.FunctionDef) and function.name == "main"):
            continue
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "command"
            ):
                for keyword in node.keywords:
                    if keyword.arg == "choices":
                        return frozenset(ast.literal_eval(keyword.value))
    raise AssertionError(f"{service_py}: main() has no add_argument('command', choices=...)")


def intercepted_verbs(service: str) -> frozenset[str]:
    """Verbs a service's ``__main__`` handles before ``main`` (``sys.argv[1:2] == ["verify"]``)."""
    main = SERVICES_DIR / service / service / "__main__.py"
    verbs = set()
    for node in ast.walk(ast.parse(main.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and ast.unparse(node.left).startswith("sys.argv"):
            for compared in node.comparators:
                if isinstance(compared, ast.List) and compared.elts:
                    first = compared.elts[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        verbs.add(first.value)
    return frozenset(verbs)


@functools.cache
def service_spec(service: str) -> ServiceSpec:
    """The service as its ``python -m <service>`` builds it (settings from the environment)."""
    spec = importlib.import_module(f"{service}.app").build_spec()
    assert isinstance(spec, ServiceSpec)
    return spec


@functools.cache
def service_app(service: str) -> FastAPI:
    """The service's ASGI app, built but not started (no database, no bus)."""
    app = create_app(service_spec(service))
    assert isinstance(app, FastAPI)
    return app


def serves_get(service: str, path: str) -> bool:
    """Whether a GET of ``path`` reaches a route of the service's app.

    Read from the app itself, not from a list: today every app serves /healthz, /readyz and
    /metrics (``jietiao_shared.service._ops_router``) besides its own API."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path.split("?", 1)[0],
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    routes = service_app(service).router.routes
    return any(route.matches(scope)[0] is Match.FULL for route in routes)


def settings_class(service: str) -> type[BaseSettings]:
    return type(service_spec(service).settings)


@functools.cache
def env_names(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable name -> field name, as pydantic-settings reads them.

    Without an alias a field is read from ``env_prefix + name``; with one (a string,
    ``AliasChoices`` or ``AliasPath``), from the alias, un-prefixed unless
    ``env_prefix_target`` says otherwise. Names are upper-cased unless ``case_sensitive``.
    Nested settings (``env_nested_delimiter``) are not modelled: add them here if used.
    """
    config = settings_cls.model_config
    prefix = config.get("env_prefix") or ""
    target = config.get("env_prefix_target") or "variable"
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    names: dict[str, str] = {}
    for field_name, field in settings_cls.model_fields.items():
        alias = field.validation_alias or field.alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        aliases = [c.path[0] if isinstance(c, AliasPath) else c for c in choices]
        for name in aliases:
            names[(prefix if target in ("alias", "all") else "") + str(name)] = field_name
        if not aliases or by_name:
            names[(prefix if target in ("variable", "all") else "") + field_name] = field_name
    if config.get("case_sensitive"):
        return names
    return {name.upper(): field_name for name, field_name in names.items()}


def setting_of(settings_cls: type[BaseSettings], env_name: str) -> str | None:
    """The field an environment variable sets, or None."""
    names = env_names(settings_cls)
    return names.get(env_name, names.get(env_name.upper()))


def setting_value(settings_cls: type[BaseSettings], env: dict[str, str | None], field: str) -> Any:
    """A field's value in an environment (None: set from a source we cannot read)."""
    value: Any = settings_cls.model_fields[field].default
    for name, env_value in env.items():
        if setting_of(settings_cls, name) == field:
            value = env_value
    return value


def image_service(image: str) -> str | None:
    """The ``<svc>`` of ``<registry>/jietiao/<svc>:<tag>``."""
    match = IMAGE_RE.match(image)
    return match.group("service") if match else None


def container_service(container: Obj) -> str | None:
    """The service package the container's image holds, if it is one."""
    service = image_service(str(container.get("image")))
    return service if service in service_packages(SERVICES_DIR) else None


def container_argv(container: Obj) -> list[str]:
    """What a container runs when it overrides the image's CMD (no ENTRYPOINT in our image)."""
    return [str(word) for word in (container.get("command") or []) + (container.get("args") or [])]


def declared_ports(containers: list[Obj]) -> tuple[dict[str, int], set[int]]:
    """Named container ports -> number, and every declared number."""
    names: dict[str, int] = {}
    numbers: set[int] = set()
    for container in containers:
        for port in container.get("ports") or []:
            number = port.get("containerPort")
            if not isinstance(number, int):
                continue  # the schema test reports it
            numbers.add(number)
            if "name" in port:
                names[str(port["name"])] = number
    return names, numbers


def is_declared(port: object, containers: list[Obj]) -> bool:
    names, numbers = declared_ports(containers)
    return port in names if isinstance(port, str) else port in numbers


def refs(pod_spec: Obj) -> Iterator[tuple[str, str, str | None, str]]:
    """(kind, name, key or None, where) of every ConfigMap/Secret a pod refers to."""
    sources = {"configMapRef": "ConfigMap", "secretRef": "Secret"}
    key_refs = {"configMapKeyRef": "ConfigMap", "secretKeyRef": "Secret"}
    containers = (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
    for container in containers:
        where = f"container {container.get('name')}"
        for source in container.get("envFrom") or []:
            for field, kind in sources.items():
                if field in source:
                    yield kind, source[field].get("name"), None, f"{where} envFrom"
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            for field, kind in key_refs.items():
                if field in value_from:
                    ref = value_from[field]
                    yield kind, ref.get("name"), ref.get("key"), f"{where} env {var.get('name')}"
    for volume in pod_spec.get("volumes") or []:
        where = f"volume {volume.get('name')}"
        projected = (volume.get("projected") or {}).get("sources") or []
        for source in [volume, *projected]:
            for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                ref = source.get(field)
                if ref is not None:
                    name = ref.get("secretName", ref.get("name"))
                    for key in [item.get("key") for item in ref.get("items") or []] or [None]:
                        yield kind, name, key, where


def effective_env(container: Obj, namespace: str) -> dict[str, str | None]:
    """The container's environment: image ENV, then ``envFrom``, then ``env`` (None: unknown)."""
    env: dict[str, str | None] = dict(dockerfile_env(DOCKERFILE))
    for source in container.get("envFrom") or []:
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if field in source:
                data = CONFIG.get((kind, namespace, source[field].get("name")), {})
                env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        value: str | None = None
        if "value" in var:
            value = str(var["value"])
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = (var.get("valueFrom") or {}).get(field)
            if ref:
                value = CONFIG.get((kind, namespace, ref.get("name")), {}).get(ref.get("key"))
        env[var["name"]] = value
    return env


# --- 1. Schema ------------------------------------------------------------------------------


def test_manifests_found() -> None:
    """The folder is where these tests look, and holds the platform's Deployments."""
    assert any(m.kind == "Deployment" for m in MANIFESTS), f"no Deployment in {K8S_DIR}"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=str)
def test_schema_strict(manifest: Manifest) -> None:
    """Kubernetes would accept the object as written, every field known (kubectl --validate)."""
    duplicates = "; ".join(manifest.duplicate_keys)
    assert not duplicates, f"{manifest}: {duplicates}"
    problem = None  # reported outside the except blocks: the schema dump is no help
    try:
        kubernetes_validate.validate(manifest.body, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(document)"
        problem = f"{where}: {error.message} (Kubernetes {error.version}, strict)"
    except kubernetes_validate.SchemaNotFoundError as error:
        problem = error.message
    assert problem is None, f"{manifest}: {problem}"


# --- 2. Settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_env_names_are_settings_of_the_service(workload: Workload) -> None:
    """An explicit env var is read by the settings of the service the container runs."""
    problems = []
    for container in workload.all_containers:
        service = container_service(container)
        if service is None:
            problems.append(f"container {container['name']}: no service package for its image")
            continue
        settings_cls = settings_class(service)
        for var in container.get("env") or []:
            if setting_of(settings_cls, var["name"]) is None:
                problems.append(
                    f"container {container['name']}: {var['name']} is not a setting of "
                    f"{service} ({settings_cls.__name__})"
                )
    assert not problems, f"{workload}:\n" + "\n".join(problems)


def env_from_sources(manifests: list[Manifest]) -> list[Any]:
    """A param (ConfigMap or Secret, prefix) for each distinct ``envFrom`` source."""
    by_key = {(m.kind, m.namespace, m.name): m for m in manifests}
    found: dict[str, Any] = {}
    for workload in workloads(manifests):
        for container in workload.all_containers:
            for source in container.get("envFrom") or []:
                for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    key = (kind, workload.manifest.namespace, source.get(field, {}).get("name"))
                    if field in source and key in by_key:  # a missing one is test 3's
                        prefix = str(source.get("prefix", ""))
                        label = f"{by_key[key]}" + (f" prefix {prefix}" if prefix else "")
                        found[label] = pytest.param(by_key[key], prefix, id=label)
    return list(found.values())


@pytest.mark.parametrize(("source", "prefix"), env_from_sources(MANIFESTS))
def test_env_from_keys_are_settings(source: Manifest, prefix: str) -> None:
    """A shared ConfigMap (or Secret) loaded whole holds only settings some service reads."""
    classes = [settings_class(service) for service in service_packages(SERVICES_DIR)]
    unknown = [
        prefix + key
        for key in config_data(source)
        if not any(setting_of(cls, prefix + key) for cls in classes)
    ]
    assert not unknown, (
        f"{source}: loaded with envFrom, but not a setting of any service: {', '.join(unknown)}"
    )


# --- 3. References --------------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_references_resolve(workload: Workload) -> None:
    """A pod would not stay in CreateContainerConfigError for a missing ConfigMap/Secret/key."""
    namespace = workload.manifest.namespace
    problems = []
    for kind, name, key, where in refs(workload.pod_spec):
        data = CONFIG.get((kind, namespace, name))
        if data is None:
            problems.append(f"{where}: no {kind} {name!r} in namespace {namespace}")
        elif key is not None and key not in data:
            problems.append(f"{where}: {kind} {name!r} has no key {key!r}")
    assert not problems, f"{workload}:\n" + "\n".join(problems)


# --- 4. Wiring ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", K8S_SERVICES, ids=str)
def test_service_selects_one_deployment(service: Manifest) -> None:
    """A Service reaches the pods of one Deployment, on a port they declare."""
    selector = dict(service.body["spec"].get("selector") or {})
    assert selector, f"{service}: no selector"
    selected = [
        w
        for w in WORKLOADS
        if w.manifest.kind == "Deployment"
        and w.manifest.namespace == service.namespace
        and selector.items() <= w.labels.items()
    ]
    count = len(selected)
    assert count == 1, (
        f"{service}: selector {selector} matches {count} Deployments: "
        f"{', '.join(str(w) for w in selected) or 'none'}"
    )
    containers = selected[0].containers
    for port in service.body["spec"].get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        declared = is_declared(target, containers)
        assert declared, (
            f"{service}: port {port.get('name', port.get('port'))} targets {target!r}, "
            f"which no container of {selected[0]} declares"
        )


@pytest.mark.parametrize(
    "budget", [m for m in MANIFESTS if m.kind == "PodDisruptionBudget"], ids=str
)
def test_disruption_budget_covers_one_deployment_and_leaves_room(budget: Manifest) -> None:
    """A PodDisruptionBudget guards the pods of one Deployment and still lets a node drain."""
    selector = dict((budget.body["spec"].get("selector") or {}).get("matchLabels") or {})
    selected = [
        w
        for w in WORKLOADS
        if w.manifest.kind == "Deployment"
        and w.manifest.namespace == budget.namespace
        and selector
        and selector.items() <= w.labels.items()
    ]
    assert len(selected) == 1, f"{budget}: selector {selector} matches {len(selected)} Deployments"
    replicas = int(selected[0].manifest.body["spec"].get("replicas", 1))
    min_available = budget.body["spec"].get("minAvailable")
    if isinstance(min_available, int):
        assert min_available < replicas, (
            f"{budget}: minAvailable {min_available} with {replicas} replicas blocks every drain"
        )


def path_problem(container: Obj, path: str) -> str | None:
    """Why a GET of ``path`` would not reach the app in the container, or None."""
    service = container_service(container)
    if service is None:
        return f"no service package for image {container.get('image')}"
    return None if serves_get(service, path) else f"the {service} app serves no GET {path}"


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_probes_and_scrape_target(workload: Workload) -> None:
    """Probes and the Prometheus scrape hit a declared port and a route the app serves."""
    problems = []
    for container in workload.containers:
        for probe_name in PROBES:
            probe = container.get(probe_name) or {}
            where = f"container {container['name']} {probe_name}"
            for handler in ("httpGet", "tcpSocket", "grpc"):
                if handler in probe and not is_declared(probe[handler].get("port"), [container]):
                    problems.append(f"{where}: port {probe[handler].get('port')!r} not declared")
            if "httpGet" in probe:
                problem = path_problem(container, probe["httpGet"].get("path", "/"))
                if problem:
                    problems.append(f"{where}: {problem}")
    annotations = workload.annotations
    if annotations.get("prometheus.io/scrape") == "true":
        port = annotations.get("prometheus.io/port", "")
        path = annotations.get("prometheus.io/path", "/metrics")
        scraped = [c for c in workload.containers if port.isdigit() and is_declared(int(port), [c])]
        if not scraped:
            problems.append(f"prometheus.io/port {port!r} is not a declared container port")
        for container in scraped:
            problem = path_problem(container, path)
            if problem:
                problems.append(f"prometheus.io/path: {problem}")
    assert not problems, f"{workload}:\n" + "\n".join(problems)


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_app_listens_on_a_declared_port(workload: Workload) -> None:
    """The app binds a declared port on a non-loopback address, as the container's env says."""
    problems = []
    for container in workload.containers:
        service = container_service(container)
        if not container.get("ports") or service is None:
            continue  # nothing to reach, or the settings test reports it
        settings_cls = settings_class(service)
        env = effective_env(container, workload.manifest.namespace)
        host = setting_value(settings_cls, env, "http_host")
        port = setting_value(settings_cls, env, "http_port")
        _, numbers = declared_ports([container])
        if port is not None and str(port) not in {str(number) for number in numbers}:
            problems.append(
                f"container {container['name']}: the app listens on port {port}, "
                f"declared: {sorted(numbers)}"
            )
        if host in LOOPBACK:
            problems.append(f"container {container['name']}: the app listens on {host} only")
    assert not problems, f"{workload}:\n" + "\n".join(problems)


# --- 5. Commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_commands_name_a_service_and_verb(workload: Workload) -> None:
    """``python -m <svc> <verb>`` would run: the image holds <svc>, its CLI takes <verb>."""
    problems = []
    for container in workload.all_containers:
        argv = container_argv(container)
        if len(argv) < 2 or Path(argv[0]).name not in ("python", "python3") or argv[1] != "-m":
            continue  # the image's own CMD, or not a service command
        where = f"container {container['name']}: {' '.join(argv)}"
        module = argv[2] if len(argv) > 2 else ""
        verb = argv[3] if len(argv) > 3 else ""
        image = image_service(str(container.get("image")))
        if module not in service_packages(SERVICES_DIR):
            problems.append(f"{where}: {module!r} is not a service package")
            continue
        if module != image:
            problems.append(f"{where}: the image holds {image}, not {module}")
        verbs = shared_cli_verbs(SERVICE_PY) | intercepted_verbs(module)
        if verb not in verbs:
            problems.append(f"{where}: {verb!r} is not one of {sorted(verbs)}")
    assert not problems, f"{workload}:\n" + "\n".join(problems)


# --- 6. Images and user ---------------------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS, ids=str)
def test_images_and_user(workload: Workload) -> None:
    """Images are ones build.sh makes; pods run as the user the image was built for."""
    built = built_services(BUILD_SH)
    uid, gid = dockerfile_user(DOCKERFILE)
    problems = []
    for container in workload.all_containers:
        image = str(container.get("image"))
        service = image_service(image)
        if service is None:
            problems.append(
                f"container {container['name']}: {image} is not <reg>/jietiao/<svc>:<tag>"
            )
        elif service not in built:
            problems.append(f"container {container['name']}: build.sh builds no {service} image")
        context = container.get("securityContext") or {}
        if context.get("runAsUser", uid) != uid:
            problems.append(f"container {container['name']}: runAsUser {context['runAsUser']}")
    pod_context = workload.pod_spec.get("securityContext") or {}
    if pod_context.get("runAsUser") != uid:
        problems.append(f"pod runAsUser is {pod_context.get('runAsUser')}, the image's uid {uid}")
    if gid is not None and pod_context.get("runAsGroup", gid) != gid:
        problems.append(f"pod runAsGroup is {pod_context['runAsGroup']}, the image's gid {gid}")
    assert not problems, f"{workload}:\n" + "\n".join(problems)
