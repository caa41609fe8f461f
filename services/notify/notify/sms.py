"""Recording SMS for delivery and the worker that hands them to the provider.

Everything notify does for one agreement runs under a transaction-scoped advisory
lock on that agreement (:func:`lock_agreement`), so that closing a flow and queuing
an SMS, issuing a link or firing a reminder for it never interleave.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any, cast

from jietiao_shared import outbox
from jietiao_shared.contracts import SmsDelivered, Subject
from jietiao_shared.personal import PersonalDataError, normalise_phone
from jietiao_shared.service import Runtime
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import templates
from .providers import ProviderReceipt, SmsProvider, SmsSendFailed, build_provider
from .settings import NotifySettings

log = logging.getLogger(__name__)

FLOW_ENDING_KINDS = frozenset({"withdrawn", "refused", "expired", "voided"})
RETRY_SECONDS = (5, 30, 120, 600)


async def lock_agreement(conn: AsyncConnection, agreement_id: str) -> None:
    """Serialise notify's work on one agreement until the transaction ends."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"notify:{agreement_id}"},
    )


async def try_lock_agreement(conn: AsyncConnection, agreement_id: str) -> bool:
    """Like :func:`lock_agreement`, but give up at once when someone holds it."""
    got = await conn.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"notify:{agreement_id}"},
    )
    return bool(got)


async def flow_closed(conn: AsyncConnection, agreement_id: str) -> bool:
    """Whether the agreement's flow was closed."""
    found = await conn.scalar(
        text("SELECT 1 FROM flow_closures WHERE agreement_id = :a"),
        {"a": agreement_id},
    )
    return found is not None


async def queue_sms(
    conn: AsyncConnection,
    *,
    source_id: str,
    kind: str,
    phone: str,
    params: Mapping[str, str],
    agreement_id: str | None,
    landing_url: str,
) -> uuid.UUID | None:
    """Record one SMS for the sender; None when ``source_id`` was recorded before."""
    status, error, body, values = "queued", None, "", []
    try:
        phone = normalise_phone(phone)
        body = templates.render(kind, params, landing_url)
        values = templates.provider_params(kind, params)
    except (templates.TemplateError, PersonalDataError) as exc:
        status, error = "rejected", exc.code
    if status == "queued" and agreement_id and kind not in FLOW_ENDING_KINDS:
        await lock_agreement(conn, agreement_id)
        if await flow_closed(conn, agreement_id):
            status, error = "dropped", "flow_closed"

    sms_id = await _insert(
        conn, source_id, kind, phone, (body, values), agreement_id, status, error
    )
    if sms_id is None:
        log.info("sms for source %s already recorded", source_id)
    elif status != "queued":
        log.warning("sms %s (%s) %s: %s", sms_id, kind, status, error)
    return sms_id


async def _insert(
    conn: AsyncConnection,
    source_id: str,
    kind: str,
    phone: str,
    content: tuple[str, list[str]],
    agreement_id: str | None,
    status: str,
    error: str | None,
) -> uuid.UUID | None:
    body, values = content
    sms_id: uuid.UUID | None = await conn.scalar(
        text(
            "INSERT INTO sms_messages (id, source_message_id, kind, phone, text,"
            " template_params, agreement_id, status, error) VALUES (:id, :src, :kind,"
            " :phone, :text, CAST(:values AS jsonb), :a, :status, :error)"
            " ON CONFLICT (source_message_id) DO NOTHING"
            " RETURNING id"
        ),
        {
            "id": uuid.uuid4(),
            "src": source_id,
            "kind": kind,
            "phone": phone,
            "text": body,
            "values": json.dumps(values, ensure_ascii=False),
            "a": agreement_id,
            "status": status,
            "error": error,
        },
    )
    return sms_id


async def drop_queued(
    conn: AsyncConnection, agreement_id: str, kinds_kept: frozenset[str], reason: str
) -> int:
    """Drop the agreement's queued SMS except those of ``kinds_kept``."""
    result = await conn.execute(
        text(
            "UPDATE sms_messages SET status = 'dropped', error = :reason"
            " WHERE agreement_id = :a AND status = 'queued'"
            " AND NOT (kind = ANY(:kept))"
        ),
        {"a": agreement_id, "kept": sorted(kinds_kept), "reason": reason},
    )
    return result.rowcount


