"""Repayment reminders: one per instalment, due at a local time in Asia/Shanghai."""

import asyncio
import logging
import uuid
from datetime import date, datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo

from jietiao_shared.contracts import ScheduleReminders
from jietiao_shared.personal import normalise_phone
from jietiao_shared.service import Runtime
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import sms, templates
from .settings import NotifySettings

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")


def due_at(due_date: date, local_time: time) -> datetime:
    """When a reminder is due: ``local_time`` in Asia/Shanghai on ``due_date``."""
    return datetime.combine(due_date, local_time, tzinfo=CHINA)


async def schedule(conn: AsyncConnection, plan: ScheduleReminders, local_time: time) -> int:
    """Store one reminder per instalment; returns how many were new."""
    await sms.lock_agreement(conn, plan.agreement_id)
    if await sms.flow_closed(conn, plan.agreement_id):
        log.warning("flow closed: reminders of %s not scheduled", plan.agreement_id)
        return 0
    phone = normalise_phone(plan.borrower_phone)
    added = 0
    for item in plan.instalments:
        day = date.fromisoformat(item.due_date)
        result = await conn.execute(
            text(
                "INSERT INTO reminders (id, agreement_id, seq, due_date, due_at,"
                " total_fen, borrower_phone, status) VALUES (:id, :a, :seq, :day,"
                " :due, :fen, :phone, 'scheduled')"
                " ON CONFLICT (agreement_id, seq) DO NOTHING"
            ),
            {
                "id": uuid.uuid4(),
                "a": plan.agreement_id,
                "seq": item.seq,
                "day": day,
                "due": due_at(day, local_time),
                "fen": item.total_fen,
                "phone": phone,
            },
        )
        added += result.rowcount
    log.info("%d reminders scheduled for %s", added, plan.agreement_id)
    return added


async def cancel(conn: AsyncConnection, agreement_id: str, reason: str) -> int:
    """Cancel every reminder not sent yet, and drop reminder SMS still queued."""
    await sms.lock_agreement(conn, agreement_id)
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


async def reminder_worker(runtime: Runtime) -> None:
    """Turn due reminders into queued repayment_due SMS until cancelled."""
    settings = cast(NotifySettings, runtime.settings)
    while True:
        fired = await fire_next(runtime.engine, settings.landing_url)
        if not fired:
            await asyncio.sleep(settings.reminder_poll_seconds)


async def fire_next(engine: AsyncEngine, landing_url: str) -> bool:
    """Queue the SMS of one due reminder; False when none could be taken.

    The agreement's lock is taken before the reminder's row lock, in the same
    order as closing a flow does, so the two never deadlock.
    """
    async with engine.begin() as conn:
        for candidate in await _due_candidates(conn):
            if not await sms.try_lock_agreement(conn, candidate.agreement_id):
                continue
            row = await _claim(conn, candidate.id)
            if row is not None:
                await _fire(conn, row, landing_url)
                return True
    return False


async def _due_candidates(conn: AsyncConnection) -> list[Row[Any]]:
    rows = await conn.execute(
        text(
            "SELECT id, agreement_id FROM reminders WHERE status = 'scheduled'"
            " AND due_at <= now() ORDER BY due_at LIMIT 20"
        )
    )
    return list(rows.all())


async def _claim(conn: AsyncConnection, reminder_id: uuid.UUID) -> Row[Any] | None:
    return (
        await conn.execute(
            text(
                "SELECT id, agreement_id, due_date, borrower_phone FROM reminders"
                " WHERE id = :id AND status = 'scheduled' FOR UPDATE SKIP LOCKED"
            ),
            {"id": reminder_id},
        )
    ).first()


async def _fire(conn: AsyncConnection, row: Row[Any], landing_url: str) -> None:
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
            "UPDATE reminders SET status = 'sent', sent_at = now(),"
            " sms_id = COALESCE(:sms, sms_id) WHERE id = :id"
        ),
        {"id": row.id, "sms": sms_id},
    )
    log.info("reminder %s of %s fired as sms %s", row.id, row.agreement_id, sms_id)
