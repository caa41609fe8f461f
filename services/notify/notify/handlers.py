"""Bus entrypoints: each notify command applied inside its inbox transaction."""

import hashlib
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from jietiao_shared import outbox
from jietiao_shared.bus import Consumers
from jietiao_shared.contracts import (
    CancelReminders,
    CloseFlow,
    CompensationCompleted,
    Envelope,
    IssueShareLink,
    ScheduleReminders,
    SendSms,
    Subject,
)
from jietiao_shared.personal import normalise_phone
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import reminders, sms
from .settings import NotifySettings

log = logging.getLogger(__name__)


def register_consumers(consumers: Consumers, settings: NotifySettings) -> None:
    """Subscribe notify's durable consumers, one per command."""
    commands = Commands(settings)
    consumers.on(Subject.SEND_SMS, "sms-send", commands.send_sms)
    consumers.on(Subject.ISSUE_SHARE_LINK, "share-link-issue", commands.issue_share_link)
    consumers.on(Subject.SCHEDULE_REMINDERS, "reminders-schedule", commands.schedule_reminders)
    consumers.on(Subject.CANCEL_REMINDERS, "reminders-cancel", cancel_reminders)
    consumers.on(Subject.CLOSE_FLOW, "flow-close", close_flow)


class Commands:
    """The handlers that need the service's settings."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send_sms(self, conn: AsyncConnection, envelope: Envelope, payload: SendSms) -> None:
        """Render one SMS and record it for the sender (dropped if its flow closed)."""
        await sms.queue_sms(
            conn,
            source_id=envelope.message_id,
            kind=payload.kind,
            phone=payload.phone,
            params=payload.params,
            agreement_id=payload.agreement_id,
            landing_url=self.settings.landing_url,
        )

    async def issue_share_link(
        self, conn: AsyncConnection, envelope: Envelope, payload: IssueShareLink
    ) -> None:
        """Create a share link for a counterparty, unless the flow closed."""
        await sms.lock_agreement(conn, payload.agreement_id)
        if await sms.flow_closed(conn, payload.agreement_id):
            log.warning("flow closed: no share link for %s", payload.agreement_id)
            return

        expires_at = datetime.now(UTC) + timedelta(days=self.settings.share_link_days)
        link_id = await create_share_link(conn, envelope.message_id, payload, expires_at)
        log.info("share link %s issued for %s", link_id, payload.agreement_id)

    async def schedule_reminders(
        self, conn: AsyncConnection, envelope: Envelope, payload: ScheduleReminders
    ) -> None:
        """Store one reminder per instalment of the plan."""
        await reminders.schedule(
            conn,
            payload,
            self.settings.reminder_local_time,
            self.settings.reminder_early_days,
            issued_at=envelope.occurred_at,
        )


async def cancel_reminders(
    conn: AsyncConnection, envelope: Envelope, payload: CancelReminders
) -> None:
    """Cancel the agreement's reminders that were not sent yet."""
    cancelled = await reminders.cancel(
        conn, payload.agreement_id, payload.reason, envelope.occurred_at
    )
    await _completed(
        conn, payload.agreement_id, "cancel_reminders", f"{cancelled} reminders cancelled"
    )


async def _completed(
    conn: AsyncConnection, agreement_id: str, compensation: Any, detail: str
) -> None:
    """Tell the saga that this part of the undoing is done."""
    await outbox.add(
        conn,
        Subject.NOTIFY_COMPENSATED,
        CompensationCompleted(
            agreement_id=agreement_id,
            compensation=compensation,
            completed_at=datetime.now(UTC),
            detail=detail,
        ),
        correlation_id=agreement_id,
    )


