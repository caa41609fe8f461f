"""Face verification sessions: bound to one purpose, matched to the party, used once.

A session names the agreement, the party and the action it may unlock, and the
name and ID number the party was entered with. When the provider reports a pass,
the person it saw must be that party; anything else is a recorded failure. The
outcome is announced on the bus; agreements consumes it once for its purpose.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jietiao_shared import outbox
from jietiao_shared.contracts import (
    Subject,
    VerificationAction,
    VerificationFailed,
    VerificationPassed,
)
from jietiao_shared.personal import id_number_sha256
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .face import FaceProvider, FaceResult, FaceSession


@dataclass(frozen=True)
class OpenedVerification:
    """A session the person can now complete at ``url``."""

    verification_id: str
    provider: str
    url: str
    expires_at: datetime


async def open_verification(
    conn: AsyncConnection,
    provider: FaceProvider,
    *,
    agreement_id: str,
    party_role: str,
    action: VerificationAction,
    account_id: str,
    name: str,
    id_number: str,
    ttl_seconds: int,
) -> OpenedVerification:
    """Create a session bound to (agreement, party, action) and start the check."""
    verification_id = str(uuid.uuid4())
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    started = await provider.start(
        conn,
        FaceSession(verification_id, expected_name=name, expected_id_number=id_number),
    )
    await conn.execute(
        text(
            "INSERT INTO verifications (id, agreement_id, party_role, action, account_id,"
            " expected_name, expected_id_sha256, provider, provider_ref, expires_at)"
            " VALUES (:id, :ag, :role, :action, :acc, :name, :idh, :prov, :ref, :exp)"
        ),
        {
            "id": verification_id,
            "ag": agreement_id,
            "role": party_role,
            "action": action,
            "acc": account_id,
            "name": name,
            "idh": id_number_sha256(id_number),
            "prov": provider.name,
            "ref": started.provider_ref,
            "exp": expires_at,
        },
    )
    return OpenedVerification(verification_id, provider.name, started.url, expires_at)


def judge(result: FaceResult, expected_name: str, expected_id_sha256: str) -> tuple[str, str]:
    """Decide a provider's result: ('passed', '') or ('failed', reason) or pending."""
    if result.status != "passed":
        return result.status, result.reason
    if result.seen_name != expected_name or result.seen_id_sha256 != expected_id_sha256:
        return "failed", "identity_mismatch"
    return "passed", ""


async def complete_verification(
    conn: AsyncConnection,
    provider: FaceProvider,
    verification_id: str,
    account_phone: str,
) -> str:
    """Pull the provider's result, decide it once, announce it; returns the status."""
    row = (
        await conn.execute(
            text("SELECT * FROM verifications WHERE id = :id FOR UPDATE"),
            {"id": verification_id},
        )
    ).first()
    if row is None:
        raise LookupError(verification_id)
    if row.status != "pending":
        return str(row.status)
    now = datetime.now(UTC)
    if row.expires_at <= now:
        status, reason = "expired", "session_expired"
    else:
        status, reason = judge(
            await provider.result(conn, verification_id),
            row.expected_name,
            row.expected_id_sha256,
        )
    if status == "pending":
        return status
    await conn.execute(
        text(
            "UPDATE verifications SET status = :s, failure_reason = :r, completed_at = :t"
            " WHERE id = :id"
        ),
        {"s": status, "r": reason or None, "t": now, "id": verification_id},
    )
    common = {
        "verification_id": verification_id,
        "agreement_id": str(row.agreement_id),
        "party_role": row.party_role,
        "action": row.action,
        "account_id": str(row.account_id),
    }
    if status == "passed":
        event = VerificationPassed(
            **common,
            account_phone=account_phone,
            verified_name=row.expected_name,
            id_number_sha256=row.expected_id_sha256,
            provider=row.provider,
            passed_at=now,
        )
        await outbox.add(
            conn,
            Subject.VERIFICATION_PASSED,
            event,
            correlation_id=common["agreement_id"],
        )
    else:
        failed = VerificationFailed(**common, reason=reason, failed_at=now)
        await outbox.add(
            conn,
            Subject.VERIFICATION_FAILED,
            failed,
            correlation_id=common["agreement_id"],
        )
    return status
