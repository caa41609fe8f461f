"""SMS providers behind one interface: the local recording one and Tencent Cloud SMS."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from jietiao_shared.tencent import TencentClient, TencentCredentials, TencentError

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

    async def send(
        self,
        phone: str,
        text: str,
        message_id: str,
        *,
        kind: str = "",
        template_params: Sequence[str] = (),
    ) -> ProviderReceipt:
        """Hand one SMS to the provider; raise :class:`SmsSendFailed` if refused."""
        ...


class LocalRecordingSmsProvider:
    """The embedded provider: a sent SMS is one operators read on ``/ops/sms``.

    Nothing leaves the machine; the sender records the receipt like any other, so
    the row shows as sent with provider ``local``.
    """

    name = "local"

    async def send(
        self,
        phone: str,
        text: str,
        message_id: str,
        *,
        kind: str = "",
        template_params: Sequence[str] = (),
    ) -> ProviderReceipt:
        """Accept the SMS at once."""
        log.info("sms %s recorded by the local provider", message_id)
        return ProviderReceipt(
            provider=self.name,
            provider_message_id=f"local-{message_id}",
            accepted_at=datetime.now(UTC),
        )


RETRIED_STATUS_CODES = frozenset({"InternalError.Timeout", "InternalError.SendAndRecvFail"})


def status_retryable(code: str) -> bool:
    """Whether a per-number ``SendStatusSet`` code is worth another attempt.

    Limits, invalid or blacklisted numbers and template errors are final: trying
    again would only annoy the person or hit the same wall.
    """
    return code in RETRIED_STATUS_CODES


class TencentSmsProvider:
    """Tencent Cloud SMS ``SendSms`` (2021-01-11): one number per call, by template."""

    name = "tencent"

    def __init__(
        self,
        client: TencentClient,
        *,
        sdk_app_id: str,
        sign_name: str,
        template_ids: dict[str, str],
    ) -> None:
        self.client = client
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_ids = template_ids

    async def send(
        self,
        phone: str,
        text: str,
        message_id: str,
        *,
        kind: str = "",
        template_params: Sequence[str] = (),
    ) -> ProviderReceipt:
        """Send by the template of ``kind``; the SessionContext carries our SMS id."""
        template_id = self.template_ids.get(kind)
        if not template_id:
            raise SmsSendFailed("template_not_configured", retryable=False)
        request = {
            "PhoneNumberSet": [phone],
            "SmsSdkAppId": self.sdk_app_id,
            "TemplateId": template_id,
            "SignName": self.sign_name,
            "TemplateParamSet": list(template_params),
            "SessionContext": message_id,
        }
        try:
            response = await self.client.call("SendSms", request)
        except TencentError as exc:
            raise SmsSendFailed(exc.code, retryable=exc.transient) from None
        status = _status_of(response, phone)
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise SmsSendFailed(code or "MalformedResponse", retryable=status_retryable(code))
        return ProviderReceipt(
            provider=self.name,
            provider_message_id=str(status.get("SerialNo") or response.get("RequestId", "")),
            accepted_at=datetime.now(UTC),
        )


def _status_of(response: dict[str, Any], phone: str) -> dict[str, Any]:
    """The ``SendStatusSet`` entry of our number; a missing one is a malformed answer."""
    statuses = response.get("SendStatusSet")
    if isinstance(statuses, list):
        for status in statuses:
            if isinstance(status, dict) and status.get("PhoneNumber") == phone:
                return status
    raise SmsSendFailed("MalformedResponse", retryable=True)


def build_provider(settings: NotifySettings) -> SmsProvider:
    """The provider named by ``JIETIAO_SMS_PROVIDER``."""
    if settings.sms_provider == "local":
        return LocalRecordingSmsProvider()
    if settings.sms_provider == "tencent":
        credentials = TencentCredentials(settings.tencent_secret_id, settings.tencent_secret_key)
        if not credentials or not settings.tencent_sms_sdk_app_id:
            raise ValueError("Tencent SMS needs JIETIAO_TENCENT_SECRET_ID/KEY and an SDK app id")
        client = TencentClient(
            credentials,
            service="sms",
            host=settings.tencent_sms_host,
            version="2021-01-11",
            region=settings.tencent_sms_region,
            endpoint=settings.tencent_sms_endpoint,
            timeout_seconds=settings.tencent_timeout_seconds,
        )
        return TencentSmsProvider(
            client,
            sdk_app_id=settings.tencent_sms_sdk_app_id,
            sign_name=settings.tencent_sms_sign_name,
            template_ids=settings.tencent_sms_template_ids,
        )
    raise ValueError(f"unknown SMS provider {settings.sms_provider!r}")
