"""Data access for IOUs: load under a row lock, save status, parties, audit."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class Party:
    """One side of an IOU and how far it got in signing."""

    role: str
    name: str
    id_number: str
    phone: str
    signature_id: str | None = None
    signature_sha256: str | None = None
    signature_doc: str | None = None
    signature_at: datetime | None = None
    verification_id: str | None = None
    verified_at: datetime | None = None
    signed_at: datetime | None = None


@dataclass
class Iou:
    """An IOU as the saga sees it."""

    id: str
    status: str
    initiator_role: str
    initiator_account_id: str
    terms: dict[str, Any]
    notice_version: str
    notice_accepted_at: datetime
    reminders_enabled: bool
    preview_version: int
    preview_sha256: str | None
    signed_sha256: str | None
    voided_sha256: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    effective_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    parties: dict[str, Party] = field(default_factory=dict)

    @property
    def counterparty_role(self) -> str:
        """The role of the party who did not start the IOU."""
        return "borrower" if self.initiator_role == "lender" else "lender"

    def role_of(self, phone: str) -> str | None:
        """The role of the person with this phone number, if a party."""
        for role, party in self.parties.items():
            if party.phone == phone:
                return role
        return None


IOU_COLUMNS = (
    "id, status, initiator_role, initiator_account_id, terms, notice_version,"
    " notice_accepted_at, reminders_enabled, preview_version, preview_sha256,"
    " signed_sha256, voided_sha256, version, created_at, updated_at, expires_at,"
    " effective_at, ended_at, end_reason"
)


def _iou(row: Any) -> Iou:
    data = dict(row._mapping)
    data["id"] = str(data["id"])
    data["initiator_account_id"] = str(data["initiator_account_id"])
    return Iou(**data)


def _party(row: Any) -> Party:
    data = {k: v for k, v in row._mapping.items() if k != "iou_id"}
    for key in ("signature_id", "verification_id"):
        data[key] = str(data[key]) if data[key] else None
    return Party(**data)


async def load(conn: AsyncConnection, iou_id: str, *, lock: bool = False) -> Iou | None:
    """One IOU with its parties; ``lock`` holds its row until the transaction ends."""
    try:
        uuid.UUID(str(iou_id))
    except ValueError:
        return None
    suffix = " FOR UPDATE" if lock else ""
    row = (
        await conn.execute(
            text(f"SELECT {IOU_COLUMNS} FROM ious WHERE id = :id{suffix}"),
            {"id": iou_id},
        )
    ).first()
    if row is None:
        return None
    iou = _iou(row)
    parties = await conn.execute(text("SELECT * FROM parties WHERE iou_id = :id"), {"id": iou_id})
    iou.parties = {p.role: _party(p) for p in parties}
    return iou


async def insert(conn: AsyncConnection, iou: Iou) -> None:
    """Store a new IOU and its parties."""
    await conn.execute(
        text(
            "INSERT INTO ious (id, status, initiator_role, initiator_account_id, terms,"
            " notice_version, notice_accepted_at, reminders_enabled, expires_at)"
            " VALUES (:id, :status, :role, :acc, CAST(:terms AS jsonb), :nv, :na, :rem, :exp)"
        ),
        {
            "id": iou.id,
            "status": iou.status,
            "role": iou.initiator_role,
            "acc": iou.initiator_account_id,
            "terms": json.dumps(iou.terms, ensure_ascii=False),
            "nv": iou.notice_version,
            "na": iou.notice_accepted_at,
            "rem": iou.reminders_enabled,
            "exp": iou.expires_at,
        },
    )
    for party in iou.parties.values():
        await conn.execute(
            text(
                "INSERT INTO parties (iou_id, role, name, id_number, phone)"
                " VALUES (:id, :role, :name, :idn, :phone)"
            ),
            {
                "id": iou.id,
                "role": party.role,
                "name": party.name,
                "idn": party.id_number,
                "phone": party.phone,
            },
        )


async def set_status(
    conn: AsyncConnection, iou: Iou, status: str, *, end_reason: str | None = None
) -> None:
    """Move the IOU to ``status`` and bump its version."""
    effective = status == "effective" and iou.effective_at is None
    ended = status in ("voided", "withdrawn", "refused", "expired")
    await conn.execute(
        text(
            "UPDATE ious SET status = :s, version = version + 1, updated_at = now(),"
            " effective_at = CASE WHEN :eff THEN now() ELSE effective_at END,"
            " ended_at = CASE WHEN :end THEN now() ELSE ended_at END,"
            " end_reason = COALESCE(:reason, end_reason) WHERE id = :id"
        ),
        {
            "s": status,
            "eff": effective,
            "end": ended,
            "reason": end_reason,
            "id": iou.id,
        },
    )
    iou.status = status
    iou.version += 1


async def update_iou(conn: AsyncConnection, iou_id: str, **values: Any) -> None:
    """Set some columns of an IOU."""
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await conn.execute(
        text(f"UPDATE ious SET {assignments}, updated_at = now() WHERE id = :id"),
        {**values, "id": iou_id},
    )


async def update_party(conn: AsyncConnection, iou_id: str, role: str, **values: Any) -> None:
    """Set some columns of one party."""
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await conn.execute(
        text(f"UPDATE parties SET {assignments} WHERE iou_id = :id AND role = :role"),
        {**values, "id": iou_id, "role": role},
    )


async def audit(conn: AsyncConnection, iou_id: str, actor: str, action: str, **detail: Any) -> None:
    """Append one line to the IOU's audit trail."""
    await conn.execute(
        text(
            "INSERT INTO audit_log (iou_id, actor, action, detail)"
            " VALUES (:id, :actor, :action, CAST(:detail AS jsonb))"
        ),
        {
            "id": iou_id,
            "actor": actor,
            "action": action,
            "detail": json.dumps(detail, ensure_ascii=False, default=str),
        },
    )


