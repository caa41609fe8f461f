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
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi, Session
from jietiao_stack.personas import make_person
from jietiao_stack.stack import SERVICES, Stack, StackConfig
from jietiao_stack.testing import StackLog, free_base_port

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="module")]

LIFECYCLES = int(os.environ.get("JIETIAO_FAULT_LIFECYCLES", "12"))
ENDINGS = ["effective", "refused", "withdrawn", "voided", "void_cancelled", "void_refused"]
PATIENCE = 180.0


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


async def drive(api: JietiaoApi, ending: str, rng: random.Random) -> dict[str, Any]:
    """One IOU from creation to ``ending``, as two patient people would."""
    lender, borrower = make_person(rng), make_person(rng)
    a: Session = await api.login(lender)
    b: Session = await api.login(borrower)
    iou = await a.create_iou(borrower, reminders_enabled=True)
    iou_id = iou["id"]
    iou = await a.wait_status(iou_id, "awaiting_initiator", PATIENCE)
    await a.sign(iou)
    await a.wait_status(iou_id, "awaiting_counterparty", PATIENCE)
    record = {"id": iou_id, "ending": ending, "lender": lender, "borrower": borrower}
    if ending == "withdrawn":
        await a.call("withdraw", "POST", f"/api/ious/{iou_id}/withdraw")
        return record
    if ending == "refused":
        await b.call("refuse", "POST", f"/api/ious/{iou_id}/refuse", json={"reason": "不同意"})
        return record
    await b.sign(await b.iou(iou_id))
    await b.wait_for(iou_id, lambda i: i["documents"]["signed_sha256"], "signed", PATIENCE)
    if ending == "effective":
        return record
    await a.call(
        "request_void",
        "POST",
        f"/api/ious/{iou_id}/void-requests",
        json={"reason": "还清"},
        expect=201,
    )
    await a.verify(iou_id, "request_void")
    pending = await a.wait_status(iou_id, "void_requested", PATIENCE)
    void = f"/api/ious/{iou_id}/void-requests/{pending['void_request']['id']}"
    if ending == "void_cancelled":
        await a.call("cancel_void", "POST", f"{void}/cancel")
    elif ending == "void_refused":
        await b.call("refuse_void", "POST", f"{void}/refuse", json={"reason": "未还清"})
    else:
        await b.call("confirm_void", "POST", f"{void}/confirm")
        await b.verify(iou_id, "confirm_void")
        await b.wait_for(iou_id, lambda i: i["documents"]["voided_sha256"], "voided", PATIENCE)
    return record


async def chaos(stack: Stack, stop: asyncio.Event, log: list[str]) -> None:
    """Kill each service, then NATS, then PostgreSQL, in turn, and start them again."""
    rng = random.Random()
    victims = [*SERVICES, "nats", "postgres"]
    while not stop.is_set():
        for victim in victims:
            if stop.is_set():
                return
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            started = time.monotonic()
            await stack.kill(victim, signal.SIGKILL)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            await stack.respawn(victim)
            log.append(f"{victim} killed and back in {time.monotonic() - started:.1f}s")


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


async def effects(api: JietiaoApi, record: dict[str, Any]) -> dict[str, Any]:
    """What happened to one IOU, as the parties and an operator can see it."""
    a = await api.login(record["lender"])
    iou = await a.iou(record["id"])
    sms = await api.recorded_sms(agreement_id=record["id"], limit="100")
    docs = await a.call("documents", "GET", f"/api/ious/{record['id']}/documents")
    reminders = await api.request(
        "ops_reminders",
        "GET",
        "/api/ops/reminders",
        params={"agreement_id": record["id"]},
        headers={"x-operator-token": api.operator_token},
    )
    items = docs if isinstance(docs, list) else docs.get("items", docs)
    return {
        "status": iou["status"],
        "sms": Counter(m["kind"] for m in sms),
        "documents": Counter(d["kind"] for d in items),
        "reminders": Counter(r["status"] for r in reminders["items"]),
    }


EXPECTED_STATUS = {
    "effective": "effective",
    "refused": "refused",
    "withdrawn": "withdrawn",
    "voided": "voided",
    "void_cancelled": "effective",
    "void_refused": "effective",
}


def check(record: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    """Every way in which one IOU's effects differ from what its ending requires."""
    ending, problems = record["ending"], []
    if seen["status"] != EXPECTED_STATUS[ending]:
        problems.append(f"status {seen['status']}")
    if seen["sms"]["invitation"] != 1:
        problems.append(f"{seen['sms']['invitation']} invitations")
    signed = ending not in ("refused", "withdrawn")
    if seen["documents"]["signed"] != (1 if signed else 0):
        problems.append(f"{seen['documents']['signed']} signed PDFs")
    if seen["sms"]["signed"] != (2 if signed else 0):
        problems.append(f"{seen['sms']['signed']} signed SMS")
    voided = ending == "voided"
    if seen["documents"]["voided"] != (1 if voided else 0):
        problems.append(f"{seen['documents']['voided']} voided PDFs")
    if seen["sms"]["voided"] != (2 if voided else 0):
        problems.append(f"{seen['sms']['voided']} voided SMS")
    live = seen["reminders"]["scheduled"] + seen["reminders"]["sent"]
    if not signed and sum(seen["reminders"].values()):
        problems.append("reminders for an IOU that never took effect")
    if voided and live:
        problems.append(f"{live} reminders still live after voiding")
    if signed and not voided and live != 12:
        problems.append(f"{live} live reminders instead of 12")
    for kind in ("refused", "withdrawn", "void_cancelled", "void_refused"):
        want = 1 if ending == kind else 0
        if seen["sms"][kind] != want:
            problems.append(f"{seen['sms'][kind]} {kind} SMS")
    return problems


def write_summary(summary: dict[str, Any]) -> None:
    """Keep what the run saw as a test artefact."""
    Path("artifacts").mkdir(exist_ok=True)
    Path("artifacts/faults-summary.json").write_text(json.dumps(summary, indent=2))


async def test_every_lifecycle_ends_right_while_processes_are_killed(stack: Stack) -> None:
    api = JietiaoApi(stack.config.url("gateway"), stack.config.operator_token(), retry_seconds=90)
    rng = random.Random()
    stop, faults = asyncio.Event(), []
    chaos_task = asyncio.create_task(chaos(stack, stop, faults))
    semaphore = asyncio.Semaphore(12)

    async def one(n: int) -> dict[str, Any]:
        async with semaphore:
            return await drive(api, ENDINGS[n % len(ENDINGS)], rng)

    try:
        records = await asyncio.gather(*(one(n) for n in range(LIFECYCLES)))
    finally:
        stop.set()
        await chaos_task
    duplicates = await republish_events(stack, share=0.3)
    await asyncio.sleep(3.0)

    report = {r["id"]: check(r, await effects(api, r)) for r in records}
    summary = {
        "lifecycles": len(records),
        "faults": faults,
        "duplicates_published": duplicates,
        "client_retries": api.retries,
        "problems": {k: v for k, v in report.items() if v},
    }
    write_summary(summary)
    await api.close()
    assert len(faults) >= len(SERVICES), "every service must have been killed at least once"
    assert summary["problems"] == {}
