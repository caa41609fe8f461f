"""The saga under faults: processes killed, servers restarted, messages duplicated.

Many IOUs with mixed endings run at once while each service, NATS and PostgreSQL
is killed with SIGKILL in turn and started again. Afterwards every IOU must have
reached its intended ending, and every effect must have happened exactly once.
``JIETIAO_FAULT_LIFECYCLES`` sets how many IOUs run (default 12; 50 or more for
a long run).
"""

import asyncio
import json
import os
import random
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi
from jietiao_stack.scenarios import ENDINGS, drive, settled_problems
from jietiao_stack.stack import SERVICES, Stack, StackConfig
from jietiao_stack.testing import StackLog, free_base_port

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="module")]

LIFECYCLES = int(os.environ.get("JIETIAO_FAULT_LIFECYCLES", "12"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    """A platform of its own: these tests kill its processes."""
    config = StackConfig(
        data_dir=Path(tempfile.mkdtemp(prefix="jietiao-faults-")),
        base_port=free_base_port(),
        log_format="json",
        extra_env={
            "JIETIAO_CODE_MIN_INTERVAL_SECONDS": "0",
            "JIETIAO_CODES_PER_PHONE_PER_HOUR": "100",
            "JIETIAO_MAX_DELIVER": "20",
        },
    )
    platform = Stack(config, printer=StackLog(Path("artifacts") / "faults-stack.log"))
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


VICTIMS = [*SERVICES, "nats", "postgres"]


async def chaos(
    stack: Stack, stop: asyncio.Event, round_done: asyncio.Event, log: list[str]
) -> None:
    """Kill each service, then NATS, then PostgreSQL, in turn, and start them again."""
    rng = random.Random()
    while not stop.is_set():
        for victim in VICTIMS:
            if stop.is_set():
                return
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            started = time.monotonic()
            await stack.kill(victim, signal.SIGKILL)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await stack.respawn(victim)
            log.append(f"{victim} killed and back in {time.monotonic() - started:.1f}s")
        round_done.set()


async def republish_events(stack: Stack, share: float) -> int:
    """Publish a share of every event again under new Nats-Msg-Ids (duplicates)."""
    nc = await nats.connect(stack.config.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("JIETIAO_EVENTS")
        sent = 0
        rng = random.Random()
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if rng.random() > share:
                continue
            msg = await js.get_msg("JIETIAO_EVENTS", seq)
            assert msg.subject is not None and msg.data is not None
            await js.publish(msg.subject, msg.data, headers={"Nats-Msg-Id": f"dup-{uuid.uuid4()}"})
            sent += 1
        return sent
    finally:
        await nc.close()


def write_summary(summary: dict[str, Any]) -> None:
    """Keep what the run saw as a test artefact."""
    Path("artifacts").mkdir(exist_ok=True)
    Path("artifacts/faults-summary.json").write_text(json.dumps(summary, indent=2))


async def test_every_lifecycle_ends_right_while_processes_are_killed(stack: Stack) -> None:
    api = JietiaoApi(stack.config.url("gateway"), stack.config.operator_token(), retry_seconds=90)
    rng = random.Random()
    stop, round_done, faults = asyncio.Event(), asyncio.Event(), []
    chaos_task = asyncio.create_task(chaos(stack, stop, round_done, faults))
    records: list[dict[str, Any]] = []
    started = iter(range(1_000_000))

    async def worker() -> None:
        # New lifecycles keep starting until the minimum ran and every process was
        # killed once while lifecycles were in flight.
        for n in started:
            if n >= LIFECYCLES and round_done.is_set():
                return
            records.append(await drive(api, ENDINGS[n % len(ENDINGS)], rng))

    try:
        await asyncio.gather(*(worker() for _ in range(12)))
    finally:
        stop.set()
        await chaos_task
    duplicates = await republish_events(stack, share=0.3)
    problems = await settled_problems(api, records)
    summary = {
        "lifecycles": len(records),
        "faults": faults,
        "duplicates_published": duplicates,
        "client_retries": api.retries,
        "problems": problems,
    }
    write_summary(summary)
    await api.close()
    assert len(faults) >= len(VICTIMS), "every process must have been killed at least once"
    assert len(records) >= LIFECYCLES
    assert summary["problems"] == {}