# --- the sender ---------------------------------------------------------------


async def sms_sender(runtime: Runtime) -> None:
    """Deliver queued SMS through the configured provider until cancelled."""
    settings = cast(NotifySettings, runtime.settings)
    provider = build_provider(settings)
    while True:
        delivered = await deliver_next(runtime.engine, provider, settings.sms_max_attempts)
        if not delivered:
            await asyncio.sleep(settings.sms_poll_seconds)


async def deliver_next(engine: AsyncEngine, provider: SmsProvider, max_attempts: int) -> bool:
    """Hand the oldest due queued SMS to the provider; False when none is due.

    The row stays locked while the provider is called: a flow closing meanwhile
    waits for the outcome instead of dropping an SMS that is already on its way.
    """
    async with engine.begin() as conn:
        row = await _claim(conn)
        if row is None:
            return False
        try:
            receipt = await provider.send(
                row.phone,
                row.text,
                str(row.id),
                kind=row.kind,
                template_params=list(row.template_params or []),
            )
        except SmsSendFailed as exc:
            await _record_failure(conn, row, provider.name, exc, max_attempts)
        except Exception as exc:
            log.exception("sms %s: provider %s raised", row.id, provider.name)
            failure = SmsSendFailed(type(exc).__name__, retryable=True)
            await _record_failure(conn, row, provider.name, failure, max_attempts)
        else:
            await _record_success(conn, row, receipt)
    return True


async def _claim(conn: AsyncConnection) -> Row[Any] | None:
    return (
        await conn.execute(
            text(
                "SELECT id, kind, phone, text, template_params, agreement_id, attempts"
                " FROM sms_messages"
                " WHERE status = 'queued' AND next_attempt_at <= now()"
                " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
        )
    ).first()


async def _record_success(conn: AsyncConnection, row: Row[Any], receipt: ProviderReceipt) -> None:
    await conn.execute(
        text(
            "UPDATE sms_messages SET status = 'sent', sent_at = :at, provider = :p,"
            " provider_message_id = :pid, attempts = attempts + 1, error = NULL"
            " WHERE id = :id"
        ),
        {
            "id": row.id,
            "at": receipt.accepted_at,
            "p": receipt.provider,
            "pid": receipt.provider_message_id,
        },
    )
    await _record_attempt(conn, row.id, receipt.provider, "sent", receipt.provider_message_id)
    await outbox.add(
        conn,
        Subject.SMS_DELIVERED,
        SmsDelivered(
            sms_id=str(row.id),
            kind=row.kind,
            agreement_id=row.agreement_id,
            provider=receipt.provider,
        ),
        correlation_id=row.agreement_id,
    )
    log.info("sms %s (%s) sent through %s", row.id, row.kind, receipt.provider)


async def _record_failure(
    conn: AsyncConnection,
    row: Row[Any],
    provider: str,
    exc: SmsSendFailed,
    max_attempts: int,
) -> None:
    attempts = row.attempts + 1
    final = not exc.retryable or attempts >= max_attempts
    delay = RETRY_SECONDS[min(attempts, len(RETRY_SECONDS)) - 1]
    await conn.execute(
        text(
            "UPDATE sms_messages SET attempts = :n, error = :err, status = :status,"
            " next_attempt_at = now() + make_interval(secs => :delay) WHERE id = :id"
        ),
        {
            "id": row.id,
            "n": attempts,
            "err": exc.code,
            "status": "failed" if final else "queued",
            "delay": float(delay),
        },
    )
    await _record_attempt(conn, row.id, provider, "failed", None, exc.code)
    log.warning(
        "sms %s attempt %d failed (%s)%s",
        row.id,
        attempts,
        exc.code,
        "; giving up" if final else f"; retry in {delay}s",
    )


async def _record_attempt(
    conn: AsyncConnection,
    sms_id: uuid.UUID,
    provider: str,
    outcome: str,
    provider_message_id: str | None,
    error: str | None = None,
) -> None:
    await conn.execute(
        text(
            "INSERT INTO sms_attempts (sms_id, provider, outcome, provider_message_id,"
            " error) VALUES (:sms, :p, :o, :pid, :err)"
        ),
        {
            "sms": sms_id,
            "p": provider,
            "o": outcome,
            "pid": provider_message_id,
            "err": error,
        },
    )
