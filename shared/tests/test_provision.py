"""The provisioning step owns streams and durable consumers; services only bind.

Against a real NATS server: every declared consumer is created once, a changed
setting is applied on the next release's provisioning (in place when the server
allows it, by recreating the consumer when it does not), retired consumers go,
others stay, and a service will not start while one of its durables is missing.
"""

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import pytest_asyncio
from jietiao_shared.bus import (
    Consumers,
    NotProvisioned,
    bound_max_deliver,
    make_broker,
    provision,
)
from jietiao_shared.contracts import (
    COMMANDS_STREAM,
    CONSUMERS,
    EVENTS_STREAM,
    ConsumerSpec,
    Subject,
)
from jietiao_stack.testing import BackingServers
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def js(backing_servers: BackingServers) -> AsyncIterator[Any]:
    nc = await nats.connect(backing_servers.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def _info(js: Any, stream: str, durable: str) -> Any:
    return await js.consumer_info(stream, durable)


class _RecordingBroker:
    """Takes the subscriptions without talking to NATS: the check under test talks
    to the real server itself."""

    def subscriber(self, *args: Any, **kwargs: Any) -> Any:
        return lambda fn: fn


def _consumers(service: str, *names: tuple[str, str]) -> Consumers:
    async def handler(*_: Any) -> None:
        return None

    consumers = Consumers(
        _RecordingBroker(),  # type: ignore[arg-type]
        lambda: None,  # type: ignore[arg-type,return-value]
        service=service,
        max_deliver=3,
        backoff=[0.1],
    )
    for subject, name in names:
        consumers.on(subject, name, handler)
    return consumers


async def test_every_declared_consumer_is_created_once(backing_servers, js) -> None:
    first = await provision(backing_servers.nats_url, max_deliver=6)
    again = await provision(backing_servers.nats_url, max_deliver=6)

    for spec in CONSUMERS:
        name = f"{spec.stream}/{spec.durable}"
        assert f"created consumer {name}" in first
        assert f"unchanged consumer {name}" in again
        config = (await _info(js, spec.stream, spec.durable)).config
        assert config.filter_subject == spec.subject
        assert config.ack_policy == AckPolicy.EXPLICIT
        assert config.max_deliver == 6


async def test_a_changed_setting_is_applied_in_place(backing_servers, js) -> None:
    await provision(backing_servers.nats_url, max_deliver=6)
    spec = CONSUMERS[0]
    before = await _info(js, spec.stream, spec.durable)

    done = await provision(backing_servers.nats_url, max_deliver=9)

    assert f"updated consumer {spec.stream}/{spec.durable}: max_deliver" in done
    after = await _info(js, spec.stream, spec.durable)
    assert after.config.max_deliver == 9
    assert after.created == before.created  # the same consumer, its position kept
    await provision(backing_servers.nats_url, max_deliver=6)


async def test_a_setting_the_server_cannot_change_is_applied_by_recreating(
    backing_servers, js
) -> None:
    await provision(backing_servers.nats_url, max_deliver=6)
    spec = next(c for c in CONSUMERS if c.stream == EVENTS_STREAM)
    await js.delete_consumer(spec.stream, spec.durable)
    await js.add_consumer(
        spec.stream,
        ConsumerConfig(
            durable_name=spec.durable,
            filter_subject=spec.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
            max_deliver=6,
            ack_wait=30,
        ),
    )

    done = await provision(backing_servers.nats_url, max_deliver=6)

    assert f"recreated consumer {spec.stream}/{spec.durable}: deliver_policy" in done
    config = (await _info(js, spec.stream, spec.durable)).config
    assert config.deliver_policy == DeliverPolicy.ALL


async def test_retired_consumers_are_deleted_and_nothing_else(backing_servers, js) -> None:
    for durable in ("notify-old-reader", "ops-watch"):
        await js.add_consumer(
            EVENTS_STREAM,
            ConsumerConfig(durable_name=durable, filter_subject=Subject.SMS_DELIVERED),
        )

    done = await provision(
        backing_servers.nats_url, retired=((EVENTS_STREAM, "notify-old-reader"),)
    )

    assert f"removed retired consumer {EVENTS_STREAM}/notify-old-reader" in done
    with pytest.raises(NotFoundError):
        await _info(js, EVENTS_STREAM, "notify-old-reader")
    assert (await _info(js, EVENTS_STREAM, "ops-watch")).name == "ops-watch"


async def test_a_service_binds_only_to_provisioned_consumers(backing_servers) -> None:
    await provision(backing_servers.nats_url, max_deliver=7)
    known = _consumers("notify", (Subject.SEND_SMS, "sms-send"))
    unknown = _consumers("notify", (Subject.SEND_SMS, "sms-send"), (Subject.SEND_SMS, "new"))

    # The server's setting wins over the process's own (3): dead-lettering
    # happens on the attempt the server will not redeliver after.
    assert await bound_max_deliver(backing_servers.nats_url, known) == {"notify-sms-send": 7}
    with pytest.raises(NotProvisioned, match=r"notify-new.*python -m notify provision"):
        await bound_max_deliver(backing_servers.nats_url, unknown)
    await provision(backing_servers.nats_url, max_deliver=6)


async def test_a_consumer_missing_from_the_table_is_named() -> None:
    consumers = _consumers(
        "notify",
        (Subject.SEND_SMS, "sms-send"),  # declared
        (Subject.CLOSE_FLOW, "sms-send"),  # a declared name on another subject
        (Subject.SEND_SMS, "shadow"),  # not declared at all
    )

    assert consumers.undeclared() == ["notify-sms-send", "notify-shadow"]


async def test_a_service_cannot_create_a_durable_even_when_it_tries(backing_servers, js) -> None:
    broker = make_broker(backing_servers.nats_url)
    consumers = Consumers(broker, lambda: None, service="notify", max_deliver=3, backoff=[0.1])  # type: ignore[arg-type,return-value]

    async def handler(*_: Any) -> None:
        return None

    consumers.on(Subject.SMS_DELIVERED, "never-provisioned", handler)
    try:
        with pytest.raises(APIError):
            await broker.start()  # nats-py would create the missing durable
    finally:
        await broker.stop()
    with pytest.raises(NotFoundError):
        await _info(js, EVENTS_STREAM, "notify-never-provisioned")


async def test_a_failed_update_leaves_the_consumer_as_it_was(backing_servers, js) -> None:
    await provision(backing_servers.nats_url)
    # Moving flow-close onto the SMS subject clashes with sms-send on the work queue.
    clash = (ConsumerSpec("notify", "flow-close", Subject.SEND_SMS),)

    with pytest.raises(APIError):
        await provision(backing_servers.nats_url, consumers=clash)

    config = (await _info(js, COMMANDS_STREAM, "notify-flow-close")).config
    assert config.filter_subject == Subject.CLOSE_FLOW


async def test_renaming_a_work_queue_consumer_retires_the_old_name_first(
    backing_servers, js
) -> None:
    await provision(backing_servers.nats_url)
    renamed = (ConsumerSpec("notify", "flow-end", Subject.CLOSE_FLOW),)

    done = await provision(
        backing_servers.nats_url,
        consumers=renamed,
        retired=((COMMANDS_STREAM, "notify-flow-close"),),
    )

    assert done[-2:] == [
        f"removed retired consumer {COMMANDS_STREAM}/notify-flow-close",
        f"created consumer {COMMANDS_STREAM}/notify-flow-end",
    ]
    await js.delete_consumer(COMMANDS_STREAM, "notify-flow-end")
    await provision(backing_servers.nats_url)


async def test_the_dead_letter_limit_follows_the_server_while_running(backing_servers) -> None:
    await provision(backing_servers.nats_url, max_deliver=4)
    broker = make_broker(backing_servers.nats_url)
    consumers = Consumers(broker, lambda: None, service="notify", max_deliver=9, backoff=[0.1])  # type: ignore[arg-type,return-value]

    async def handler(*_: Any) -> None:
        return None

    consumers.on(Subject.SEND_SMS, "sms-send", handler)
    await broker.start()
    try:
        assert await consumers._delivery_limit("notify-sms-send", Subject.SEND_SMS) == 4
        await provision(backing_servers.nats_url, max_deliver=5)
        assert await consumers._delivery_limit("notify-sms-send", Subject.SEND_SMS) == 5
    finally:
        await broker.stop()
        await provision(backing_servers.nats_url, max_deliver=6)
