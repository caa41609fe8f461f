"""The identity service: accounts, login codes, session tokens, face verification."""

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api, wechat_login, workers
from .face import make_provider
from .keys import load_keys
from .settings import IdentitySettings


async def _startup(runtime: Runtime, app: FastAPI) -> None:
    settings = runtime.settings
    assert isinstance(settings, IdentitySettings)
    app.state.keys = await load_keys(runtime.engine)
    app.state.face_provider = make_provider(settings)
    app.state.wechat = settings.wechat_client()


def build_spec() -> ServiceSpec:
    """Describe the identity service to the shared runtime."""
    return ServiceSpec(
        name="identity",
        title="Jietiao identity",
        settings=IdentitySettings(),
        routers=[api.router, wechat_login.router],
        migration_packages=["jietiao_shared", "identity"],
        on_startup=_startup,
        workers=[workers.expire_sessions],
    )
