"""SMS providers: one interface, a local implementation now, public adapters later."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from .settings import NotifySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderReceipt:
    """A provider accepted one SMS."""

    provider: str
    provider_message_id: str
    accepted_at: datetime


class SmsSendFailed(Exception):
    """A provider did not accept an SMS; ``retryable`` says whether to try again."""

    def __init__(self, code: str, *, retryable: bool) -> None:
        super().__init__(code)
        self.code = code
        self.retryable = retryable


class SmsProvider(Protocol):
    """What the sender needs from an SMS provider."""

    name: str

    async def send(self, phone: str, text: str, message_id: str) -> ProviderReceipt:
        """Hand one SMS to the provider; raise :class:`SmsSendFailed` if refused."""
        ...


class LocalRecordingSmsProvider:
    """The embedded provider: a sent SMS is one operators read on ``/ops/sms``.

    Nothing leaves the machine; the sender records the receipt like any other, so
    the row shows as sent with provider ``local``.
    """

    name = "local"

    async def send(self, phone: str, text: str, message_id: str) -> ProviderReceipt:
        """Accept the SMS at once."""
        log.info("sms %s recorded by the local provider", message_id)
        return ProviderReceipt(
            provider=self.name,
            provider_message_id=f"local-{message_id}",
            accepted_at=datetime.now(UTC),
        )


def build_provider(settings: NotifySettings) -> SmsProvider:
    """The provider named by ``JIETIAO_SMS_PROVIDER``."""
    if settings.sms_provider == "local":
        return LocalRecordingSmsProvider()
    raise ValueError(f"unknown SMS provider {settings.sms_provider!r}")
