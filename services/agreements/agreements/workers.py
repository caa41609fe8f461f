"""Background work of agreements: deadlines that no person will trigger."""

import asyncio
import logging

from jietiao_shared.service import Runtime
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import flows, store, stuck
from .domain.saga import Status
from .settings import AgreementsSettings, get_settings

log = logging.getLogger(__name__)


async def expire_due(runtime: Runtime, batch: int = 50) -> int:
    """Expire unsigned IOUs past their deadline; returns how many."""
    expired = 0
    async with runtime.engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT id FROM ious WHERE status IN"
                " ('draft', 'awaiting_initiator', 'awaiting_counterparty')"
                " AND expires_at < now() ORDER BY expires_at LIMIT :n"
                " FOR UPDATE SKIP LOCKED"
            ),
            {"n": batch},
        )
        for row in rows.all():
            iou = await store.load(conn, str(row.id))
            assert iou is not None
            await flows.expire(conn, iou)
            expired += 1
    return expired


async def expire_unsigned(runtime: Runtime) -> None:
    """Sweep for unsigned IOUs whose time ran out, forever."""
    settings = runtime.settings
    assert isinstance(settings, AgreementsSettings)
    while True:
        if await expire_due(runtime):
            continue
        await asyncio.sleep(settings.expiry_sweep_seconds)


SAGAS = Gauge("jietiao_ious", "IOUs by status", ["status"])
STUCK = Gauge("jietiao_ious_stuck", "IOUs whose pending step is overdue")


async def count_sagas(conn: AsyncConnection) -> None:
    """Update the saga gauges."""
    rows = await conn.execute(text("SELECT status, count(*) AS n FROM ious GROUP BY status"))
    counts = {r.status: r.n for r in rows}
    for status in Status:
        SAGAS.labels(status.value).set(counts.get(status.value, 0))
    settings = get_settings()
    STUCK.set(len(await stuck.list_stuck(conn, settings.stuck_after_seconds)))


async def lapse_void_requests(runtime: Runtime, batch: int = 50) -> int:
    """Let void requests whose answer deadline passed lapse; returns how many."""
    lapsed = 0
    async with runtime.engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT v.id, v.iou_id FROM void_requests v JOIN ious i ON i.id = v.iou_id"
                " WHERE v.status = 'open' AND v.answer_due_at < now()"
                " ORDER BY v.answer_due_at LIMIT :n FOR UPDATE OF i SKIP LOCKED"
            ),
            {"n": batch},
        )
        for row in rows.all():
            iou = await store.load(conn, str(row.iou_id))
            request = await store.open_void_request(conn, str(row.iou_id))
            if iou is None or request is None or request.status != "open":
                continue
            await flows.void_answer_overdue(conn, iou, request)
            lapsed += 1
    return lapsed


async def sweep_sagas(runtime: Runtime) -> None:
    """Drive stuck sagas again and lapse unanswered void requests, forever."""
    settings = runtime.settings
    assert isinstance(settings, AgreementsSettings)
    while True:
        async with runtime.engine.begin() as conn:
            await stuck.nudge_stuck(conn, settings.stuck_after_seconds)
            await count_sagas(conn)
        await lapse_void_requests(runtime)
        await asyncio.sleep(settings.stuck_sweep_seconds)
