"""Data access for IOUs: load under a row lock, save status, parties, audit.

Personal data at rest: a party's phone and ID number are stored only encrypted
(:class:`jietiao_shared.crypto.FieldCipher`, bound to their column, IOU and role)
with a keyed hash of the phone for the folder lookup. The parties are not stored
in the ``terms`` column; :func:`load` puts them back into ``Iou.terms`` (as
``lender`` and ``borrower``) so that the document is rendered from the same terms.
In memory, :class:`Party` holds the plaintext.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from jietiao_shared.crypto import FieldCipher
from jietiao_shared.personal import id_number_sha256
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit_chain
from .settings import get_cipher

log = logging.getLogger(__name__)

PARTY_FIELDS = ("name", "id_number", "phone")
"""What the terms carry of each party (for the document), rebuilt on load."""


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


def _context(column: str, iou_id: str, role: str) -> str:
    """What an encrypted party value is bound to: its column, IOU and role."""
    return f"parties.{column}/{iou_id}/{role}"


def phone_hash(phone: str, cipher: FieldCipher | None = None) -> str:
    """The keyed lookup hash of a normalised (E.164) phone number."""
    return (cipher or get_cipher()).lookup_hash(phone, kind="phone")


def id_fingerprint_hash(id_sha256: str, cipher: FieldCipher | None = None) -> str:
    """The keyed hash of an ID number's SHA-256 fingerprint (as identity announces it)."""
    return (cipher or get_cipher()).lookup_hash(id_sha256.lower(), kind="id_number_sha256")


def id_number_hash(id_number: str, cipher: FieldCipher | None = None) -> str:
    """The keyed hash of a normalised ID number, comparable with :func:`id_fingerprint_hash`."""
    return id_fingerprint_hash(id_number_sha256(id_number), cipher)


def _party(row: Any) -> Party:
    data = {k: v for k, v in row._mapping.items() if k in Party.__dataclass_fields__}
    iou_id, role = str(row.iou_id), row.role
    cipher = get_cipher()
    for column in ("phone", "id_number"):
        sealed = row._mapping[f"{column}_enc"]
        if sealed is not None:
            data[column] = cipher.decrypt(sealed, context=_context(column, iou_id, role))
    for key in ("signature_id", "verification_id"):
        data[key] = str(data[key]) if data[key] else None
    return Party(**data)


def _with_parties(iou: Iou) -> Iou:
    """Put the parties' details back into the terms, for the document."""
    for role, party in iou.parties.items():
        iou.terms[role] = {key: getattr(party, key) for key in PARTY_FIELDS}
    return iou


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
    return _with_parties(iou)


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
            "terms": json.dumps(
                {k: v for k, v in iou.terms.items() if k not in iou.parties},
                ensure_ascii=False,
            ),
            "nv": iou.notice_version,
            "na": iou.notice_accepted_at,
            "rem": iou.reminders_enabled,
            "exp": iou.expires_at,
        },
    )
    cipher = get_cipher()
    for party in iou.parties.values():
        await conn.execute(
            text(
                "INSERT INTO parties (iou_id, role, name, id_number_enc, phone_enc, phone_hash)"
                " VALUES (:id, :role, :name, :idn, :phone, :phash)"
            ),
            {
                "id": iou.id,
                "role": party.role,
                "name": party.name,
                "idn": cipher.encrypt(
                    party.id_number, context=_context("id_number", iou.id, party.role)
                ),
                "phone": cipher.encrypt(party.phone, context=_context("phone", iou.id, party.role)),
                "phash": phone_hash(party.phone, cipher),
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
    """Append one entry to the IOU's hash-chained audit trail."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('audit:' || :id))"), {"id": iou_id}
    )
    last = (
        await conn.execute(
            text(
                "SELECT seq, entry_hash FROM audit_log WHERE iou_id = :id AND seq IS NOT NULL"
                " ORDER BY seq DESC LIMIT 1"
            ),
            {"id": iou_id},
        )
    ).first()
    seq = (last.seq if last else 0) + 1
    prev = last.entry_hash if last else audit_chain.GENESIS
    at = datetime.now(UTC)
    stored = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    await conn.execute(
        text(
            "INSERT INTO audit_log (iou_id, at, actor, action, detail, seq, prev_hash, entry_hash)"
            " VALUES (:id, :at, :actor, :action, CAST(:detail AS jsonb), :seq, :prev, :hash)"
        ),
        {
            "id": iou_id,
            "at": at,
            "actor": actor,
            "action": action,
            "detail": json.dumps(stored, ensure_ascii=False),
            "seq": seq,
            "prev": prev,
            "hash": audit_chain.entry_hash(prev, iou_id, seq, at, actor, action, stored),
        },
    )


async def audit_trail(conn: AsyncConnection, iou_id: str) -> list[dict[str, Any]]:
    """The IOU's audit trail, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT at, actor, action, detail, seq, entry_hash FROM audit_log"
            " WHERE iou_id = :id ORDER BY id"
        ),
        {"id": iou_id},
    )
    return [dict(r._mapping) for r in rows]


async def folder(conn: AsyncConnection, phone: str, statuses: tuple[str, ...] | None) -> list[Iou]:
    """The IOUs in which ``phone`` is a party, newest first."""
    query = (
        f"SELECT {', '.join('i.' + c.strip() for c in IOU_COLUMNS.split(','))}"
        " FROM ious i JOIN parties p ON p.iou_id = i.id WHERE p.phone_hash = :phone_hash"
    )
    params: dict[str, Any] = {"phone_hash": phone_hash(phone)}
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
    return [_with_parties(i) for i in ious]


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


