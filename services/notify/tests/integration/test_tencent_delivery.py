"""The SMS sender with the Tencent provider: retries what is worth it, records every attempt."""

from collections.abc import Iterator
from typing import Any

import pytest
from fake_tencent_sms import HOST, FakeTencentSms
from jietiao_shared.tencent import TencentClient, TencentCredentials
from notify import sms
from notify.providers import TencentSmsProvider
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREDENTIALS = TencentCredentials("AKIDfakeintegration", "fake-integration-secret")
MAX_ATTEMPTS = 5


@pytest.fixture
def fake() -> Iterator[FakeTencentSms]:
    """The fake Tencent SMS server for one test."""
    server = FakeTencentSms(CREDENTIALS, slow_seconds=1.0).start()
    yield server
    server.stop()


async def _deliver_all(engine: AsyncEngine, provider: TencentSmsProvider) -> None:
    """Run the sender until nothing is queued, skipping the backoff waits."""
    for _ in range(50):
        while await sms.deliver_next(engine, provider, MAX_ATTEMPTS):
            pass
        async with engine.begin() as conn:
            waiting = await conn.execute(
                text("UPDATE sms_messages SET next_attempt_at = now() WHERE status = 'queued'")
            )
        if waiting.rowcount == 0:
            return
    raise AssertionError("the sender never settled")


async def test_each_answer_ends_as_it_should(fake: FakeTencentSms, scratch_database: Any) -> None:
    engine = create_async_engine(await scratch_database("notify_tencent"))
    provider = TencentSmsProvider(
        TencentClient(
            CREDENTIALS,
            service="sms",
            host=HOST,
            version="2021-01-11",
            region="ap-guangzhou",
            endpoint=fake.url,
            timeout_seconds=0.4,
        ),
        sdk_app_id="1400000000",
        sign_name="借条平台",
        template_ids={"login_code": "100001"},
    )
    phones = {
        "ok": "+8613900000001",
        "recovers": "+8613900000002",
        "invalid": "+8613900000003",
        "limited": "+8613900000004",
        "broken": "+8613900000005",
    }
    fake.script[phones["recovers"]] = ["5xx", "slow", "internal_timeout", "ok"]
    fake.script[phones["invalid"]] = ["invalid"]
    fake.script[phones["limited"]] = ["daily_limit"]
    fake.script[phones["broken"]] = ["malformed"] * 10
    ids = {}
    async with engine.begin() as conn:
        for name, phone in phones.items():
            ids[name] = await sms.queue_sms(
                conn,
                source_id=f"test-{name}-{phone}",
                kind="login_code",
                phone=phone,
                params={"code": "135790"},
                agreement_id=None,
                landing_url="http://127.0.0.1:8100/s",
            )

    await _deliver_all(engine, provider)

    async with engine.connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                text("SELECT id, status, attempts, error, provider_message_id FROM sms_messages")
            )
        }
        attempts = {
            r.sms_id: r.n
            for r in await conn.execute(
                text("SELECT sms_id, count(*) AS n FROM sms_attempts GROUP BY sms_id")
            )
        }
    await engine.dispose()

    outcome = {name: (rows[i].status, rows[i].attempts, rows[i].error) for name, i in ids.items()}
    assert outcome == {
        "ok": ("sent", 1, None),
        "recovers": ("sent", 4, None),
        "invalid": ("failed", 1, "InvalidParameterValue.IncorrectPhoneNumber"),
        "limited": ("failed", 1, "LimitExceeded.PhoneNumberDailyLimit"),
        "broken": ("failed", MAX_ATTEMPTS, "MalformedResponse"),
    }
    assert {name: attempts[i] for name, i in ids.items()} == {
        "ok": 1,
        "recovers": 4,
        "invalid": 1,
        "limited": 1,
        "broken": MAX_ATTEMPTS,
    }
    assert rows[ids["ok"]].provider_message_id.startswith("fake-")
    [sent] = fake.sent_to(phones["ok"])
    assert sent["SessionContext"] == str(ids["ok"])
    assert sent["TemplateParamSet"] == ["135790"]
    assert all(r.signature_ok for r in fake.received)
