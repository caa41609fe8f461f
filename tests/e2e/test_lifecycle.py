"""Every flow of the product, driven through the gateway as two people would."""

import asyncio
import io
import random

import pytest
from documents.seal import SEAL_FIELD, VOID_FIELD, SealReport, asn1_cert, read_certs, validate
from jietiao_stack.client import ApiFailure, JietiaoApi, Session
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import Stack
from jietiao_stack.testing import wait_until
from pypdf import PdfReader

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def pdf_text(data: bytes) -> str:
    """All text of a PDF, as a viewer would extract it."""
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def initiated(
    api: JietiaoApi, initiator: Person, counterparty: Person, role: str, **terms: object
) -> tuple[Session, Session, dict]:
    """An IOU signed by its initiator and awaiting the counterparty."""
    a = await api.login(initiator)
    iou = await a.create_iou(counterparty, role=role, **terms)
    assert iou["status"] == "draft"
    iou = await a.wait_status(iou["id"], "awaiting_initiator")
    await a.sign(iou)
    iou = await a.wait_status(iou["id"], "awaiting_counterparty")
    b = await api.login(counterparty)
    return a, b, iou


async def effective(
    api: JietiaoApi, lender: Person, borrower: Person
) -> tuple[Session, Session, dict]:
    """An IOU both sides signed."""
    a, b, iou = await initiated(api, lender, borrower, "lender")
    await b.sign(await b.iou(iou["id"]))
    return a, b, await b.wait_status(iou["id"], "effective")


@pytest.mark.parametrize("role", ["lender", "borrower"])
async def test_both_sign_and_the_iou_becomes_effective(
    stack: Stack, api: JietiaoApi, people, role: str
) -> None:
    initiator, counterparty = people
    a, b, iou = await initiated(api, initiator, counterparty, role)

    invitation = await api.wait_sms(counterparty.phone, "invitation", agreement_id=iou["id"])
    assert counterparty.id_number not in invitation[0]["text"]
    links = await a.call("share_links", "GET", f"/api/ious/{iou['id']}/share-links")
    token = links["items"][0]["token"]
    opened = await api.request("open_link", "GET", f"/api/share/{token}")
    assert opened["agreement_id"] == iou["id"]

    seen = await b.iou(iou["id"])
    assert seen["my_role"] != role and "sign" in seen["actions"]
    assert seen["parties"][role]["id_number"] != initiator.id_number  # masked for the other side
    await b.sign(seen)
    done = await b.wait_for(iou["id"], lambda i: i["documents"]["signed_sha256"], "signed PDF")

    assert done["status"] == "effective"
    assert all(p["signed_at"] for p in done["parties"].values())
    for person in (initiator, counterparty):
        await api.wait_sms(person.phone, "signed", agreement_id=iou["id"])
    text = pdf_text(await a.download(iou["id"], "signed"))
    assert initiator.name in text and counterparty.name in text
    assert "人民币壹万贰仟元整" in text
    assert "证据页" in text
    [seal] = await seals(stack, await b.download(iou["id"], "signed"))
    assert seal.intact and seal.valid and seal.trusted and seal.field == SEAL_FIELD
    for session in (a, b):
        folder = await session.call("folder", "GET", "/api/ious", params={"filter": "effective"})
        assert iou["id"] in [i["id"] for i in folder["items"]]


async def test_a_stranger_sees_nothing(api: JietiaoApi, people) -> None:
    _, _, iou = await initiated(api, *people, "lender")
    stranger = await api.login(make_person(random.Random()))

    for path in (f"/api/ious/{iou['id']}", f"/api/ious/{iou['id']}/documents/preview"):
        with pytest.raises(ApiFailure) as failure:
            await stranger.call("peek", "GET", path)
        assert failure.value.status == 404


async def test_the_counterparty_refuses_with_a_reason(api: JietiaoApi, people) -> None:
    initiator, counterparty = people
    a, b, iou = await initiated(api, initiator, counterparty, "lender")

    refused = await b.call(
        "refuse", "POST", f"/api/ious/{iou['id']}/refuse", json={"reason": "金额不对"}
    )

    assert refused["status"] == "refused"
    await api.wait_sms(initiator.phone, "refused", agreement_id=iou["id"])

    # The SMS and the revocation are two commands to notify, handled in any order.
    async def revoked() -> bool:
        links = await a.call("share_links", "GET", f"/api/ious/{iou['id']}/share-links")
        return links["items"] == []

    assert await wait_until(revoked, seconds=20)
    with pytest.raises(ApiFailure) as late:
        await b.sign(await b.iou(iou["id"]))
    assert late.value.status == 409 and late.value.body["status"] == "refused"