async def close_flow(conn: AsyncConnection, envelope: Envelope, payload: CloseFlow) -> None:
    """Record the flow as closed: revoke links, cancel reminders, drop queued SMS."""
    agreement_id = payload.agreement_id
    await sms.lock_agreement(conn, agreement_id)
    await conn.execute(
        text(
            "INSERT INTO flow_closures (agreement_id, ending) VALUES (:a, :e)"
            " ON CONFLICT (agreement_id) DO NOTHING"
        ),
        {"a": agreement_id, "e": payload.ending},
    )

    revoked = await conn.execute(
        text(
            "UPDATE share_links SET revoked_at = now()"
            " WHERE agreement_id = :a AND revoked_at IS NULL"
        ),
        {"a": agreement_id},
    )
    cancelled = await reminders.cancel(conn, agreement_id, payload.ending)
    dropped = await sms.drop_queued(conn, agreement_id, sms.FLOW_ENDING_KINDS, "flow_closed")
    await _completed(
        conn,
        agreement_id,
        "close_flow",
        f"{revoked.rowcount} links revoked, {cancelled} reminders cancelled, {dropped} sms dropped",
    )
    log.info(
        "flow of %s closed (%s): %d links revoked, %d reminders cancelled, %d sms dropped",
        agreement_id,
        payload.ending,
        revoked.rowcount,
        cancelled,
        dropped,
    )


def new_token() -> str:
    """A fresh link token: 192 random bits in 32 URL-safe characters (a QR scene fits)."""
    return secrets.token_urlsafe(24)


def token_sha256(token: str) -> str:
    """The fingerprint a share link is looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_share_link(
    conn: AsyncConnection, source_id: str, payload: IssueShareLink, expires_at: datetime
) -> uuid.UUID | None:
    """Store a new link with a fresh token; None if ``source_id`` made one before."""
    token = new_token()
    link_id: uuid.UUID | None = await conn.scalar(
        text(
            "INSERT INTO share_links (id, source_message_id, token, token_sha256,"
            " agreement_id, party_role, holder_phone, owner_phones, purpose,"
            " expires_at) VALUES (:id, :src, :token, :sha, :a, :role, :holder,"
            " :owners, :purpose, :exp)"
            " ON CONFLICT (source_message_id) DO NOTHING RETURNING id"
        ),
        {
            "id": uuid.uuid4(),
            "src": source_id,
            "token": token,
            "sha": token_sha256(token),
            "a": payload.agreement_id,
            "role": payload.party_role,
            "holder": normalise_phone(payload.holder_phone),
            "owners": [normalise_phone(p) for p in payload.owner_phones],
            "purpose": payload.purpose,
            "exp": expires_at,
        },
    )
    return link_id


async def renew_share_link(
    conn: AsyncConnection, agreement_id: str, phone: str, purpose: str | None
) -> Row[Any] | None:
    """Replace the caller's newest live link by a fresh token with the same expiry.

    The old token is revoked in the same transaction; None when the caller holds or
    owns no live link of the agreement (closed flows have none).
    """
    await sms.lock_agreement(conn, agreement_id)
    old = (
        await conn.execute(
            text(
                "SELECT * FROM share_links WHERE agreement_id = :a AND revoked_at IS NULL"
                " AND expires_at > now() AND (holder_phone = :p OR :p = ANY(owner_phones))"
                " AND (CAST(:purpose AS text) IS NULL OR purpose = :purpose)"
                " ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
            ),
            {"a": agreement_id, "p": phone, "purpose": purpose},
        )
    ).first()
    if old is None:
        return None
    await conn.execute(
        text("UPDATE share_links SET revoked_at = now() WHERE id = :id"), {"id": old.id}
    )
    token = new_token()
    return (
        await conn.execute(
            text(
                "INSERT INTO share_links (id, source_message_id, token, token_sha256,"
                " agreement_id, party_role, holder_phone, owner_phones, purpose,"
                " expires_at, renewed_from) VALUES (:id, :src, :token, :sha, :a, :role,"
                " :holder, :owners, :purpose, :exp, :old)"
                " RETURNING token, party_role, purpose, expires_at"
            ),
            {
                "id": uuid.uuid4(),
                "src": f"renewal:{old.id}",
                "token": token,
                "sha": token_sha256(token),
                "a": old.agreement_id,
                "role": old.party_role,
                "holder": old.holder_phone,
                "owners": old.owner_phones,
                "purpose": old.purpose,
                "exp": old.expires_at,
                "old": old.id,
            },
        )
    ).first()
