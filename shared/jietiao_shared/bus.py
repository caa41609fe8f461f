"""JetStream through FastStream: streams, publishing and the inbox consumer.

Streams and durable consumers are declared by one explicit step
(:func:`provision`, from :data:`~jietiao_shared.contracts.CONSUMERS`), never by
whichever service starts first; services bind with ``declare=False`` and refuse to
start while one of their durables is missing. Every consumer is a
durable pull consumer with manual acknowledgement: the handler's effect and the
inbox row commit together, the message is acknowledged only after that commit, a
failure is retried with a growing delay, and after ``max_deliver`` attempts the
message is published to a dead-letter subject with the error.
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import nats
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import logs, telemetry
from .contracts import (
    COMMANDS_STREAM,
    COMMANDS_SUBJECTS,
    CONSUMERS,
    DEAD_LETTER_PREFIX,
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    PAYLOADS,
    RETIRED_CONSUMERS,
    ConsumerSpec,
    Contract,
    Envelope,
    stream_for,
)

log = logging.getLogger(__name__)

MESSAGES = Counter(
    "jietiao_messages_total", "Messages taken by consumers, by outcome", ["consumer", "outcome"]
)
MESSAGE_SECONDS = Histogram(
    "jietiao_message_seconds", "Time to handle one message, commit included", ["consumer"]
)
DEAD_LETTERS = Counter("jietiao_dead_letters_total", "Messages given up on", ["consumer"])

Handler = Callable[[AsyncConnection, Envelope, Any], Awaitable[None]]

DUPLICATE_WINDOW_SECONDS = 120.0
ACK_WAIT_SECONDS = 30.0


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """The three streams of the platform, as JetStream will hold them."""
    common: dict[str, Any] = {
        "storage": StorageType.FILE,
        "num_replicas": replicas,
        "duplicate_window": DUPLICATE_WINDOW_SECONDS,
    }
    return [
        StreamConfig(
            name=EVENTS_STREAM,
            subjects=[EVENTS_SUBJECTS],
            max_age=14 * 24 * 3600,
            **common,
        ),
        StreamConfig(
            name=COMMANDS_STREAM,
            subjects=[COMMANDS_SUBJECTS],
            retention=RetentionPolicy.WORK_QUEUE,
            **common,
        ),
        StreamConfig(
            name=DEAD_LETTER_STREAM,
            subjects=[DEAD_LETTER_PREFIX + ".>"],
            max_age=90 * 24 * 3600,
            **common,
        ),
    ]


def consumer_config(durable: str, subject: str, max_deliver: int) -> ConsumerConfig:
    """A durable pull consumer of one subject, acknowledged explicitly."""
    return ConsumerConfig(
        durable_name=durable,
        filter_subject=subject,
        ack_policy=JsAckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_deliver=max_deliver,
        ack_wait=ACK_WAIT_SECONDS,
    )


def bind_only_config() -> ConsumerConfig:
    """What a service hands FastStream for its durables.

    nats-py binds to an existing durable and ignores this configuration; it uses it
    only to create a durable that is missing, and the server refuses to create this
    one (a start-sequence policy without a start sequence). So a service can never
    create a durable, not even in a race with the provisioning step: only
    :func:`provision` does.
    """
    return ConsumerConfig(ack_policy=JsAckPolicy.EXPLICIT, deliver_policy=NOT_CREATABLE)


NOT_CREATABLE = DeliverPolicy.BY_START_SEQUENCE
_COMPARED = ("filter_subject", "ack_policy", "deliver_policy", "max_deliver", "ack_wait")
_NOT_UPDATABLE = ("can not be updated", "cannot be updated")


async def provision(
    nats_url: str,
    replicas: int = 1,
    *,
    max_deliver: int = 6,
    consumers: tuple[ConsumerSpec, ...] = CONSUMERS,
    retired: tuple[tuple[str, str], ...] = RETIRED_CONSUMERS,
) -> list[str]:
    """Create or update the platform's streams and durable consumers.

    A consumer whose settings changed is updated in place; one whose change the
    server cannot apply in place (its deliver policy, say) is deleted and created
    again, which the inboxes make safe (a redelivered message is skipped). The
    ``retired`` durables are deleted. Returns one line per stream and consumer saying what was done.
    """
    nc = await nats.connect(servers=nats_servers(nats_url))
    done: list[str] = []
    try:
        js = nc.jetstream()
        for config in stream_configs(replicas):
            try:
                await js.stream_info(str(config.name))
            except NotFoundError:
                await js.add_stream(config)
                done.append(f"created stream {config.name}")
            else:
                await js.update_stream(config)
                done.append(f"updated stream {config.name}")
        # Retired first: a renamed durable on the work queue may share its filter.
        for stream, durable in retired:
            try:
                await js.delete_consumer(stream, durable)
            except NotFoundError:
                continue
            done.append(f"removed retired consumer {stream}/{durable}")
        for spec in consumers:
            wanted = consumer_config(spec.durable, spec.subject, max_deliver)
            done.append(await _reconcile_consumer(js, spec.stream, wanted))
    finally:
        await nc.close()
    return done


async def _reconcile_consumer(js: Any, stream: str, wanted: ConsumerConfig) -> str:
    name = f"{stream}/{wanted.durable_name}"
    try:
        info = await js.consumer_info(stream, wanted.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, wanted)
        return f"created consumer {name}"
    have = info.config
    changed = [f for f in _COMPARED if getattr(have, f) != getattr(wanted, f)]
    if not changed:
        return f"unchanged consumer {name}"
    try:
        await js.add_consumer(stream, wanted)  # the server updates what it can
        return f"updated consumer {name}: {', '.join(changed)}"
    except APIError as exc:
        if not any(phrase in (exc.description or "") for phrase in _NOT_UPDATABLE):
            raise  # anything else (a leader election, a conflict) fails the step loudly
        log.warning("consumer %s cannot be updated in place (%s); recreating it", name, exc)
    await js.delete_consumer(stream, wanted.durable_name)
    try:
        await js.add_consumer(stream, wanted)
    except APIError:
        log.error("consumer %s could not be created again; restoring the old one", name)
        try:
            await js.add_consumer(stream, have)
        except APIError:
            log.exception("consumer %s is gone: run the provisioning step again", name)
        raise
    return f"recreated consumer {name}: {', '.join(changed)}"


class NotProvisioned(RuntimeError):
    """A durable this service reads is not on the server: the provisioning step
    has not run for this release."""


async def bound_max_deliver(nats_url: str, consumers: "Consumers") -> dict[str, int]:
    """Check that every durable of ``consumers`` exists; return its ``max_deliver``.

    Raises :class:`NotProvisioned` naming the missing ones.
    """
    if not consumers.subscriptions:
        return {}
    # Fail fast (every node of a cluster tried, twice at most): the caller retries,
    # and nats-py's default first connect would wait minutes for an unreachable one.
    nc = await nats.connect(
        servers=nats_servers(nats_url),
        max_reconnect_attempts=1,
        reconnect_time_wait=0.2,
        connect_timeout=2,
    )
    found: dict[str, int] = {}
    missing: list[str] = []
    try:
        js = nc.jetstream()
        for subject, durable, _ in consumers.subscriptions:
            try:
                info = await js.consumer_info(stream_for(subject), durable)
            except NotFoundError:
                missing.append(durable)
            else:
                found[durable] = _limit(info.config.max_deliver, consumers.max_deliver)
    finally:
        await nc.close()
    if missing:
        raise NotProvisioned(
            f"consumer(s) {', '.join(missing)} not provisioned: run"
            f" `python -m {consumers.service} provision` for this release first"
        )
    return found


def _limit(server_value: int | None, own: int) -> int:
    """Deliveries before a dead letter: the durable's ``max_deliver`` as provisioned;
    unlimited (-1) or unset on the server means the service's own setting."""
    return server_value if server_value and server_value > 0 else own