async def take_verification(
    conn: AsyncConnection,
    iou_id: str,
    role: str,
    action: str,
    not_before: datetime | None = None,
) -> Any:
    """Use up one unused passed verification for (IOU, party, action), if any.

    ``not_before`` ties a check to one occasion (a void request): a check passed
    before that occasion began belongs to an earlier one and is never used.
    """
    return (
        await conn.execute(
            text(
                "UPDATE verifications_received SET used_at = now() WHERE verification_id = ("
                " SELECT verification_id FROM verifications_received"
                " WHERE iou_id = :id AND role = :role AND action = :action"
                " AND used_at IS NULL AND rejected_reason IS NULL"
                " AND (CAST(:not_before AS timestamptz) IS NULL OR passed_at >= :not_before)"
                " ORDER BY passed_at LIMIT 1 FOR UPDATE)"
                " RETURNING verification_id, passed_at"
            ),
            {"id": iou_id, "role": role, "action": action, "not_before": not_before},
        )
    ).first()


# --- verified identities ------------------------------------------------------


class VerifiedIdentity(NamedTuple):
    """Who an account proved to be by a face check: name and keyed ID-number hash."""

    name: str
    id_number_hash: str


async def record_verified_identity(
    conn: AsyncConnection,
    *,
    account_phone: str,
    name: str,
    id_sha256: str,
    verification_id: str,
    verified_at: datetime,
) -> None:
    """Remember the identity an account proved; a later check replaces an earlier one."""
    await conn.execute(
        text(
            "INSERT INTO verified_identities (account_phone_hash, verified_name,"
            " id_number_hash, verification_id, verified_at)"
            " VALUES (:p, :n, :h, :v, :t) ON CONFLICT (account_phone_hash) DO UPDATE SET"
            " verified_name = EXCLUDED.verified_name, id_number_hash = EXCLUDED.id_number_hash,"
            " verification_id = EXCLUDED.verification_id, verified_at = EXCLUDED.verified_at,"
            " updated_at = now() WHERE verified_identities.verified_at < EXCLUDED.verified_at"
        ),
        {
            "p": phone_hash(account_phone),
            "n": name,
            "h": id_fingerprint_hash(id_sha256),
            "v": verification_id,
            "t": verified_at,
        },
    )


async def verified_identity(conn: AsyncConnection, account_phone: str) -> VerifiedIdentity | None:
    """The identity the account with this phone proved, if it ever passed a face check."""
    row = (
        await conn.execute(
            text(
                "SELECT verified_name, id_number_hash FROM verified_identities"
                " WHERE account_phone_hash = :p"
            ),
            {"p": phone_hash(account_phone)},
        )
    ).first()
    return VerifiedIdentity(row.verified_name, row.id_number_hash) if row else None


async def record_verification(conn: AsyncConnection, event: Any, rejected: str | None) -> None:
    """Store a passed face check for its IOU and action (phone and ID only as keyed hashes)."""
    await conn.execute(
        text(
            "INSERT INTO verifications_received (verification_id, iou_id, role, action,"
            " account_phone_hash, verified_name, id_number_hash, passed_at, rejected_reason)"
            " VALUES (:v, :i, :r, :a, :p, :n, :h, :t, :rej)"
            " ON CONFLICT (verification_id) DO NOTHING"
        ),
        {
            "v": event.verification_id,
            "i": event.agreement_id,
            "r": event.party_role,
            "a": event.action,
            "p": phone_hash(event.account_phone),
            "n": event.verified_name,
            "h": id_fingerprint_hash(event.id_number_sha256),
            "t": event.passed_at,
            "rej": rejected,
        },
    )


# --- sealing rows written in plaintext or under an older key -------------------


async def seal_plaintext(conn: AsyncConnection, cipher: FieldCipher | None = None) -> int:
    """Encrypt party rows still in plaintext (from before migration 0002) or under a
    key other than the current one, and hash plaintext phones of verifications.

    Runs at start; returns how many party rows it rewrote.
    """
    cipher = cipher or get_cipher()
    rows = await conn.execute(
        text(
            "SELECT * FROM parties WHERE phone_enc IS NULL OR id_number_enc IS NULL"
            " OR split_part(phone_enc, ':', 1) <> :kid"
            " OR split_part(id_number_enc, ':', 1) <> :kid FOR UPDATE"
        ),
        {"kid": cipher.current_kid},
    )
    count = 0
    for row in rows.all():
        party = _party(row)
        iou_id = str(row.iou_id)
        await conn.execute(
            text(
                "UPDATE parties SET phone_enc = :pe, id_number_enc = :ie, phone_hash = :ph,"
                " phone = NULL, id_number = NULL WHERE iou_id = :id AND role = :role"
            ),
            {
                "pe": cipher.encrypt(party.phone, context=_context("phone", iou_id, row.role)),
                "ie": cipher.encrypt(
                    party.id_number, context=_context("id_number", iou_id, row.role)
                ),
                "ph": phone_hash(party.phone, cipher),
                "id": iou_id,
                "role": row.role,
            },
        )
        count += 1
    legacy = await conn.execute(
        text(
            "SELECT verification_id, account_phone, id_number_sha256 FROM verifications_received"
            " WHERE account_phone IS NOT NULL OR id_number_sha256 IS NOT NULL FOR UPDATE"
        )
    )
    for v in legacy.all():
        await conn.execute(
            text(
                "UPDATE verifications_received SET account_phone_hash = :p, id_number_hash = :h,"
                " account_phone = NULL, id_number_sha256 = NULL WHERE verification_id = :v"
            ),
            {
                "p": phone_hash(v.account_phone, cipher) if v.account_phone else None,
                "h": id_fingerprint_hash(v.id_number_sha256, cipher)
                if v.id_number_sha256
                else None,
                "v": v.verification_id,
            },
        )
    if count:
        log.info("sealed %d party rows under key %s", count, cipher.current_kid)
    return count
