"""Repayment reminders: one per instalment, due at a local time in Asia/Shanghai.

Optionally an earlier one some days before. Time comes from a :class:`Clock`, so
tests run a year of reminders in seconds. Replicas claim reminders with ``SKIP
LOCKED``; a reminder fired late (after an outage) is sent once, its text naming
the real due date; an early reminder overtaken by its due-date reminder is
skipped rather than sent as a second, identical SMS.
"""

import asyncio
import logging
import time as monotonic_time
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from jietiao_shared.contracts import ScheduleReminders
from jietiao_shared.personal import normalise_phone
from jietiao_shared.service import Runtime
from prometheus_client import Gauge
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import sms, templates
from .settings import NotifySettings

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")

SCHEDULED = Gauge("jietiao_reminders_scheduled", "Reminders waiting for their time")
DUE = Gauge("jietiao_reminders_due", "Reminders whose time has come, not sent yet")
METRICS_EVERY_SECONDS = 5.0


class Clock(Protocol):
    """Where the reminder worker gets the time."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


def due_at(due_date: date, local_time: time) -> datetime:
    """When a reminder is due: ``local_time`` in Asia/Shanghai on ``due_date``."""
    return datetime.combine(due_date, local_time, tzinfo=CHINA)


async def schedule(
    conn: AsyncConnection,
    plan: ScheduleReminders,
    local_time: time,
    early_days: int | None = None,
    now: datetime | None = None,
    issued_at: datetime | None = None,
) -> int:
    """Store one reminder per instalment (and an earlier one if set); returns how many were new.

    An earlier reminder whose time has already passed when scheduling is left out.
    """
    await sms.lock_agreement(conn, plan.agreement_id)
    if await sms.flow_closed(conn, plan.agreement_id):
        log.warning("flow closed: reminders of %s not scheduled", plan.agreement_id)
        return 0
    if not await _newest(conn, plan.agreement_id, "schedule", issued_at):
        log.warning("stale schedule for %s ignored: a newer cancel came first", plan.agreement_id)
        return 0
    phone = normalise_phone(plan.borrower_phone)
    now = now or datetime.now(UTC)
    added = 0
    for item in plan.instalments:
        day = date.fromisoformat(item.due_date)
        when = {"due": due_at(day, local_time)}
        if early_days:
            early = due_at(day - timedelta(days=early_days), local_time)
            if early > now:
                when["early"] = early
        for kind, at in when.items():
            result = await conn.execute(
                text(
                    "INSERT INTO reminders (id, agreement_id, seq, kind, due_date, due_at,"
                    " total_fen, borrower_phone, status) VALUES (:id, :a, :seq, :kind,"
                    " :day, :due, :fen, :phone, 'scheduled')"
                    " ON CONFLICT (agreement_id, seq, kind) DO UPDATE SET status = 'scheduled',"
                    " cancelled_at = NULL, cancel_reason = NULL, due_at = EXCLUDED.due_at"
                    " WHERE reminders.status = 'cancelled'"
                ),
                {
                    "id": uuid.uuid4(),
                    "a": plan.agreement_id,
                    "seq": item.seq,
                    "kind": kind,
                    "day": day,
                    "due": at,
                    "fen": item.total_fen,
                    "phone": phone,
                },
            )
            added += result.rowcount
    log.info("%d reminders scheduled for %s", added, plan.agreement_id)
    return added


async def _newest(
    conn: AsyncConnection, agreement_id: str, command: str, issued_at: datetime | None
) -> bool:
    """Record ``command`` as the newest for the agreement, unless a newer one was applied."""
    result = await conn.execute(
        text(
            "INSERT INTO reminder_commands (agreement_id, command, issued_at)"
            " VALUES (:a, :c, :t) ON CONFLICT (agreement_id) DO UPDATE"
            " SET command = EXCLUDED.command, issued_at = EXCLUDED.issued_at"
            " WHERE reminder_commands.issued_at <= EXCLUDED.issued_at"
        ),
        {"a": agreement_id, "c": command, "t": issued_at or datetime.now(UTC)},
    )
    return result.rowcount == 1


async def cancel(
    conn: AsyncConnection, agreement_id: str, reason: str, issued_at: datetime | None = None
) -> int:
    """Cancel every reminder not sent yet, and drop reminder SMS still queued."""
    await sms.lock_agreement(conn, agreement_id)
    if not await _newest(conn, agreement_id, "cancel", issued_at):
        log.warning("stale cancel for %s ignored: a newer schedule came first", agreement_id)
        return 0
    result = await conn.execute(
        text(
            "UPDATE reminders SET status = 'cancelled', cancelled_at = now(),"
            " cancel_reason = :r WHERE agreement_id = :a AND status = 'scheduled'"
        ),
        {"a": agreement_id, "r": reason},
    )
    others = frozenset(templates.TEMPLATES) - {"repayment_due"}
    await sms.drop_queued(conn, agreement_id, others, "reminders_cancelled")
    log.info("%d reminders of %s cancelled", result.rowcount, agreement_id)
    return result.rowcount


# --- the worker ---------------------------------------------------------------


SYSTEM_CLOCK = SystemClock()


async def reminder_worker(runtime: Runtime, clock: Clock = SYSTEM_CLOCK) -> None:
    """Turn due reminders into queued repayment_due SMS until cancelled."""
    settings = cast(NotifySettings, runtime.settings)
    counted = 0.0
    while True:
        if monotonic_time.monotonic() - counted >= METRICS_EVERY_SECONDS:
            counted = monotonic_time.monotonic()
            async with runtime.engine.connect() as conn:
                await count_reminders(conn, clock.now())
        fired = await fire_next(runtime.engine, settings.landing_url, clock)
        if not fired:
            await asyncio.sleep(settings.reminder_poll_seconds)


async def count_reminders(conn: AsyncConnection, now: datetime) -> tuple[int, int]:
    """Update the reminder gauges; returns (waiting, due and not sent)."""
    row = (
        await conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE due_at > :now) AS waiting,"
                " count(*) FILTER (WHERE due_at <= :now) AS due"
                " FROM reminders WHERE status = 'scheduled'"
            ),
            {"now": now},
        )
    ).one()
    SCHEDULED.set(row.waiting)
    DUE.set(row.due)
    return int(row.waiting), int(row.due)


async def fire_next(engine: AsyncEngine, landing_url: str, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Queue the SMS of one due reminder; False when none could be taken.

    The agreement's lock is taken before the reminder's row lock, in the same
    order as closing a flow does, so the two never deadlock.
    """
    now = clock.now()
    async with engine.begin() as conn:
        for candidate in await _due_candidates(conn, now):
            if not await sms.try_lock_agreement(conn, candidate.agreement_id):
                continue
            row = await _claim(conn, candidate.id)
            if row is None:
                continue
            if row.kind == "early" and await _overtaken(conn, row, now):
                await _skip(conn, row, now)
            else:
                await _fire(conn, row, landing_url, now)
            return True
    return False


