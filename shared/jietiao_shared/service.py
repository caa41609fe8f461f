"""One service, one process: FastAPI and a FastStream broker in the same loop.

A service describes itself with a :class:`ServiceSpec` (its routers, its consumers,
its background workers, its migrations); :func:`create_app` builds the FastAPI
application whose lifespan connects the database and the bus, starts the outbox
relay and the workers, and stops all of it in reverse order.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from . import asyncapi, errors, idempotency, logs, telemetry
from .auth import JwksVerifier
from .bus import (
    Consumers,
    NotProvisioned,
    bound_max_deliver,
    make_broker,
    provision,
    publish_envelope,
)
from .db import make_engine, migrate
from .outbox import OutboxRelay
from .settings import ServiceSettings

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "jietiao_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "jietiao_http_request_seconds", "HTTP request latency", ["method", "route"]
)


@dataclass
class Runtime:
    """What a running service holds: settings, database, bus and its tasks."""

    settings: ServiceSettings
    engine: AsyncEngine
    consumers: Consumers
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def broker(self) -> Any:
        """The FastStream broker."""
        return self.consumers.broker


Worker = Callable[[Runtime], Awaitable[None]]


@dataclass
class ServiceSpec:
    """Everything that makes one service what it is."""

    name: str
    title: str
    settings: ServiceSettings
    routers: list[APIRouter] = field(default_factory=list)
    register_consumers: Callable[[Consumers], None] | None = None
    workers: list[Worker] = field(default_factory=list)
    migration_packages: list[str] = field(default_factory=list)
    on_startup: Callable[[Runtime, FastAPI], Awaitable[None]] | None = None
    on_shutdown: Callable[[Runtime, FastAPI], Awaitable[None]] | None = None
    uses_backing_services: bool = True
    # Extra readiness checks: name -> "ok" or a reason; anything but "ok" is a 503.
    readiness: Callable[[Runtime], Awaitable[dict[str, str]]] | None = None


def _lazy_engine(holder: dict[str, AsyncEngine]) -> Callable[[], AsyncEngine]:
    return lambda: holder["engine"]


def create_app(spec: ServiceSpec) -> FastAPI:
    """The service's ASGI application."""
    settings = spec.settings
    holder: dict[str, AsyncEngine] = {}
    broker = make_broker(settings.nats_url)
    consumers = Consumers(
        broker,
        _lazy_engine(holder),
        service=spec.name,
        max_deliver=settings.max_deliver,
        backoff=settings.retry_backoff_seconds,
    )
    if spec.register_consumers is not None:
        spec.register_consumers(consumers)
    undeclared = consumers.undeclared()
    if undeclared:
        raise RuntimeError(
            f"{spec.name} reads with durable(s) {', '.join(undeclared)} that"
            " jietiao_shared.contracts.CONSUMERS does not declare"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        holder["engine"] = engine
        runtime = Runtime(settings=settings, engine=engine, consumers=consumers)
        app.state.runtime = runtime
        if spec.uses_backing_services:
            await _start_backing(spec, runtime, broker)
        if spec.on_startup is not None:
            await spec.on_startup(runtime, app)
        log.info("%s started on %s:%s", spec.name, settings.http_host, settings.http_port)
        try:
            yield
        finally:
            if spec.on_shutdown is not None:
                await spec.on_shutdown(runtime, app)
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            if spec.uses_backing_services:
                await broker.stop()
            await engine.dispose()
            log.info("%s stopped", spec.name)

    app = FastAPI(title=spec.title, lifespan=lifespan)
    app.state.settings = settings
    app.state.consumers = consumers
    app.state.uses_backing_services = spec.uses_backing_services
    app.state.readiness = spec.readiness
    app.state.verifier = JwksVerifier(settings.jwks_url)
    errors.install(app)
    app.include_router(_ops_router())
    for router in spec.routers:
        app.include_router(router)
    if spec.uses_backing_services:
        app.middleware("http")(idempotency.middleware)
    _limit_body(app, settings.max_request_bytes)
    _install_metrics(app)
    return app


def _limit_body(app: FastAPI, max_bytes: int) -> None:
    """Refuse a request that announces a body above ``max_bytes`` before reading it."""

    @app.middleware("http")
    async def limit(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse(
                {"error": "too_large", "message": "请求内容过大"},
                status_code=413,
                headers={"connection": "close"},
            )
        return await call_next(request)


async def _start_broker(
    broker: Any, consumers: Consumers, nats_url: str, attempts: int = 30
) -> None:
    """Check that the service's durables are provisioned, then connect and bind them.

    A JetStream cluster may be slow to answer at first, and during a release the
    provisioning step may still be running: both are retried for a while.
    """
    for attempt in range(1, attempts + 1):
        try:
            consumers.max_deliver_of = await bound_max_deliver(nats_url, consumers)
            await broker.start()
            return
        except (TimeoutError, NotProvisioned, nats.errors.Error, nats.js.errors.Error) as exc:
            if attempt == attempts:
                raise
            log.warning("bus not ready (%r); retrying (%d/%d)", exc, attempt, attempts)
            await asyncio.sleep(min(5.0, 0.5 * attempt))


async def _start_backing(spec: ServiceSpec, runtime: Runtime, broker: Any) -> None:
    """Connect the bus, then start the outbox relay and the service's workers."""
    settings = runtime.settings
    await _start_broker(broker, runtime.consumers, settings.nats_url)
    relay = OutboxRelay(
        runtime.engine,
        settings.database_url,
        lambda s, e, h: publish_envelope(broker, s, e, h),
        poll_seconds=settings.outbox_poll_seconds,
        outbox_retention_hours=settings.outbox_retention_hours,
        inbox_retention_days=settings.inbox_retention_days,
        idempotency_retention_hours=settings.idempotency_retention_hours,
    )
    runtime.tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
    for worker in spec.workers:
        runtime.tasks.append(asyncio.create_task(_guard(worker, runtime)))


async def _guard(worker: Worker, runtime: Runtime) -> None:
    """Keep a background worker alive: log and restart it after a failure."""
    while True:
        try:
            await worker(runtime)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s failed; restarting in 1s", worker.__name__)
            await asyncio.sleep(1.0)


def _ops_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        if not request.app.state.uses_backing_services:
            return JSONResponse({"status": "ok"})
        checks = {"database": "ok", "bus": "ok"}
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            checks["database"] = "down"
        connection = getattr(runtime.broker, "_connection", None)
        if connection is None or not connection.is_connected:
            checks["bus"] = "down"
        if request.app.state.readiness is not None:
            checks.update(await request.app.state.readiness(runtime))
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(checks, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def _install_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        name = f"{request.method} {request.url.path}"
        with telemetry.continued(name, request.headers, SpanKind.SERVER) as span:
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            span.update_name(f"{request.method} {path}")
            span.set_attribute("http.status_code", response.status_code)
        HTTP_LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        return response


def describe(spec: ServiceSpec, kind: str) -> dict[str, Any]:
    """The service's AsyncAPI (bus) or OpenAPI (HTTP) document."""
    app = create_app(spec)
    if kind == "openapi":
        return app.openapi()
    return asyncapi.document(spec.name, app.state.consumers)


def main(build_spec: Callable[[], ServiceSpec]) -> None:
    """Command line of every service: ``serve``, ``migrate`` or ``provision``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve", "migrate", "provision", "asyncapi", "openapi"])
    args = parser.parse_args()
    spec = build_spec()
    settings = spec.settings
    logs.configure(spec.name, settings.log_level, settings.log_format)
    telemetry.configure(
        spec.name, settings.otel_exporter, settings.otel_endpoint, settings.otel_file
    )
    if args.command in ("asyncapi", "openapi"):
        document = describe(spec, args.command)
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return
    if args.command == "migrate" and not spec.migration_packages:
        log.info("no database to migrate")
    elif args.command == "migrate":
        applied = asyncio.run(migrate(settings.database_url, spec.migration_packages))
        log.info("migrations applied: %s", ", ".join(applied) or "none")
    elif args.command == "provision":
        done = asyncio.run(
            provision(settings.nats_url, settings.stream_replicas, max_deliver=settings.max_deliver)
        )
        for line in done:
            log.info("provision: %s", line)
    else:
        uvicorn.run(
            create_app(spec),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