async def test_the_initiator_withdraws_before_the_other_side_signs(api: JietiaoApi, people) -> None:
    initiator, counterparty = people
    a, _, iou = await initiated(api, initiator, counterparty, "borrower")

    withdrawn = await a.call("withdraw", "POST", f"/api/ious/{iou['id']}/withdraw")

    assert withdrawn["status"] == "withdrawn"
    await api.wait_sms(counterparty.phone, "withdrawn", agreement_id=iou["id"])
    with pytest.raises(ApiFailure) as again:
        await a.call("withdraw", "POST", f"/api/ious/{iou['id']}/withdraw")
    assert again.value.status == 409 and again.value.body["status"] == "withdrawn"


async def test_reminders_are_scheduled_for_each_instalment(api: JietiaoApi, people) -> None:
    lender, borrower = people
    a, _, iou = await effective(api, lender, borrower)

    await a.call("reminders", "PUT", f"/api/ious/{iou['id']}/reminders", json={"enabled": True})

    async def schedule() -> list:
        body = await api.request(
            "ops_reminders",
            "GET",
            "/api/ops/reminders",
            params={"agreement_id": iou["id"]},
            headers={"x-operator-token": api.operator_token},
        )
        return body["items"]

    items = await wait_until(schedule)
    assert len(items) == 12


async def open_void(requester: Session, iou: dict) -> dict:
    """Ask to void and pass the face check; the request is then open."""
    await requester.call(
        "request_void",
        "POST",
        f"/api/ious/{iou['id']}/void-requests",
        json={"reason": "已经还清"},
        expect=201,
    )
    await requester.verify(iou["id"], "request_void")
    return await requester.wait_status(iou["id"], "void_requested")


async def test_void_request_cancelled_by_its_requester(api: JietiaoApi, people) -> None:
    lender, borrower = people
    a, _, iou = await effective(api, lender, borrower)
    pending = await open_void(a, iou)
    await api.wait_sms(borrower.phone, "void_requested", agreement_id=iou["id"])

    void_id = pending["void_request"]["id"]
    back = await a.call(
        "cancel_void", "POST", f"/api/ious/{iou['id']}/void-requests/{void_id}/cancel"
    )

    assert back["status"] == "effective"
    await api.wait_sms(borrower.phone, "void_cancelled", agreement_id=iou["id"])


async def test_void_request_refused_by_the_other_side(api: JietiaoApi, people) -> None:
    lender, borrower = people
    a, b, iou = await effective(api, lender, borrower)
    pending = await open_void(b, iou)

    void_id = pending["void_request"]["id"]
    kept = await a.call(
        "refuse_void",
        "POST",
        f"/api/ious/{iou['id']}/void-requests/{void_id}/refuse",
        json={"reason": "尚未还款"},
    )

    assert kept["status"] == "effective"
    await api.wait_sms(borrower.phone, "void_refused", agreement_id=iou["id"])


async def seals(stack: Stack, pdf: bytes) -> list[SealReport]:
    """pyHanko's verdict on each seal, trusting the stack's own CA."""
    ca = stack.config.data_dir / "documents" / "seal" / "ca.pem"
    roots = [asn1_cert(c) for c in read_certs(ca)]
    return await asyncio.to_thread(validate, pdf, roots)


async def test_void_confirmed_voids_the_iou_and_renders_a_voided_copy(
    stack: Stack, api: JietiaoApi, people
) -> None:
    lender, borrower = people
    a, b, iou = await effective(api, lender, borrower)
    await a.call("reminders", "PUT", f"/api/ious/{iou['id']}/reminders", json={"enabled": True})
    pending = await open_void(a, iou)

    void_id = pending["void_request"]["id"]
    await b.call("confirm_void", "POST", f"/api/ious/{iou['id']}/void-requests/{void_id}/confirm")
    await b.verify(iou["id"], "confirm_void")
    voided = await b.wait_for(iou["id"], lambda i: i["documents"]["voided_sha256"], "voided PDF")

    assert voided["status"] == "voided"
    signed = await a.download(iou["id"], "signed")
    copy = await b.download(iou["id"], "voided")
    assert copy.startswith(signed), "the voided copy only adds a revision to the sealed IOU"
    reports = await seals(stack, copy)
    assert [r.field for r in reports] == [SEAL_FIELD, VOID_FIELD]
    assert all(r.intact and r.valid and r.trusted for r in reports)
    assert lender.name in pdf_text(copy)
    for person in people:
        await api.wait_sms(person.phone, "voided", agreement_id=iou["id"])


async def test_the_saga_records_when_each_undoing_is_done(api: JietiaoApi, people) -> None:
    initiator, counterparty = people
    a, _, iou = await initiated(api, initiator, counterparty, "lender")
    await a.call("withdraw", "POST", f"/api/ious/{iou['id']}/withdraw")

    async def completed() -> set[str]:
        trail = await a.call("audit", "GET", f"/api/ious/{iou['id']}/audit")
        done = {
            line["detail"].get("reason")
            for line in trail["items"]
            if line["action"] == "compensation_completed"
        }
        return done if {"close_flow", "supersede_previews"} <= done else set()

    assert await wait_until(completed) == {"close_flow", "supersede_previews"}
