"""TencentSmsProvider against a local fake Tencent SMS server that checks signatures."""

import logging
from collections.abc import Iterator

import pytest
from fake_tencent_sms import HOST, FakeTencentSms
from jietiao_shared.tencent import TencentClient, TencentCredentials
from notify.providers import SmsSendFailed, TencentSmsProvider, build_provider
from notify.settings import NotifySettings

SECRET_KEY = "fake-secret-key-0123456789abcdef"
CREDENTIALS = TencentCredentials("AKIDfake0123456789", SECRET_KEY)
TEMPLATES = {"login_code": "100001", "invitation": "100002"}


@pytest.fixture
def fake() -> Iterator[FakeTencentSms]:
    """The fake server, started for one test."""
    server = FakeTencentSms(CREDENTIALS, slow_seconds=1.0).start()
    yield server
    server.stop()


def _provider(
    fake: FakeTencentSms, credentials: TencentCredentials = CREDENTIALS
) -> TencentSmsProvider:
    client = TencentClient(
        credentials,
        service="sms",
        host=HOST,
        version="2021-01-11",
        region="ap-guangzhou",
        endpoint=fake.url,
        timeout_seconds=0.4,
    )
    return TencentSmsProvider(
        client, sdk_app_id="1400000000", sign_name="借条平台", template_ids=TEMPLATES
    )


async def _fails(provider: TencentSmsProvider, phone: str) -> SmsSendFailed:
    with pytest.raises(SmsSendFailed) as failed:
        await provider.send(phone, "x", "sms-1", kind="login_code", template_params=["123456"])
    return failed.value


@pytest.mark.asyncio
async def test_a_signed_send_by_template_is_accepted(fake: FakeTencentSms) -> None:
    provider = _provider(fake)

    receipt = await provider.send(
        "+8613800138000",
        "您的登录验证码为123456，5分钟内有效。",
        "0b7c-sms-id",
        kind="login_code",
        template_params=["123456"],
    )

    assert receipt.provider == "tencent"
    assert receipt.provider_message_id.startswith("fake-")
    [request] = fake.received
    assert request.signature_ok
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    assert request.body == {
        "PhoneNumberSet": ["+8613800138000"],
        "SmsSdkAppId": "1400000000",
        "TemplateId": "100001",
        "SignName": "借条平台",
        "TemplateParamSet": ["123456"],
        "SessionContext": "0b7c-sms-id",
    }


@pytest.mark.asyncio
async def test_the_thirty_second_limit_per_number_is_final(fake: FakeTencentSms) -> None:
    provider = _provider(fake)
    await provider.send("+8613800138001", "x", "a", kind="login_code", template_params=["1"])

    failed = await _fails(provider, "+8613800138001")

    assert (failed.code, failed.retryable) == ("LimitExceeded.PhoneNumberThirtySecondLimit", False)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("behaviour", "code", "retryable"),
    [
        ("daily_limit", "LimitExceeded.PhoneNumberDailyLimit", False),
        ("invalid", "InvalidParameterValue.IncorrectPhoneNumber", False),
        ("internal_timeout", "InternalError.Timeout", True),
        ("5xx", "HTTP503", True),
        ("malformed", "MalformedResponse", True),
        ("slow", "Timeout", True),
    ],
)
async def test_each_provider_answer_maps_to_retry_or_not(
    fake: FakeTencentSms, behaviour: str, code: str, retryable: bool
) -> None:
    phone = "+8613800138002"
    fake.script[phone] = [behaviour]

    failed = await _fails(_provider(fake), phone)

    assert (failed.code, failed.retryable) == (code, retryable)


@pytest.mark.asyncio
async def test_a_wrong_secret_fails_the_signature_check(fake: FakeTencentSms) -> None:
    wrong = TencentCredentials(CREDENTIALS.secret_id, "not-the-key")

    failed = await _fails(_provider(fake, wrong), "+8613800138003")

    assert (failed.code, failed.retryable) == ("AuthFailure.SignatureFailure", False)
    assert not fake.received[0].signature_ok


@pytest.mark.asyncio
async def test_a_kind_without_a_template_id_is_not_sent(fake: FakeTencentSms) -> None:
    with pytest.raises(SmsSendFailed) as failed:
        await _provider(fake).send("+8613800138004", "x", "a", kind="voided")

    assert (failed.value.code, failed.value.retryable) == ("template_not_configured", False)
    assert fake.received == []


@pytest.mark.asyncio
async def test_the_secret_key_never_reaches_a_log_or_a_repr(
    fake: FakeTencentSms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = NotifySettings(
        sms_provider="tencent",
        tencent_secret_id=CREDENTIALS.secret_id,
        tencent_secret_key=SECRET_KEY,
        tencent_sms_sdk_app_id="1400000000",
        tencent_sms_endpoint=fake.url,
        tencent_sms_template_ids=TEMPLATES,
    )
    provider = build_provider(settings)
    await provider.send("+8613800138005", "x", "a", kind="login_code", template_params=["1"])

    assert isinstance(provider, TencentSmsProvider)
    assert SECRET_KEY not in repr(settings)
    assert SECRET_KEY not in repr(provider.client) + repr(provider.client.credentials)
    assert SECRET_KEY not in caplog.text
    assert fake.received[0].signature_ok


def test_tencent_needs_its_credentials() -> None:
    with pytest.raises(ValueError, match="SECRET_ID"):
        build_provider(NotifySettings(sms_provider="tencent"))