def nats_servers(nats_url: str) -> list[str]:
    """The servers of a comma-separated NATS URL (several nodes of a cluster)."""
    return [u.strip() for u in nats_url.split(",") if u.strip()]


def make_broker(nats_url: str) -> NatsBroker:
    """A broker that reconnects forever and never declares streams itself."""
    return NatsBroker(
        nats_servers(nats_url),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        logger=logging.getLogger("jietiao.bus"),
    )


async def publish_envelope(
    broker: NatsBroker, subject: str, envelope: dict[str, Any], headers: dict[str, str]
) -> None:
    """Publish to the stream that captures ``subject`` and wait for its PubAck."""
    await broker.publish(
        envelope,
        subject,
        headers=headers,
        stream=stream_for(subject),
        timeout=5.0,
    )


def retry_delay(delivered: int, backoff: list[float]) -> float:
    """Seconds to wait before the next attempt after ``delivered`` attempts."""
    return backoff[min(delivered, len(backoff)) - 1] if backoff else 1.0


async def _record_handled(
    conn: AsyncConnection, consumer: str, envelope: Envelope, subject: str
) -> bool:
    inserted = await conn.execute(
        text(
            "INSERT INTO inbox (consumer, message_id, subject) VALUES (:c, :m, :s)"
            " ON CONFLICT DO NOTHING"
        ),
        {"c": consumer, "m": envelope.message_id, "s": subject},
    )
    return inserted.rowcount == 1


