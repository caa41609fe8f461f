"""Sagas that stopped moving: found, listed for operators, and driven again.

A step is stuck when the saga waits for something that should have come long ago:
a preview never rendered, a signed or voided copy never produced (documents was
down past its retries, or a render was dead-lettered). Asking documents again is
safe: rendering is idempotent per (agreement, kind, version).
"""

import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import flows, store

log = logging.getLogger(__name__)

STUCK_WHEN: dict[str, str] = {
    "preview_not_rendered": "i.status = 'draft' AND i.preview_sha256 IS NULL"
    " AND i.created_at < now() - make_interval(secs => :age)",
    "signed_copy_missing": "i.status IN ('effective', 'void_requested', 'voided')"
    " AND i.signed_sha256 IS NULL AND i.effective_at < now() - make_interval(secs => :age)",
    "voided_copy_missing": "i.status = 'voided' AND i.voided_sha256 IS NULL"
    " AND i.ended_at < now() - make_interval(secs => :age)",
}


async def list_stuck(conn: AsyncConnection, age_seconds: float) -> list[dict[str, Any]]:
    """Every stuck saga with why, oldest first."""
    found: list[dict[str, Any]] = await _pending_compensations(conn, age_seconds)
    for reason, condition in STUCK_WHEN.items():
        rows = await conn.execute(
            text(
                "SELECT i.id, i.status, i.updated_at, i.nudged_at, i.nudges FROM ious i"
                f" WHERE {condition} ORDER BY i.updated_at"
            ),
            {"age": age_seconds},
        )
        for row in rows:
            found.append(
                {
                    "agreement_id": str(row.id),
                    "reason": reason,
                    "status": row.status,
                    "since": row.updated_at.isoformat(),
                    "nudged_at": row.nudged_at.isoformat() if row.nudged_at else None,
                    "nudges": row.nudges,
                }
            )
    return found


async def _pending_compensations(conn: AsyncConnection, age_seconds: float) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            "SELECT c.iou_id, c.compensation, c.requested_at, i.status FROM saga_compensations c"
            " JOIN ious i ON i.id = c.iou_id WHERE c.completed_at IS NULL"
            " AND c.requested_at < now() - make_interval(secs => :age) ORDER BY c.requested_at"
        ),
        {"age": age_seconds},
    )
    return [
        {
            "agreement_id": str(r.iou_id),
            "reason": f"compensation_pending:{r.compensation}",
            "status": r.status,
            "since": r.requested_at.isoformat(),
            "nudged_at": None,
            "nudges": 0,
        }
        for r in rows
    ]


async def nudge_stuck(conn: AsyncConnection, age_seconds: float, batch: int = 20) -> int:
    """Drive each stuck saga's pending step again, at most once per ``age_seconds``."""
    nudged = 0
    for reason, condition in STUCK_WHEN.items():
        rows = await conn.execute(
            text(
                f"SELECT i.id FROM ious i WHERE {condition} AND (i.nudged_at IS NULL"
                " OR i.nudged_at < now() - make_interval(secs => :age))"
                " ORDER BY i.updated_at LIMIT :n FOR UPDATE SKIP LOCKED"
            ),
            {"age": age_seconds, "n": batch},
        )
        for row in rows.all():
            iou = await store.load(conn, str(row.id))
            assert iou is not None
            await _drive_again(conn, iou, reason)
            await conn.execute(
                text("UPDATE ious SET nudged_at = now(), nudges = nudges + 1 WHERE id = :id"),
                {"id": iou.id},
            )
            await store.audit(conn, iou.id, "system", "saga_nudged", reason=reason)
            log.warning("stuck saga driven again: %s (%s)", iou.id, reason)
            nudged += 1
    return nudged


async def _drive_again(conn: AsyncConnection, iou: store.Iou, reason: str) -> None:
    if reason == "preview_not_rendered":
        await flows.render(conn, iou, "preview")
    elif reason == "signed_copy_missing":
        await flows.render(conn, iou, "signed")
    else:
        confirmed = (
            await conn.execute(
                text(
                    "SELECT * FROM void_requests WHERE iou_id = :id AND status = 'confirmed'"
                    " ORDER BY closed_at DESC LIMIT 1"
                ),
                {"id": iou.id},
            )
        ).one()
        await flows.render(
            conn, iou, "voided", voided=flows.void_details(confirmed, confirmed.closed_at)
        )
