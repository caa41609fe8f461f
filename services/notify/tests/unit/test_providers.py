"""The local provider implements the SMS provider interface."""

import pytest
from notify.providers import LocalRecordingSmsProvider, SmsProvider, build_provider
from notify.settings import NotifySettings


@pytest.mark.asyncio
async def test_local_provider_accepts_and_names_itself() -> None:
    provider: SmsProvider = LocalRecordingSmsProvider()

    receipt = await provider.send("+8613800138000", "您的登录验证码为1234。", "m-1")

    assert receipt.provider == "local"
    assert receipt.provider_message_id == "local-m-1"
    assert receipt.accepted_at.tzinfo is not None


def test_the_setting_chooses_the_local_provider() -> None:
    provider = build_provider(NotifySettings(sms_provider="local"))

    assert isinstance(provider, LocalRecordingSmsProvider)
