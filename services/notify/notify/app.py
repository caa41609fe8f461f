"""The notify service: SMS, share links and repayment reminders."""

from functools import partial

from jietiao_shared.service import ServiceSpec

from . import api, handlers, reminders, sms
from .settings import NotifySettings


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
    )
