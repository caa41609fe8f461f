"""Repayment reminders: scheduled at 09:00 Shanghai time, fired, cancelled."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jietiao_shared.contracts import (
    CancelReminders,
    ReminderInstalment,
    ScheduleReminders,
    Subject,
)
from notify.reminders import count_reminders

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHINA = ZoneInfo("Asia/Shanghai")


def plan(agreement: str, borrower: str, *due: date) -> ScheduleReminders:
    """A reminder plan with one instalment per due date."""
    return ScheduleReminders(
        agreement_id=agreement,
        borrower_phone=borrower,
        borrower_name="王小明",
        instalments=[
            ReminderInstalment(seq=i, due_date=d.isoformat(), total_fen=5_000_00)
            for i, d in enumerate(due, start=1)
        ],
    )


async def test_a_due_reminder_becomes_a_repayment_sms(
    bus: Any, ops: Any, phone: Any, wait_for: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    today = datetime.now(CHINA).date()
    yesterday, later = today - timedelta(days=1), today + timedelta(days=30)

    await bus.send(Subject.SCHEDULE_REMINDERS, plan(agreement, borrower, yesterday, later))

    async def fired() -> list[Any] | None:
        found = await ops("/ops/reminders", agreement_id=agreement)
        return found if found and found[0]["status"] == "sent" else None

    first, second = await wait_for(fired)
    assert first["sms_id"] is not None
    assert second["status"] == "scheduled"
    assert datetime.fromisoformat(second["due_at"]) == datetime.combine(
        later, datetime.min.time().replace(hour=9), tzinfo=CHINA
    )
    assert second["due_at"].endswith("T09:00:00+08:00")

    async def sent() -> Any:
        found = await ops("/ops/sms", phone=borrower, kind="repayment_due")
        return found if found and found[0]["status"] == "sent" else None

    [sms] = await wait_for(sent)
    assert sms["id"] == first["sms_id"]
    assert sms["agreement_id"] == agreement
    assert f"{yesterday.year}年{yesterday.month}月{yesterday.day}日" in sms["text"]


async def test_scheduling_twice_keeps_one_reminder_per_instalment(
    bus: Any, ops: Any, phone: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    due = date(2099, 5, 4), date(2099, 6, 4)

    for _ in range(2):
        ack = await bus.send(Subject.SCHEDULE_REMINDERS, plan(agreement, borrower, *due))
        await bus.handled("reminders-schedule", ack)

    schedule = await ops("/ops/reminders", agreement_id=agreement)
    assert [(r["seq"], r["status"]) for r in schedule] == [
        (1, "scheduled"),
        (2, "scheduled"),
    ]


async def test_cancelling_stops_every_reminder_not_sent(bus: Any, ops: Any, phone: Any) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    ack = await bus.send(
        Subject.SCHEDULE_REMINDERS,
        plan(agreement, borrower, date(2099, 5, 4), date(2099, 6, 4)),
    )
    await bus.handled("reminders-schedule", ack)

    ack = await bus.send(
        Subject.CANCEL_REMINDERS,
        CancelReminders(agreement_id=agreement, reason="voided"),
    )
    await bus.handled("reminders-cancel", ack)

    schedule = await ops("/ops/reminders", agreement_id=agreement)
    assert {(r["status"], r["cancel_reason"]) for r in schedule} == {("cancelled", "voided")}


def issued(bus: Any, payload: Any, at: datetime) -> dict[str, Any]:
    """An envelope whose command was issued at ``at``."""
    body: dict[str, Any] = bus.envelope(payload)
    body["occurred_at"] = at.isoformat()
    return body


async def test_a_schedule_arriving_after_a_newer_cancel_brings_nothing_back(
    bus: Any, ops: Any, phone: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    now = datetime.now(CHINA)
    cancel = issued(bus, CancelReminders(agreement_id=agreement, reason="voided"), now)
    late = issued(bus, plan(agreement, borrower, date(2099, 5, 4)), now - timedelta(seconds=5))

    await bus.handled("reminders-cancel", await bus.publish(Subject.CANCEL_REMINDERS, cancel))
    await bus.handled("reminders-schedule", await bus.publish(Subject.SCHEDULE_REMINDERS, late))

    assert await ops("/ops/reminders", agreement_id=agreement) == []


async def test_reminders_switched_back_on_after_a_cancel_are_live_again(
    bus: Any, ops: Any, phone: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    now = datetime.now(CHINA)
    steps = [
        (Subject.SCHEDULE_REMINDERS, "reminders-schedule",
         issued(bus, plan(agreement, borrower, date(2099, 5, 4)), now - timedelta(seconds=10))),
        (Subject.CANCEL_REMINDERS, "reminders-cancel",
         issued(bus, CancelReminders(agreement_id=agreement, reason="switched off"),
                now - timedelta(seconds=5))),
        (Subject.SCHEDULE_REMINDERS, "reminders-schedule",
         issued(bus, plan(agreement, borrower, date(2099, 5, 4)), now)),
    ]  # fmt: skip
    for subject, consumer, body in steps:
        await bus.handled(consumer, await bus.publish(subject, body))

    schedule = await ops("/ops/reminders", agreement_id=agreement)
    assert {r["status"] for r in schedule} == {"scheduled"}


async def test_the_reminder_gauges_count_waiting_and_overdue_reminders(
    bus: Any, database: Any, http: Any, phone: Any, wait_for: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    ack = await bus.send(
        Subject.SCHEDULE_REMINDERS,
        plan(agreement, borrower, date(2098, 5, 4), date(2098, 6, 4), date(2098, 7, 4)),
    )
    await bus.handled("reminders-schedule", ack)

    async with database.connect() as conn:
        # One snapshot for both counts: the worker may send other tests' reminders.
        await conn.execution_options(isolation_level="REPEATABLE READ")
        waiting, due = await count_reminders(conn, datetime.now(CHINA))
        later_waiting, later_due = await count_reminders(conn, datetime(2098, 6, 5, tzinfo=CHINA))
    # Two of these three are overdue to a clock in June 2098; nothing else moves.
    assert waiting >= 3
    assert later_due - due >= 2 and later_waiting + later_due == waiting + due

    async def exported() -> int | None:
        text = (await http.get("/metrics")).text
        line = next(x for x in text.splitlines() if x.startswith("jietiao_reminders_scheduled "))
        value = float(line.split()[1])
        return int(value) if value >= waiting else None

    assert await wait_for(exported) >= 3
