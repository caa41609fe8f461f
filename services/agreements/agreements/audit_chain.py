"""The audit trail as a hash chain, and the command that verifies one.

Each entry's hash covers the previous entry's hash and the entry itself (IOU,
position, time, actor, action, details) in a canonical JSON form, so removing,
reordering or editing any entry changes every hash after it. The head of the
chain is printed on the evidence page of the signed document.

    python -m agreements.audit_chain IOU_ID     # uses JIETIAO_DATABASE_URL
"""

import asyncio
import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

GENESIS = "0" * 64


def entry_hash(
    prev_hash: str,
    iou_id: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    detail: dict[str, Any],
) -> str:
    """The hash of one entry, chained to the one before it."""
    body = json.dumps(
        {
            "iou_id": str(iou_id),
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "detail": detail,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What verifying an IOU's chain found."""

    entries: int
    head: str
    broken_at: int | None

    @property
    def intact(self) -> bool:
        """True when every entry's hash is what its content and predecessor give."""
        return self.broken_at is None


async def verify(conn: AsyncConnection, iou_id: str) -> ChainCheck:
    """Recompute an IOU's chain from its entries and compare with the stored hashes."""
    rows = await conn.execute(
        text(
            "SELECT seq, at, actor, action, detail, prev_hash, entry_hash FROM audit_log"
            " WHERE iou_id = :id AND seq IS NOT NULL ORDER BY seq"
        ),
        {"id": iou_id},
    )
    previous, count = GENESIS, 0
    for expected_seq, row in enumerate(rows, start=1):
        count += 1
        computed = entry_hash(previous, iou_id, row.seq, row.at, row.actor, row.action, row.detail)
        if row.seq != expected_seq or row.prev_hash != previous or row.entry_hash != computed:
            return ChainCheck(count, previous, expected_seq)
        previous = row.entry_hash
    return ChainCheck(count, previous, None)


async def _main(iou_id: str) -> int:
    from jietiao_shared.db import make_engine

    from .settings import AgreementsSettings

    engine = make_engine(AgreementsSettings().database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            check = await verify(conn, iou_id)
    finally:
        await engine.dispose()
    state = "intact" if check.intact else f"BROKEN at entry {check.broken_at}"
    sys.stdout.write(f"{iou_id}: {check.entries} entries, chain {state}, head {check.head}\n")
    return 0 if check.intact else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m agreements.audit_chain IOU_ID")
    sys.exit(asyncio.run(_main(sys.argv[1])))
