"""Two people acting at once: exactly one outcome, the loser told clearly."""

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from jietiao_stack.client import ApiFailure, JietiaoApi, Session, synthetic_signature
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import Stack
from jietiao_stack.testing import free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

ROUNDS = int(os.environ.get("JIETIAO_RACE_ROUNDS", "4"))


def two_people() -> tuple[Person, Person]:
    rng = random.Random()
    return make_person(rng), make_person(rng)


async def awaiting_counterparty(api: JietiaoApi) -> tuple[Session, Session, dict[str, Any]]:
    lender, borrower = two_people()
    a, b = await api.login(lender), await api.login(borrower)
    iou = await a.create_iou(borrower)
    iou = await a.wait_status(iou["id"], "awaiting_initiator")
    await a.sign(iou)
    return a, b, await a.wait_status(iou["id"], "awaiting_counterparty")


async def outcome(call: Any) -> Any:
    try:
        return await call
    except ApiFailure as failure:
        return failure


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_withdrawal_racing_the_counterparty_signature_has_one_outcome(
    api: JietiaoApi, round_: int
) -> None:
    a, b, iou = await awaiting_counterparty(api)
    seen = await b.iou(iou["id"])

    withdraw, _ = await asyncio.gather(
        outcome(a.call("withdraw", "POST", f"/api/ious/{iou['id']}/withdraw")),
        outcome(b.sign(seen)),
    )
    final = await a.wait_for(
        iou["id"],
        lambda i: i["status"] == "withdrawn" or i["documents"]["signed_sha256"],
        "an ending",
    )

    if isinstance(withdraw, ApiFailure):
        assert withdraw.status == 409 and withdraw.body["status"] == "effective"
        assert final["status"] == "effective"
    else:
        assert withdraw["status"] == "withdrawn"
        await asyncio.sleep(1.0)
        assert (await a.iou(iou["id"]))["status"] == "withdrawn"
        assert all(p["signed_at"] is None for r, p in final["parties"].items() if r == "borrower")


async def effective(api: JietiaoApi) -> tuple[Session, Session, dict[str, Any]]:
    a, b, iou = await awaiting_counterparty(api)
    await b.sign(await b.iou(iou["id"]))
    return a, b, await b.wait_status(iou["id"], "effective")


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_both_parties_asking_to_void_at_once_open_one_request(
    api: JietiaoApi, round_: int
) -> None:
    a, b, iou = await effective(api)
    path = f"/api/ious/{iou['id']}/void-requests"

    answers = await asyncio.gather(
        *(
            outcome(s.call("request_void", "POST", path, json={"reason": "还清"}, expect=201))
            for s in (a, b)
        )
    )

    failures = [x for x in answers if isinstance(x, ApiFailure)]
    assert len(failures) == 1 and failures[0].status == 409
    winner = next(x for x in answers if not isinstance(x, ApiFailure))
    assert winner["void_request"]["status"] == "awaiting_verification"


async def test_a_double_tap_on_sign_stores_one_signature(api: JietiaoApi) -> None:
    lender, borrower = two_people()
    a = await api.login(lender)
    iou = await a.create_iou(borrower)
    iou = await a.wait_status(iou["id"], "awaiting_initiator")
    body = {
        "document_sha256": iou["documents"]["preview_sha256"],
        "signature": synthetic_signature(7),
    }

    taps = await asyncio.gather(
        *(
            a.call("sign", "POST", f"/api/ious/{iou['id']}/signatures", json=body, expect=201)
            for _ in range(3)
        )
    )

    assert len({t["signature_id"] for t in taps}) == 1


@pytest_asyncio.fixture
async def second_agreements(stack: Stack) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another replica of agreements on the same database and durable consumers."""
    env = stack.service_env("agreements")
    env["JIETIAO_HTTP_PORT"] = str(free_port())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agreements",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    import httpx

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                r = await client.get(f"http://127.0.0.1:{env['JIETIAO_HTTP_PORT']}/readyz")
                return r.status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(up, seconds=30)
    yield process
    process.send_signal(signal.SIGTERM)
    await process.wait()


async def test_two_replicas_of_agreements_share_the_saga_without_doubling(
    api: JietiaoApi, second_agreements: asyncio.subprocess.Process
) -> None:
    finished = await asyncio.gather(*(effective(api) for _ in range(4)))

    for a, b, iou in finished:
        done = await a.wait_for(iou["id"], lambda i: i["documents"]["signed_sha256"], "signed PDF")
        assert done["status"] == "effective"
        for person in (a.person, b.person):
            sms = await api.recorded_sms(phone=person.phone, kind="signed", agreement_id=iou["id"])
            assert len(sms) == 1
        invitations = await api.recorded_sms(
            phone=b.person.phone, kind="invitation", agreement_id=iou["id"]
        )
        assert len(invitations) == 1
