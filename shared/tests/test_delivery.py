"""The outbox relay and the inbox consumer against real PostgreSQL and NATS."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import pytest_asyncio
from jietiao_shared import deadletters, outbox
from jietiao_shared.bus import Consumers, make_broker, provision, publish_envelope
from jietiao_shared.contracts import CloseFlow, ConsumerSpec, Envelope, Subject, stream_for
from jietiao_shared.db import make_engine, migrate
from jietiao_stack.testing import BackingServers, wait_until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(scope="module")
async def engine(backing_servers: BackingServers) -> AsyncIterator[AsyncEngine]:
    url = backing_servers.database_url("shared_delivery")
    await migrate(url, ["jietiao_shared"])
    await provision(backing_servers.nats_url, consumers=())  # this module declares its own
    db = make_engine(url)
    async with db.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS effects (message_id text, agreement_id text)")
        )
    yield db
    await db.dispose()


async def _stream_messages(nats_url: str, subject: str) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, durable=None)
        try:
            msgs = await sub.fetch(100, timeout=1.0)
        except nats.errors.TimeoutError:
            msgs = []
        return [json.loads(m.data) for m in msgs]
    finally:
        await nc.close()


async def _count_on_stream(nats_url: str, subject: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream_for(subject), subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))
    finally:
        await nc.close()


async def test_relay_publishes_each_row_once_even_when_it_crashed_before_marking(
    engine: AsyncEngine, backing_servers: BackingServers
) -> None:
    agreement = str(uuid.uuid4())
    async with engine.begin() as conn:
        sent = await outbox.add(
            conn,
            Subject.CLOSE_FLOW,
            CloseFlow(agreement_id=agreement, ending="withdrawn"),
        )
    broker = make_broker(backing_servers.nats_url)
    await broker.start()
    published: list[str] = []

    async def publish_then_crash(
        subject: str, env: dict[str, Any], headers: dict[str, str]
    ) -> None:
        await publish_envelope(broker, subject, env, headers)
        published.append(env["message_id"])
        raise ConnectionError("relay died before marking the row sent")

    crashed = outbox.OutboxRelay(
        engine, backing_servers.database_url("shared_delivery"), publish_then_crash
    )
    assert await crashed.drain() == 0
    assert await outbox.pending_count(engine) >= 1

    healthy = outbox.OutboxRelay(
        engine,
        backing_servers.database_url("shared_delivery"),
        lambda s, e, h: publish_envelope(broker, s, e, h),
    )
    while await healthy.drain():
        pass
    await broker.stop()

    assert sent.message_id in published
    assert await outbox.pending_count(engine) == 0
    assert await _count_on_stream(backing_servers.nats_url, Subject.CLOSE_FLOW) == 1, (
        "JetStream must drop the republished duplicate"
    )


async def test_a_redelivered_message_takes_effect_once(
    engine: AsyncEngine, backing_servers: BackingServers
) -> None:
    broker = make_broker(backing_servers.nats_url)
    consumers = Consumers(broker, lambda: engine, service="test", max_deliver=3, backoff=[0.1])
    seen: list[str] = []

    async def effect(conn: AsyncConnection, envelope: Envelope, payload: Any) -> None:
        seen.append(envelope.message_id)
        await conn.execute(
            text("INSERT INTO effects VALUES (:m, :a)"),
            {"m": envelope.message_id, "a": payload.agreement_id},
        )

    consumers.on(Subject.CLOSE_FLOW, "dedupe", effect)
    await provision_own(backing_servers, consumers)
    await broker.start()
    agreement = str(uuid.uuid4())
    envelope = Envelope(type="CloseFlow", data={"agreement_id": agreement, "ending": "refused"})
    body = envelope.model_dump(mode="json")
    for copy in range(2):  # the same message, republished under a new Nats-Msg-Id
        await publish_envelope(
            broker,
            Subject.CLOSE_FLOW,
            body,
            {"Nats-Msg-Id": f"{copy}-{envelope.message_id}"},
        )

    async def effects() -> int:
        async with engine.connect() as conn:
            return int(
                await conn.scalar(
                    text("SELECT count(*) FROM effects WHERE agreement_id = :a"),
                    {"a": agreement},
                )
                or 0
            )

    await wait_until(effects)
    await asyncio.sleep(1.0)
    await broker.stop()
    assert await effects() == 1
    assert seen.count(envelope.message_id) >= 1


async def test_a_failing_handler_is_retried_then_dead_lettered(
    engine: AsyncEngine, backing_servers: BackingServers
) -> None:
    broker = make_broker(backing_servers.nats_url)
    consumers = Consumers(broker, lambda: engine, service="test", max_deliver=3, backoff=[0.1, 0.2])
    attempts: list[str] = []

    async def always_fails(conn: AsyncConnection, envelope: Envelope, payload: Any) -> None:
        attempts.append(envelope.message_id)
        raise RuntimeError("downstream is broken")

    consumers.on(Subject.CANCEL_REMINDERS, "poison", always_fails)
    await provision_own(backing_servers, consumers)
    await broker.start()
    envelope = Envelope(
        type="CancelReminders", data={"agreement_id": str(uuid.uuid4()), "reason": "x"}
    )
    await publish_envelope(
        broker,
        Subject.CANCEL_REMINDERS,
        envelope.model_dump(mode="json"),
        {"Nats-Msg-Id": envelope.message_id},
    )

    async def dead_letters() -> list[dict[str, Any]]:
        found = await _stream_messages(backing_servers.nats_url, "jietiao.dlq.test-poison")
        return [d for d in found if d["envelope"]["message_id"] == envelope.message_id]

    letters = await wait_until(dead_letters, seconds=20)
    await broker.stop()
    assert attempts.count(envelope.message_id) == 3
    assert "downstream is broken" in letters[0]["error"]
    assert letters[0]["consumer"] == "test-poison"


async def test_a_dead_letter_is_listed_and_replayed_to_the_consumer_that_failed(
    engine: AsyncEngine, backing_servers: BackingServers
) -> None:
    broker = make_broker(backing_servers.nats_url)
    consumers = Consumers(broker, lambda: engine, service="test", max_deliver=2, backoff=[0.1])
    healthy = False
    handled: list[str] = []

    async def fails_until_fixed(conn: AsyncConnection, envelope: Envelope, payload: Any) -> None:
        if not healthy:
            raise RuntimeError("not yet")
        handled.append(envelope.message_id)

    consumers.on(Subject.SUPERSEDE_PREVIEWS, "replayable", fails_until_fixed)
    await provision_own(backing_servers, consumers)
    await broker.start()
    envelope = Envelope(
        type="SupersedePreviews", data={"agreement_id": str(uuid.uuid4()), "reason": "x"}
    )
    await publish_envelope(
        broker,
        Subject.SUPERSEDE_PREVIEWS,
        envelope.model_dump(mode="json"),
        {"Nats-Msg-Id": envelope.message_id},
    )
    nc = await nats.connect(backing_servers.nats_url)
    js = nc.jetstream()

    async def listed() -> list[deadletters.DeadLetter]:
        return await deadletters.list_dead_letters(js, "test-replayable")

    [letter] = await wait_until(listed)
    assert letter.envelope["message_id"] == envelope.message_id
    healthy = True
    await deadletters.replay(js, letter.seq)

    await wait_until(lambda: handled)
    assert handled == [envelope.message_id]
    assert await deadletters.list_dead_letters(js, "test-replayable") == []
    await nc.close()
    await broker.stop()


async def test_sent_outbox_rows_are_purged_after_their_retention(
    engine: AsyncEngine, backing_servers: BackingServers
) -> None:
    async with engine.begin() as conn:
        old = await outbox.add(
            conn, Subject.CLOSE_FLOW, CloseFlow(agreement_id=str(uuid.uuid4()), ending="expired")
        )
        fresh = await outbox.add(
            conn, Subject.CLOSE_FLOW, CloseFlow(agreement_id=str(uuid.uuid4()), ending="expired")
        )
        await conn.execute(
            text("UPDATE outbox SET sent_at = now() - interval '2 days' WHERE id = :id"),
            {"id": old.message_id},
        )
        await conn.execute(
            text("UPDATE outbox SET sent_at = now() WHERE id = :id"), {"id": fresh.message_id}
        )
    relay = outbox.OutboxRelay(
        engine,
        backing_servers.database_url("shared_delivery"),
        publish=lambda *_: None,  # type: ignore[arg-type,return-value]
    )

    purged, _, _ = await relay.purge()

    async with engine.connect() as conn:
        left = {
            str(r.id)
            for r in await conn.execute(
                text("SELECT id FROM outbox WHERE id IN (:a, :b)"),
                {"a": old.message_id, "b": fresh.message_id},
            )
        }
    assert purged >= 1 and left == {fresh.message_id}


async def provision_own(servers: BackingServers, consumers: Consumers) -> None:
    """Provision this module's durables (services never create their own)."""
    own = tuple(
        ConsumerSpec(consumers.service, durable.removeprefix(consumers.service + "-"), subject)
        for subject, durable, _ in consumers.subscriptions
    )
    await provision(servers.nats_url, max_deliver=consumers.max_deliver, consumers=own)