async def audit_trail(conn: AsyncConnection, iou_id: str) -> list[dict[str, Any]]:
    """The IOU's audit trail, oldest first."""
    rows = await conn.execute(
        text("SELECT at, actor, action, detail FROM audit_log WHERE iou_id = :id ORDER BY id"),
        {"id": iou_id},
    )
    return [dict(r._mapping) for r in rows]


async def folder(conn: AsyncConnection, phone: str, statuses: tuple[str, ...] | None) -> list[Iou]:
    """The IOUs in which ``phone`` is a party, newest first."""
    query = (
        f"SELECT {', '.join('i.' + c.strip() for c in IOU_COLUMNS.split(','))}"
        " FROM ious i JOIN parties p ON p.iou_id = i.id WHERE p.phone = :phone"
    )
    params: dict[str, Any] = {"phone": phone}
    if statuses:
        query += " AND i.status = ANY(:statuses)"
        params["statuses"] = list(statuses)
    rows = (await conn.execute(text(query + " ORDER BY i.created_at DESC LIMIT 200"), params)).all()
    ious = [_iou(r) for r in rows]
    if ious:
        parties = await conn.execute(
            text("SELECT * FROM parties WHERE iou_id = ANY(:ids)"),
            {"ids": [i.id for i in ious]},
        )
        by_id = {i.id: i for i in ious}
        for p in parties:
            by_id[str(p.iou_id)].parties[p.role] = _party(p)
    return ious


async def open_void_request(conn: AsyncConnection, iou_id: str) -> Any:
    """The void request still in progress on an IOU, if any."""
    return (
        await conn.execute(
            text(
                "SELECT * FROM void_requests WHERE iou_id = :id"
                " AND status IN ('awaiting_verification', 'open')"
            ),
            {"id": iou_id},
        )
    ).first()


async def take_verification(conn: AsyncConnection, iou_id: str, role: str, action: str) -> Any:
    """Use up one unused passed verification for (IOU, party, action), if any."""
    return (
        await conn.execute(
            text(
                "UPDATE verifications_received SET used_at = now() WHERE verification_id = ("
                " SELECT verification_id FROM verifications_received"
                " WHERE iou_id = :id AND role = :role AND action = :action"
                " AND used_at IS NULL AND rejected_reason IS NULL"
                " ORDER BY passed_at LIMIT 1 FOR UPDATE)"
                " RETURNING verification_id, passed_at"
            ),
            {"id": iou_id, "role": role, "action": action},
        )
    ).first()
