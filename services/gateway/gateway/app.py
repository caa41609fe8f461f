"""The reference gateway: one public HTTP API in front of the services."""

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api, pages
from .settings import GatewaySettings
from .upstream import Upstreams


async def _startup(runtime: Runtime, app: FastAPI) -> None:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    services = ("agreements", "identity", "signing", "notify", "documents")
    bases = {s: getattr(settings, f"{s}_url") for s in services}
    app.state.upstreams = Upstreams(settings.upstream_timeout_seconds, bases)


async def _shutdown(runtime: Runtime, app: FastAPI) -> None:
    await app.state.upstreams.close()


def build_spec() -> ServiceSpec:
    """Describe the gateway to the shared runtime: HTTP only, no bus, no database."""
    return ServiceSpec(
        name="gateway",
        title="Jietiao API",
        settings=GatewaySettings(),
        routers=[api.router, pages.router],
        on_startup=_startup,
        on_shutdown=_shutdown,
        uses_backing_services=False,
    )
