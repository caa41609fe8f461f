"""IOU lifecycles with every ending, and the effects each ending must leave.

Used by the fault tests and the scale-out run: :func:`drive` takes one IOU to a
chosen ending as two patient people would (the client retries through outages),
:func:`effects` reads what happened through the public and operator APIs, and
:func:`check` lists every way those effects differ from what the ending requires
(one invitation, one signed PDF and two signed SMS per signed IOU, and so on).
"""

import asyncio
import random
from collections import Counter
from typing import Any

from .client import JietiaoApi, Session
from .personas import make_person

ENDINGS = ["effective", "refused", "withdrawn", "voided", "void_cancelled", "void_refused"]
PATIENCE = 180.0


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
    record = {
        "id": iou_id,
        "ending": ending,
        "lender": lender,
        "borrower": borrower,
        "as_lender": a,
    }
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


async def effects(api: JietiaoApi, record: dict[str, Any]) -> dict[str, Any]:
    """What happened to one IOU, as the parties and an operator can see it."""
    a = record.get("as_lender") or await api.login(record["lender"])
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


async def settled_problems(
    api: JietiaoApi, records: list[dict[str, Any]], seconds: float = 120.0
) -> dict[str, list[str]]:
    """Each IOU's problems once effects have settled (or what remains after ``seconds``).

    Effects are eventually consistent: a message retried after an outage may still
    be on its way when the last lifecycle returns, so a problem counts only if it
    is still there when the time is up.
    """
    deadline = asyncio.get_running_loop().time() + seconds
    pending = list(records)
    problems: dict[str, list[str]] = {}
    while True:
        problems = {}
        for record in pending:
            found = check(record, await effects(api, record))
            if found:
                problems[record["id"]] = found
        if not problems or asyncio.get_running_loop().time() > deadline:
            return problems
        pending = [r for r in pending if r["id"] in problems]
        await asyncio.sleep(2.0)
