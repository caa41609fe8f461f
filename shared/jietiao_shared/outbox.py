"""Transactional outbox: messages commit with the change that caused them.

A handler calls :func:`add` on the connection of its own transaction. The
:class:`OutboxRelay` publishes pending rows to JetStream with ``Nats-Msg-Id`` set to
the row id, so a relay that crashes between publish and mark-sent republishes a
message that JetStream then drops as a duplicate. Rows are claimed with
``FOR UPDATE SKIP LOCKED``, so several replicas relay at once without double work.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import telemetry
from .contracts import PAYLOADS, Contract, Envelope
from .db import asyncpg_dsn
from .logs import current_context

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any], dict[str, str]], Awaitable[None]]

WAKE_CHANNEL = "jietiao_outbox"

PUBLISHED = Counter("jietiao_outbox_published_total", "Outbox messages published", ["subject"])
PENDING = Gauge("jietiao_outbox_pending", "Outbox messages not yet published")
OLDEST = Gauge("jietiao_outbox_lag_seconds", "Age of the oldest unpublished outbox message")


async def add(
    conn: AsyncConnection,
    subject: str,
    payload: Contract,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope:
    """Queue one message in the caller's transaction."""
    expected = PAYLOADS.get(subject)
    if expected is None or not isinstance(payload, expected):
        raise TypeError(f"{type(payload).__name__} is not the payload of {subject}")
    envelope = Envelope(
        type=type(payload).__name__,
        correlation_id=correlation_id or current_context().get("correlation_id"),
        causation_id=causation_id or current_context().get("message_id"),
        data=payload.model_dump(mode="json"),
    )
    headers = telemetry.inject({"Nats-Msg-Id": envelope.message_id})
    await conn.execute(
        text(
            "INSERT INTO outbox (id, subject, envelope, headers)"
            " VALUES (:id, :subject, CAST(:envelope AS jsonb), CAST(:headers AS jsonb))"
        ),
        {
            "id": envelope.message_id,
            "subject": subject,
            "envelope": envelope.model_dump_json(),
            "headers": json.dumps(headers),
        },
    )
    return envelope


class OutboxRelay:
    """Publishes pending outbox rows; wakes on NOTIFY and polls as a fallback."""

    def __init__(
        self,
        engine: AsyncEngine,
        database_url: str,
        publish: Publish,
        *,
        batch_size: int = 50,
        poll_seconds: float = 1.0,
        outbox_retention_hours: float = 24.0,
        inbox_retention_days: float = 30.0,
        idempotency_retention_hours: float = 24.0,
    ) -> None:
        self.engine = engine
        self.outbox_retention_hours = outbox_retention_hours
        self.inbox_retention_days = inbox_retention_days
        self.idempotency_retention_hours = idempotency_retention_hours
        self.database_url = database_url
        self.publish = publish
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled."""
        listener = await self._listen()
        observed = purged = 0.0
        try:
            while True:
                if time.monotonic() - observed > 2.0:
                    observed = time.monotonic()
                    await self._observe()
                if time.monotonic() - purged > 600.0:
                    purged = time.monotonic()
                    await self.purge()
                try:
                    sent = await self.drain()
                except Exception:
                    log.exception("outbox relay pass failed; retrying")
                    sent = 0
                    await asyncio.sleep(self.poll_seconds)
                if sent:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            if listener is not None:
                await listener.close()

    async def drain(self) -> int:
        """Publish one batch of pending rows; returns how many were sent."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, subject, envelope, headers FROM outbox"
                        " WHERE sent_at IS NULL ORDER BY created_at"
                        " LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            sent: list[Any] = []
            for row in rows:
                try:
                    await self.publish(row.subject, row.envelope, row.headers)
                except Exception as exc:
                    log.warning("outbox publish of %s failed: %s", row.id, exc)
                    await conn.execute(
                        text(
                            "UPDATE outbox SET attempts = attempts + 1,"
                            " last_error = :err WHERE id = :id"
                        ),
                        {"id": row.id, "err": str(exc)[:500]},
                    )
                    break
                sent.append(row.id)
                PUBLISHED.labels(row.subject).inc()
            if sent:
                await conn.execute(
                    text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)"),
                    {"ids": sent},
                )
        return len(sent)

    async def purge(self) -> tuple[int, int, int]:
        """Delete sent outbox rows, old inbox rows and old idempotency answers.

        Sent rows keep the payloads they carried (phone numbers among them), so they
        are kept only long enough to investigate a delivery; inbox rows must outlive
        any redelivery or dead-letter replay of their message; an answer to an
        ``Idempotency-Key`` only has to outlive a client's retries.
        """
        try:
            async with self.engine.begin() as conn:
                sent = await conn.execute(
                    text("DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => :s)"),
                    {"s": self.outbox_retention_hours * 3600},
                )
                handled = await conn.execute(
                    text("DELETE FROM inbox WHERE handled_at < now() - make_interval(secs => :s)"),
                    {"s": self.inbox_retention_days * 86400},
                )
                answers = await conn.execute(
                    text(
                        "DELETE FROM idempotency_keys"
                        " WHERE created_at < now() - make_interval(secs => :s)"
                        # a claim still without its answer may be a request running now
                        " AND (status_code IS NOT NULL OR created_at < now() - interval '1 day')"
                    ),
                    {"s": self.idempotency_retention_hours * 3600},
                )
        except Exception:
            log.warning("outbox, inbox and idempotency answers not purged", exc_info=True)
            return 0, 0, 0
        return sent.rowcount, handled.rowcount, answers.rowcount

    async def _observe(self) -> None:
        """Update the outbox lag gauges."""
        try:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT count(*) AS n, coalesce(extract(epoch FROM"
                            " now() - min(created_at)), 0) AS lag"
                            " FROM outbox WHERE sent_at IS NULL"
                        )
                    )
                ).one()
        except Exception:
            log.warning("outbox lag not measured", exc_info=True)
            return
        PENDING.set(row.n)
        OLDEST.set(float(row.lag))

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
            await conn.add_listener(WAKE_CHANNEL, lambda *_: self._wake.set())
            return conn
        except Exception:
            log.warning("outbox relay cannot LISTEN; polling only", exc_info=True)
            return None


async def pending_count(engine: AsyncEngine) -> int:
    """How many messages wait to be published."""
    async with engine.connect() as conn:
        value = await conn.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    return int(value or 0)
