"""Background work of identity: face-check sessions that ran out of time."""

import asyncio
import logging

from jietiao_shared.service import Runtime
from sqlalchemy import text

from . import verifications
from .face import make_provider
from .settings import IdentitySettings

log = logging.getLogger(__name__)


async def expire_due(runtime: Runtime, batch: int = 50) -> int:
    """Close pending sessions past their deadline as expired; returns how many."""
    settings = runtime.settings
    assert isinstance(settings, IdentitySettings)
    provider = make_provider(settings)
    async with runtime.engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT id FROM verifications WHERE status = 'pending' AND expires_at < now()"
                " ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"n": batch},
        )
        due = [str(r.id) for r in rows]
        for verification_id in due:
            await verifications.complete_verification(conn, provider, verification_id, "")
    if due:
        log.info("%d face-check sessions expired", len(due))
    return len(due)


async def expire_sessions(runtime: Runtime) -> None:
    """Sweep for expired face-check sessions, forever."""
    settings = runtime.settings
    assert isinstance(settings, IdentitySettings)
    while True:
        if await expire_due(runtime):
            continue
        await asyncio.sleep(settings.verification_sweep_seconds)
