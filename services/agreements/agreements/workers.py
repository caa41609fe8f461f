"""Background work of agreements: deadlines that no person will trigger."""

import asyncio
import logging

from jietiao_shared.service import Runtime
from sqlalchemy import text

from . import flows, store
from .settings import AgreementsSettings

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
