"""A year of reminders for 100 IOUs with two notify replicas and a fake clock.

Each replica has its own connection pool and runs both of notify's workers (firing
due reminders, delivering queued SMS) concurrently with the other, against the
same database. Some IOUs are voided, and the replicas are down for five weeks.
"""

import asyncio
import collections
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jietiao_shared.contracts import ReminderInstalment, ScheduleReminders
from notify import reminders, sms
from notify.providers import ProviderReceipt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHINA = ZoneInfo("Asia/Shanghai")
LANDING = "http://127.0.0.1:8100/s"
START = date(2031, 1, 1)
EARLY_DAYS = 3
OUTAGE = (date(2031, 7, 20), date(2031, 8, 25))  # no replica runs on these days
VOIDED_AT_ONCE = range(0, 10)
VOIDED_MID_YEAR = range(10, 20)
MID_YEAR = date(2031, 6, 15)


class FakeClock:
    """The time the replicas see; the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        """The current fake time."""
        return self.current


class CountingProvider:
    """An SMS provider that counts every hand-over per SMS id."""

    name = "counting"

    def __init__(self) -> None:
        self.sends: collections.Counter[str] = collections.Counter()

    async def send(
        self,
        phone: str,
        text: str,
        message_id: str,
        *,
        kind: str = "",
        template_params: Sequence[str] = (),
    ) -> ProviderReceipt:
        """Count and accept."""
        self.sends[message_id] += 1
        await asyncio.sleep(0)
        return ProviderReceipt(self.name, f"count-{message_id}", datetime.now(UTC))


def _plan(agreement: str, index: int) -> ScheduleReminders:
    first = START + timedelta(days=index % 28)
    months = [
        date(first.year + (first.month - 1 + m) // 12, (first.month - 1 + m) % 12 + 1, first.day)
        for m in range(12)
    ]
    return ScheduleReminders(
        agreement_id=agreement,
        borrower_phone=f"+86138{index:08d}",
        borrower_name="王小明",
        instalments=[
            ReminderInstalment(seq=i, due_date=d.isoformat(), total_fen=100_00)
            for i, d in enumerate(months, start=1)
        ],
    )


async def _replica(engine: AsyncEngine, clock: FakeClock, provider: CountingProvider) -> int:
    """One replica's workers until neither finds work; returns how many reminders it took."""
    taken = 0
    while True:
        fired = await reminders.fire_next(engine, LANDING, clock)
        delivered = await sms.deliver_next(engine, provider, 5)
        taken += fired
        if not fired and not delivered:
            return taken


async def test_a_year_of_reminders_is_sent_exactly_once(scratch_database: Any) -> None:
    url = await scratch_database("notify_year")
    replicas = [create_async_engine(url, pool_size=3) for _ in range(2)]
    clock = FakeClock(datetime.combine(START - timedelta(days=10), time(8), tzinfo=CHINA))
    provider = CountingProvider()
    agreements = [str(uuid.uuid4()) for _ in range(100)]

    async with replicas[0].begin() as conn:
        for index, agreement in enumerate(agreements):
            await reminders.schedule(
                conn, _plan(agreement, index), time(9), EARLY_DAYS, now=clock.now()
            )
        for index in VOIDED_AT_ONCE:
            await reminders.cancel(conn, agreements[index], "voided")

    taken = [0, 0]
    day = clock.now().date()
    while day <= START + timedelta(days=400):
        day += timedelta(days=1)
        clock.current = datetime.combine(day, time(9, 1), tzinfo=CHINA)
        if day == MID_YEAR:
            async with replicas[1].begin() as conn:
                for index in VOIDED_MID_YEAR:
                    await reminders.cancel(conn, agreements[index], "voided")
        if OUTAGE[0] <= day <= OUTAGE[1]:
            continue
        counts = await asyncio.gather(*(_replica(e, clock, provider) for e in replicas))
        taken = [t + c for t, c in zip(taken, counts, strict=True)]

    async with replicas[0].connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT r.agreement_id, r.seq, r.kind, r.due_date, r.due_at, r.status,"
                    " r.sent_at, r.cancel_reason, s.id AS sms_id, s.text, s.status AS sms_status"
                    " FROM reminders r LEFT JOIN sms_messages s"
                    " ON s.source_message_id = 'reminder:' || r.id"
                )
            )
        ).all()
        sms_count = await conn.scalar(text("SELECT count(*) FROM sms_messages"))
    for engine in replicas:
        await engine.dispose()

    voided_at_once = {agreements[i] for i in VOIDED_AT_ONCE}
    voided_mid_year = {agreements[i] for i in VOIDED_MID_YEAR}
    mid_year = datetime.combine(MID_YEAR, time(9, 1), tzinfo=CHINA)
    outage_end = datetime.combine(OUTAGE[1] + timedelta(days=1), time(9, 1), tzinfo=CHINA)
    sent = [r for r in rows if r.status == "sent"]

    # Every SMS handed to the provider exactly once, one per sent reminder.
    assert len(rows) == 100 * 12 * 2
    assert set(provider.sends.values()) == {1}
    assert sorted(provider.sends) == sorted(str(r.sms_id) for r in sent)
    skipped = [r for r in rows if r.cancel_reason == "overtaken"]
    assert sms_count == len(sent) == sum(taken) - len(skipped)
    assert all(r.sms_status == "sent" for r in sent)
    assert min(taken) > 0, f"one replica did all the work: {taken}"

    # Nothing for IOUs voided at once; nothing after the void for the others.
    assert not [r for r in sent if r.agreement_id in voided_at_once]
    assert not [r for r in sent if r.agreement_id in voided_mid_year and r.due_at > mid_year]
    assert all(
        r.status == "cancelled" and r.cancel_reason == "voided"
        for r in rows
        if r.agreement_id in voided_mid_year and r.due_at > mid_year
    )

    # The others: every due-date reminder sent once, naming its real due date.
    live = [r for r in rows if r.agreement_id not in voided_at_once | voided_mid_year]
    assert all(r.status == "sent" for r in live if r.kind == "due")
    for r in sent:
        assert f"{r.due_date.year}年{r.due_date.month}月{r.due_date.day}日" in r.text

    # Late after the outage: sent once when the replicas came back, not dropped.
    late = [r for r in live if r.kind == "due" and OUTAGE[0] <= r.due_at.date() <= OUTAGE[1]]
    assert late and all(r.status == "sent" and r.sent_at >= outage_end for r in late)
    # An early reminder overtaken by its due date during the outage is skipped, not doubled.
    overtaken = [r for r in live if r.kind == "early" and r.status == "cancelled"]
    assert overtaken and all(
        r.cancel_reason == "overtaken" and r.due_date <= outage_end.date() for r in overtaken
    )
    early_sent = [r for r in live if r.kind == "early" and r.status == "sent"]
    assert all(
        r.sent_at.astimezone(CHINA).date() == r.due_date - timedelta(days=EARLY_DAYS)
        or OUTAGE[0] <= r.due_at.date() <= OUTAGE[1]
        for r in early_sent
    )
