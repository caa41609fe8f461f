"""One-time login codes: random, short-lived, single-use, hashed, rate-limited."""

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from jietiao_shared import outbox
from jietiao_shared.contracts import SendSms, Subject
from jietiao_shared.errors import ApiError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .settings import IdentitySettings


def code_hash(pepper: bytes, phone: str, code: str) -> str:
    """Keyed hash of a code for one phone number."""
    return hmac.new(pepper, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def send_code(
    conn: AsyncConnection, settings: IdentitySettings, pepper: bytes, phone: str
) -> int:
    """Issue a new code to ``phone`` through notify; returns its lifetime in seconds."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": phone})
    now = datetime.now(UTC)
    recent = (
        await conn.execute(
            text(
                "SELECT count(*) AS n, max(created_at) AS last FROM login_codes"
                " WHERE phone = :p AND created_at > :since"
            ),
            {"p": phone, "since": now - timedelta(hours=1)},
        )
    ).one()
    if recent.last is not None:
        wait = settings.code_min_interval_seconds - (now - recent.last).total_seconds()
        if wait > 0:
            raise ApiError(
                429,
                "code_sent_recently",
                f"验证码发送过于频繁，请{int(wait) + 1}秒后再试",
                extra={"retry_after_seconds": int(wait) + 1},
            )
    if recent.n >= settings.codes_per_phone_per_hour:
        raise ApiError(429, "code_limit_reached", "该号码验证码发送次数已达上限，请一小时后再试")
    code = f"{secrets.randbelow(10**6):06d}"
    await conn.execute(
        text(
            "INSERT INTO login_codes (id, phone, code_hash, expires_at) VALUES (:id, :p, :h, :exp)"
        ),
        {
            "id": uuid.uuid4(),
            "p": phone,
            "h": code_hash(pepper, phone, code),
            "exp": now + timedelta(seconds=settings.code_ttl_seconds),
        },
    )
    await outbox.add(
        conn,
        Subject.SEND_SMS,
        SendSms(kind="login_code", phone=phone, params={"code": code}),
    )
    return settings.code_ttl_seconds


async def redeem_code(
    conn: AsyncConnection,
    settings: IdentitySettings,
    pepper: bytes,
    phone: str,
    code: str,
) -> str:
    """Try the newest live code for ``phone``: 'ok' (now used), 'invalid' or 'locked'.

    Returns instead of raising so that a failed attempt is counted when the caller
    commits.
    """
    row = (
        await conn.execute(
            text(
                "SELECT id, code_hash, expires_at, attempts, used_at FROM login_codes"
                " WHERE phone = :p ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
            ),
            {"p": phone},
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= datetime.now(UTC):
        return "invalid"
    if row.attempts >= settings.code_max_attempts:
        return "locked"
    if not hmac.compare_digest(row.code_hash, code_hash(pepper, phone, code)):
        await conn.execute(
            text("UPDATE login_codes SET attempts = attempts + 1 WHERE id = :id"),
            {"id": row.id},
        )
        return "invalid"
    await conn.execute(
        text("UPDATE login_codes SET used_at = now() WHERE id = :id"), {"id": row.id}
    )
    return "ok"


async def account_for(conn: AsyncConnection, phone: str) -> str:
    """The account of a verified phone number, created on first login."""
    await conn.execute(
        text("INSERT INTO accounts (id, phone) VALUES (:id, :p) ON CONFLICT (phone) DO NOTHING"),
        {"id": uuid.uuid4(), "p": phone},
    )
    account_id = await conn.scalar(text("SELECT id FROM accounts WHERE phone = :p"), {"p": phone})
    return str(account_id)
