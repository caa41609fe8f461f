"""The notify service: SMS, share links and repayment reminders."""

from functools import partial

from fastapi import FastAPI
from jietiao_shared.service import Runtime, ServiceSpec

from . import api, handlers, reminders, sms
from .settings import NotifySettings


async def _startup(runtime: Runtime, app: FastAPI) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    app.state.wechat = settings.wechat_client()


async def _shutdown(runtime: Runtime, app: FastAPI) -> None:
    if app.state.wechat is not None:
        await app.state.wechat.aclose()


def build_spec() -> ServiceSpec:
    """Describe the notify service to the shared runtime."""
    settings = NotifySettings()
    return ServiceSpec(
        name="notify",
        title="Jietiao notify",
        settings=settings,
        routers=[api.router],
        register_consumers=partial(handlers.register_consumers, settings=settings),
        workers=[sms.sms_sender, reminders.reminder_worker],
        migration_packages=["jietiao_shared", "notify"],
        on_startup=_startup,
        on_shutdown=_shutdown,
    )