class Consumers:
    """Registers inbox-backed durable consumers on one broker."""

    def __init__(
        self,
        broker: NatsBroker,
        engine_ref: Callable[[], AsyncEngine],
        *,
        service: str,
        max_deliver: int,
        backoff: list[float],
    ) -> None:
        self.broker = broker
        self.engine_ref = engine_ref
        self.service = service
        self.max_deliver = max_deliver
        self.max_deliver_of: dict[str, int] = {}  # as provisioned on the server
        self.backoff = backoff
        self.subscriptions: list[tuple[str, str, str]] = []

    def undeclared(self) -> list[str]:
        """Durables registered here whose name and subject ``CONSUMERS`` does not declare.

        The service prefix is not compared: a second instance under another name
        reads what the table declares, with durables of its own that whoever runs
        it must provision (``provision(consumers=...)``).
        """
        declared = {(c.name, c.subject) for c in CONSUMERS}
        prefix = len(self.service) + 1
        return [d for s, d, _ in self.subscriptions if (d[prefix:], s) not in declared]

    def on(self, subject: str, name: str, handler: Handler) -> None:
        """Run ``handler(conn, envelope, payload)`` once per message on ``subject``.

        ``name`` makes the durable ``<service>-<name>``; it must be unique per stream.
        """
        durable = f"{self.service}-{name}"
        model = PAYLOADS[subject]
        summary = (handler.__doc__ or "").strip().splitlines()[:1]
        self.subscriptions.append((subject, durable, summary[0] if summary else ""))
        # One message per fetch: nats-py waits for a larger batch to fill until the
        # fetch timeout, which would delay every saga step by that much.

        @self.broker.subscriber(
            subject,
            stream=JStream(stream_for(subject), declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            ack_policy=AckPolicy.MANUAL,
            config=bind_only_config(),
            title=durable,
            description=handler.__doc__,
        )
        async def consume(body: dict[str, Any], msg: NatsMessage) -> None:
            await self._handle(durable, subject, model, handler, body, msg)

    async def _handle(
        self,
        durable: str,
        subject: str,
        model: type[Contract],
        handler: Handler,
        body: dict[str, Any],
        msg: NatsMessage,
    ) -> None:
        try:
            envelope = Envelope.model_validate(body)
            payload = model.model_validate(envelope.data)
        except ValidationError as exc:
            await self._dead_letter(durable, subject, body, f"invalid message: {exc}")
            await msg.ack()
            return

        agreement_id = getattr(payload, "agreement_id", None)
        started = time.perf_counter()
        with (
            telemetry.continued(
                f"consume {subject}",
                msg.headers,
                SpanKind.CONSUMER,
                message_id=envelope.message_id,
                agreement_id=agreement_id,
                consumer=durable,
            ),
            logs.bind(
                message_id=envelope.message_id,
                correlation_id=envelope.correlation_id,
                agreement_id=agreement_id,
            ),
        ):
            try:
                async with self.engine_ref().begin() as conn:
                    fresh = await _record_handled(conn, durable, envelope, subject)
                    if fresh:
                        await handler(conn, envelope, payload)
                    else:
                        log.info("duplicate %s skipped", envelope.type)
            except Exception as exc:
                await self._failed(durable, subject, body, msg, exc)
                return
        MESSAGES.labels(durable, "handled" if fresh else "duplicate").inc()
        MESSAGE_SECONDS.labels(durable).observe(time.perf_counter() - started)
        await msg.ack()

    async def _failed(
        self,
        durable: str,
        subject: str,
        body: dict[str, Any],
        msg: NatsMessage,
        exc: Exception,
    ) -> None:
        delivered = msg.raw_message.metadata.num_delivered or 1
        MESSAGES.labels(durable, "failed").inc()
        if delivered >= await self._delivery_limit(durable, subject):
            log.error(
                "giving up on %s after %d attempts: %r",
                subject,
                delivered,
                exc,
                exc_info=exc,
            )
            await self._dead_letter(durable, subject, body, repr(exc))
            await msg.ack()
            return
        delay = retry_delay(delivered, self.backoff)
        log.warning(
            "handler for %s failed (attempt %d), retrying in %.1fs: %r",
            subject,
            delivered,
            delay,
            exc,
        )
        await msg.nack(delay=delay)

    async def _delivery_limit(self, durable: str, subject: str) -> int:
        """The durable's ``max_deliver`` as the server has it now (a re-provisioning
        may have changed it since start), else as last seen."""
        connection = getattr(self.broker, "_connection", None)
        if connection is not None:
            try:
                info = await connection.jetstream().consumer_info(stream_for(subject), durable)
                limit = _limit(info.config.max_deliver, self.max_deliver)
                self.max_deliver_of[durable] = limit
            except Exception:  # the server is busy or away: the last value seen
                log.warning("max_deliver of %s not read; using the last seen", durable)
        return self.max_deliver_of.get(durable, self.max_deliver)

    async def _dead_letter(
        self, durable: str, subject: str, body: dict[str, Any], error: str
    ) -> None:
        message_id = str(body.get("message_id", "unknown")) if isinstance(body, dict) else "unknown"
        record = {
            "consumer": durable,
            "subject": subject,
            "error": logs.redact(error)[:2000],
            "failed_at": datetime.now(UTC).isoformat(),
            "envelope": body,
        }
        await self.broker.publish(
            record,
            f"{DEAD_LETTER_PREFIX}.{durable}",
            headers={"Nats-Msg-Id": f"dlq:{durable}:{message_id}"},
            stream=DEAD_LETTER_STREAM,
            timeout=5.0,
        )
        DEAD_LETTERS.labels(durable).inc()
        log.error("dead-lettered %s from %s", message_id, subject)


def dead_letter_summary(raw: bytes) -> dict[str, Any]:
    """The operator's view of one dead-letter record."""
    record = json.loads(raw)
    envelope = record.get("envelope") or {}
    return {
        "consumer": record.get("consumer"),
        "subject": record.get("subject"),
        "error": record.get("error"),
        "failed_at": record.get("failed_at"),
        "message_id": envelope.get("message_id"),
        "type": envelope.get("type"),
    }