async def _due_candidates(conn: AsyncConnection, now: datetime) -> list[Row[Any]]:
    rows = await conn.execute(
        text(
            "SELECT id, agreement_id FROM reminders WHERE status = 'scheduled'"
            " AND due_at <= :now ORDER BY due_at LIMIT 20"
        ),
        {"now": now},
    )
    return list(rows.all())


async def _claim(conn: AsyncConnection, reminder_id: uuid.UUID) -> Row[Any] | None:
    return (
        await conn.execute(
            text(
                "SELECT id, agreement_id, seq, kind, due_date, borrower_phone FROM reminders"
                " WHERE id = :id AND status = 'scheduled' FOR UPDATE SKIP LOCKED"
            ),
            {"id": reminder_id},
        )
    ).first()


async def _overtaken(conn: AsyncConnection, row: Row[Any], now: datetime) -> bool:
    """Whether the due-date reminder of the same instalment is due too (a late catch-up)."""
    found = await conn.scalar(
        text(
            "SELECT 1 FROM reminders WHERE agreement_id = :a AND seq = :seq"
            " AND kind = 'due' AND due_at <= :now"
        ),
        {"a": row.agreement_id, "seq": row.seq, "now": now},
    )
    return found is not None


async def _skip(conn: AsyncConnection, row: Row[Any], now: datetime) -> None:
    await conn.execute(
        text(
            "UPDATE reminders SET status = 'cancelled', cancelled_at = :now,"
            " cancel_reason = 'overtaken' WHERE id = :id"
        ),
        {"id": row.id, "now": now},
    )
    log.info("early reminder %s of %s overtaken: skipped", row.id, row.agreement_id)


async def _fire(conn: AsyncConnection, row: Row[Any], landing_url: str, now: datetime) -> None:
    sms_id = await sms.queue_sms(
        conn,
        source_id=f"reminder:{row.id}",
        kind="repayment_due",
        phone=row.borrower_phone,
        params={"due_date": row.due_date.isoformat()},
        agreement_id=row.agreement_id,
        landing_url=landing_url,
    )
    await conn.execute(
        text(
            "UPDATE reminders SET status = 'sent', sent_at = :now,"
            " sms_id = COALESCE(:sms, sms_id) WHERE id = :id"
        ),
        {"id": row.id, "sms": sms_id, "now": now},
    )
    log.info("reminder %s of %s fired as sms %s", row.id, row.agreement_id, sms_id)
