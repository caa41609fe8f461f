"""Agreements over real HTTP, PostgreSQL and NATS: the IOU saga step by step.

Agreements is served alone. The tests play every other service: they sign session
tokens (identity's part), publish the facts agreements consumes (signing, identity
and documents) and read the commands and events it emits from the streams.
"""

import asyncio
import dataclasses
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
import pytest_asyncio
from agreements.app import build_spec
from agreements.settings import get_settings
from jietiao_shared.bus import provision
from jietiao_shared.contracts import (
    COMMANDS_STREAM,
    CONSUMERS,
    EVENTS_STREAM,
    ConsumerSpec,
    Contract,
    DocumentRendered,
    Envelope,
    SignatureCaptured,
    Subject,
    VerificationPassed,
)
from jietiao_shared.db import make_engine, migrate
from jietiao_shared.outbox import pending_count
from jietiao_shared.personal import id_check_character, id_number_sha256
from jietiao_shared.service import create_app
from jietiao_stack.testing import (
    BackingServers,
    TestTokenIssuer,
    free_port,
    serving,
    wait_until,
)
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- people -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Person:
    """Someone who can take part in an IOU, with a stable account."""

    name: str
    id_number: str
    phone: str
    account_id: str


def a_person(name: str = "张三") -> Person:
    """A fresh person: valid ID number, unique mobile number."""
    n = uuid.uuid4().int
    first17 = f"110105{1970 + n % 30}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return Person(
        name=name,
        id_number=first17 + id_check_character(first17),
        phone=f"+86138{n % 10**8:08d}",
        account_id=str(uuid.uuid4()),
    )


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the bus, as the other services see it ------------------------------------------


class Bus:
    """Publishes facts as their owners would and reads what agreements sent."""

    def __init__(self, nc: Any) -> None:
        self.js = nc.jetstream()
        self._read: dict[str, dict[int, tuple[str, dict[str, Any]]]] = {
            COMMANDS_STREAM: {},
            EVENTS_STREAM: {},
        }

    async def publish(self, subject: str, payload: Contract) -> None:
        envelope = Envelope(
            type=type(payload).__name__, data=payload.model_dump(mode="json")
        ).model_dump(mode="json")
        await self.js.publish(
            subject,
            json.dumps(envelope).encode(),
            headers={"Nats-Msg-Id": envelope["message_id"]},
        )

    async def _messages(self, stream: str) -> list[tuple[str, dict[str, Any]]]:
        """Every message of a stream so far (cached: messages never change)."""
        seen = self._read[stream]
        info = await self.js.stream_info(stream)
        start = max(info.state.first_seq, max(seen, default=0) + 1)
        for seq in range(start, info.state.last_seq + 1):
            try:
                msg = await self.js.get_msg(stream, seq)
            except NotFoundError:
                continue
            seen[seq] = (msg.subject, json.loads(msg.data or b"{}"))
        return [seen[s] for s in sorted(seen)]

    async def sent(self, iou_id: str, subject: str) -> list[dict[str, Any]]:
        """Payloads agreements published on ``subject`` about one IOU, in order."""
        stream = COMMANDS_STREAM if ".cmd." in subject else EVENTS_STREAM
        return [
            envelope["data"]
            for subj, envelope in await self._messages(stream)
            if subj == subject and envelope["data"].get("agreement_id") == iou_id
        ]


# --- agreements, driven as its clients and peers drive it ---------------------------


class Saga:
    """Talks to agreements over HTTP as the parties and over the bus as its peers."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        bus: Bus,
        issuer: TestTokenIssuer,
        engine: AsyncEngine,
    ) -> None:
        self.http = http
        self.bus = bus
        self.issuer = issuer
        self.engine = engine

    # what agreements sent ------------------------------------------------------

    async def settled(self) -> None:
        """Wait until agreements published everything it committed so far."""

        async def drained() -> bool:
            return bool(await pending_count(self.engine) == 0)

        await wait_until(drained)

    async def sent(self, iou_id: str, subject: str) -> list[dict[str, Any]]:
        """Everything sent on ``subject`` about one IOU, once the outbox is empty."""
        await self.settled()
        return await self.bus.sent(iou_id, subject)

    async def sms(self, iou_id: str, kind: str) -> list[str]:
        """Phones agreements asked notify to text with an SMS of ``kind``."""
        return [m["phone"] for m in await self.sent(iou_id, Subject.SEND_SMS) if m["kind"] == kind]

    def auth(self, who: Person) -> dict[str, str]:
        token = self.issuer.token(who.phone, account_id=who.account_id)
        return {"authorization": f"Bearer {token}"}

    # HTTP ---------------------------------------------------------------------

    async def call(self, who: Person, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.auth(who), **kw)

    async def create(
        self, initiator: Person, counterparty: Person, /, **changes: Any
    ) -> httpx.Response:
        return await self.call(
            initiator, "POST", "/ious", json=draft(initiator, counterparty, **changes)
        )

    async def created(
        self, initiator: Person, counterparty: Person, /, **changes: Any
    ) -> dict[str, Any]:
        response = await self.create(initiator, counterparty, **changes)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def iou(self, who: Person, iou_id: str) -> dict[str, Any]:
        response = await self.call(who, "GET", f"/ious/{iou_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_status(self, who: Person, iou_id: str, status: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            iou = await self.iou(who, iou_id)
            return iou if iou["status"] == status else None

        iou: dict[str, Any] = await wait_until(reached)
        return iou

    async def audit(self, who: Person, iou_id: str) -> list[dict[str, Any]]:
        response = await self.call(who, "GET", f"/ious/{iou_id}/audit")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def wait_audit(
        self, who: Person, iou_id: str, action: str, **detail: str
    ) -> dict[str, Any]:
        """Wait for an audit line with ``action`` (and these details)."""

        async def logged() -> dict[str, Any] | None:
            for line in await self.audit(who, iou_id):
                if line["action"] == action and all(
                    line["detail"].get(k) == v for k, v in detail.items()
                ):
                    return line
            return None

        line: dict[str, Any] = await wait_until(logged)
        return line

    async def folder(self, who: Person, filter: str) -> set[str]:
        response = await self.call(who, "GET", "/ious", params={"filter": filter})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    # facts from the other services ---------------------------------------------

    async def rendered(
        self, iou_id: str, digest: str, kind: str = "preview", version: int = 1
    ) -> None:
        await self.bus.publish(
            Subject.DOCUMENT_RENDERED,
            DocumentRendered(
                agreement_id=iou_id,
                kind=kind,
                version=version,
                sha256=digest,
                size=1234,
                rendered_at=datetime.now(UTC),
            ),
        )

    async def signature(self, iou_id: str, role: str, signer: Person, document_sha256: str) -> str:
        signature_id = str(uuid.uuid4())
        png = b"\x89PNG fake " + signature_id.encode()
        await self.bus.publish(
            Subject.SIGNATURE_CAPTURED,
            SignatureCaptured(
                signature_id=signature_id,
                agreement_id=iou_id,
                party_role=role,
                account_id=signer.account_id,
                account_phone=signer.phone,
                document_sha256=document_sha256,
                strokes_sha256=sha("strokes " + signature_id),
                png_sha256=hashlib.sha256(png).hexdigest(),
                png_base64="",
                signed_at=datetime.now(UTC),
                user_agent="test",
                client_ip="127.0.0.1",
            ),
        )
        return signature_id

    async def verification(
        self,
        iou_id: str,
        role: str,
        who: Person,
        action: str = "sign",
        *,
        name: str | None = None,
        id_number: str | None = None,
    ) -> str:
        verification_id = str(uuid.uuid4())
        await self.bus.publish(
            Subject.VERIFICATION_PASSED,
            VerificationPassed(
                verification_id=verification_id,
                agreement_id=iou_id,
                party_role=role,
                action=action,
                account_id=who.account_id,
                account_phone=who.phone,
                verified_name=name or who.name,
                id_number_sha256=id_number_sha256(id_number or who.id_number),
                provider="test",
                passed_at=datetime.now(UTC),
            ),
        )
        return verification_id

    # whole steps ----------------------------------------------------------------

    async def awaiting_initiator(
        self, initiator: Person, counterparty: Person, /, **changes: Any
    ) -> dict[str, Any]:
        """A created IOU whose preview was rendered."""
        iou = await self.created(initiator, counterparty, **changes)
        await self.sent(iou["id"], Subject.RENDER_DOCUMENT)
        await self.rendered(iou["id"], sha("preview " + iou["id"]))
        return await self.wait_status(initiator, iou["id"], "awaiting_initiator")

    async def sign(self, iou: dict[str, Any], role: str, who: Person) -> None:
        preview = sha("preview " + iou["id"])
        await self.signature(iou["id"], role, who, preview)
        await self.verification(iou["id"], role, who)

    async def awaiting_counterparty(self, lender: Person, borrower: Person) -> dict[str, Any]:
        iou = await self.awaiting_initiator(lender, borrower)
        await self.sign(iou, "lender", lender)
        return await self.wait_status(lender, iou["id"], "awaiting_counterparty")

    async def effective(self, lender: Person, borrower: Person) -> dict[str, Any]:
        iou = await self.awaiting_counterparty(lender, borrower)
        await self.sign(iou, "borrower", borrower)
        return await self.wait_status(lender, iou["id"], "effective")

    async def void_requested(
        self, iou: dict[str, Any], role: str, requester: Person
    ) -> dict[str, Any]:
        """Ask to void and pass the face check: the request is open."""
        response = await self.call(
            requester,
            "POST",
            f"/ious/{iou['id']}/void-requests",
            json={"reason": "已经当面还清"},
        )
        assert response.status_code == 201, response.text
        await self.verification(iou["id"], role, requester, "request_void")
        return await self.wait_status(requester, iou["id"], "void_requested")


def draft(initiator: Person, counterparty: Person, /, **changes: Any) -> dict[str, Any]:
    """What the initiator types into the form, accepting the notice."""
    body: dict[str, Any] = {
        "notice": {"version": "2026-01", "accepted": True},
        "role": "lender",
        "me": {
            "name": initiator.name,
            "id_number": initiator.id_number,
            "phone": initiator.phone,
        },
        "counterparty": {
            "name": counterparty.name,
            "id_number": counterparty.id_number,
            "phone": counterparty.phone,
        },
        "principal": "12000",
        "purpose": "装修房屋",
        "loan_date": datetime.now(SHANGHAI).date().isoformat(),
        "term_months": 12,
        "annual_rate": "6",
        "overdue_rate": "12",
        "payment_method": "bank_transfer",
        "repayment_method": "equal_instalments",
        "reminders_enabled": True,
    }
    body.update(changes)
    return body


# --- fixtures -----------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bus(backing_servers: BackingServers) -> AsyncIterator[Bus]:
    """A plain nats-py connection to the module's NATS."""
    await provision(backing_servers.nats_url)
    nc = await nats.connect(backing_servers.nats_url)
    yield Bus(nc)
    await nc.close()


async def _serve_agreements(
    servers: BackingServers,
    issuer: TestTokenIssuer,
    bus: Bus,
    database: str,
    name: str = "agreements",
    **settings: str,
) -> AsyncIterator[Saga]:
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", servers.database_url(database))
    mp.setenv("JIETIAO_JWKS_URL", issuer.jwks_url)
    mp.setenv("JIETIAO_OUTBOX_POLL_SECONDS", "0.2")
    mp.setenv("JIETIAO_RETRY_BACKOFF_SECONDS", "[0.2, 0.5]")
    for key, value in settings.items():
        mp.setenv(f"JIETIAO_{key.upper()}", value)
    # A second instance on the same NATS needs its own durable consumers, or the
    # two would take messages from each other.
    get_settings.cache_clear()
    spec = dataclasses.replace(build_spec(), name=name)
    if name != "agreements":
        own = tuple(
            ConsumerSpec(name, c.name, c.subject) for c in CONSUMERS if c.service == "agreements"
        )
        await provision(servers.nats_url, consumers=own)
    await migrate(spec.settings.database_url, spec.migration_packages)
    engine = make_engine(spec.settings.database_url, pool_size=2)
    try:
        async with (
            serving(create_app(spec), port),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            yield Saga(http, bus, issuer, engine)
    finally:
        await engine.dispose()
        mp.undo()
        get_settings.cache_clear()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def saga(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer, bus: Bus
) -> AsyncIterator[Saga]:
    """Agreements, served for real on its own database."""
    async for served in _serve_agreements(
        backing_servers, token_issuer, bus, "test_agreements_saga"
    ):
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hasty(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer, bus: Bus
) -> AsyncIterator[Saga]:
    """A second agreements whose unsigned IOUs expire at once."""
    async for served in _serve_agreements(
        backing_servers,
        token_issuer,
        bus,
        "test_agreements_expiry",
        name="agreements-hasty",
        unsigned_expiry_hours="0",
        expiry_sweep_seconds="0.2",
    ):
        yield served


# --- creating and the preview -------------------------------------------------------


async def test_a_new_iou_asks_for_its_preview_and_becomes_signable_once_rendered(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    created = await saga.created(lender, borrower)
    assert created["status"] == "draft"
    assert created["terms"]["amount_in_words"] == "人民币壹万贰仟元整"
    assert created["parties"]["borrower"]["id_number"] != borrower.id_number

    [render] = await saga.sent(created["id"], Subject.RENDER_DOCUMENT)
    assert render["kind"] == "preview" and render["version"] == 1
    assert render["terms"]["principal_fen"] == 1_200_000
    assert set(render["readers"]) == {lender.phone, borrower.phone}
    assert render["signatures"] == [] and render["audit"] == []

    await saga.rendered(created["id"], sha("preview " + created["id"]))
    iou = await saga.wait_status(lender, created["id"], "awaiting_initiator")
    assert iou["documents"]["preview_sha256"] == sha("preview " + created["id"])
    assert "sign" in iou["actions"] and "withdraw" in iou["actions"]
    changes = await saga.sent(created["id"], Subject.IOU_STATUS_CHANGED)
    assert (changes[0]["previous"], changes[0]["status"]) == (
        "draft",
        "awaiting_initiator",
    )


# --- the initiator signs ------------------------------------------------------------


@pytest.mark.parametrize("first", ["signature", "verification"])
async def test_the_initiator_has_signed_once_signature_and_face_check_are_both_in(
    saga: Saga, first: str
) -> None:
    lender, borrower = a_person(), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)
    preview = iou["documents"]["preview_sha256"]

    if first == "signature":
        await saga.signature(iou["id"], "lender", lender, preview)
        await saga.wait_audit(lender, iou["id"], "signature_captured")
    else:
        await saga.verification(iou["id"], "lender", lender)
        await saga.wait_audit(lender, iou["id"], "verification_passed")
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_initiator"

    if first == "signature":
        await saga.verification(iou["id"], "lender", lender)
    else:
        await saga.signature(iou["id"], "lender", lender, preview)
    signed = await saga.wait_status(lender, iou["id"], "awaiting_counterparty")

    assert signed["parties"]["lender"]["signed_at"] is not None
    assert signed["parties"]["borrower"]["signed_at"] is None
    assert await saga.sms(iou["id"], "invitation") == [borrower.phone]
    [link] = await saga.sent(iou["id"], Subject.ISSUE_SHARE_LINK)
    assert link["holder_phone"] == borrower.phone and link["purpose"] == "sign"
    assert link["owner_phones"] == [lender.phone]


async def test_a_signature_from_someone_who_is_not_the_party_is_rejected(
    saga: Saga,
) -> None:
    lender, borrower, stranger = a_person(), a_person("李四"), a_person()
    iou = await saga.awaiting_initiator(lender, borrower)
    preview = iou["documents"]["preview_sha256"]

    forged = await saga.signature(iou["id"], "lender", stranger, preview)
    line = await saga.wait_audit(lender, iou["id"], "signature_rejected")
    assert line["detail"]["reason"] == "signer_is_not_the_party"
    assert line["detail"]["signature_id"] == forged

    await saga.verification(iou["id"], "lender", lender)
    await saga.wait_audit(lender, iou["id"], "verification_passed")
    after = await saga.iou(lender, iou["id"])
    assert after["status"] == "awaiting_initiator"
    assert after["parties"]["lender"]["signature_captured"] is False

    await saga.signature(iou["id"], "lender", lender, preview)
    await saga.wait_status(lender, iou["id"], "awaiting_counterparty")


async def test_a_signature_on_a_stale_document_is_rejected(saga: Saga) -> None:
    lender, borrower = a_person(), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)

    await saga.signature(iou["id"], "lender", lender, sha("an older preview"))
    line = await saga.wait_audit(lender, iou["id"], "signature_rejected")
    assert line["detail"]["reason"] == "document_version_mismatch"

    await saga.verification(iou["id"], "lender", lender)
    await saga.wait_audit(lender, iou["id"], "verification_passed")
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_initiator"

    await saga.signature(iou["id"], "lender", lender, iou["documents"]["preview_sha256"])
    await saga.wait_status(lender, iou["id"], "awaiting_counterparty")


@pytest.mark.parametrize(
    "mismatch",
    [{"name": "王五"}, {"id_number": "440524188001010014"}],
    ids=["another_name", "another_id_number"],
)
async def test_a_face_check_of_another_person_does_not_sign(
    saga: Saga, mismatch: dict[str, str]
) -> None:
    lender, borrower = a_person(), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)
    await saga.signature(iou["id"], "lender", lender, iou["documents"]["preview_sha256"])
    await saga.wait_audit(lender, iou["id"], "signature_captured")

    await saga.verification(iou["id"], "lender", lender, **mismatch)
    line = await saga.wait_audit(lender, iou["id"], "verification_rejected")
    assert line["detail"]["reason"] == "verified_person_is_not_the_party"
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_initiator"

    await saga.verification(iou["id"], "lender", lender)
    await saga.wait_status(lender, iou["id"], "awaiting_counterparty")


async def test_a_face_check_for_voiding_does_not_sign(saga: Saga) -> None:
    lender, borrower = a_person(), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)
    await saga.verification(iou["id"], "lender", lender, "request_void")
    await saga.wait_audit(lender, iou["id"], "verification_passed", reason="request_void")

    await saga.signature(iou["id"], "lender", lender, iou["documents"]["preview_sha256"])
    await saga.wait_audit(lender, iou["id"], "signature_captured")
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_initiator"

    await saga.verification(iou["id"], "lender", lender, "sign")
    await saga.wait_status(lender, iou["id"], "awaiting_counterparty")


# --- the counterparty signs or refuses ----------------------------------------------


async def test_the_counterparty_signing_makes_the_iou_effective_and_tells_both(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)

    await saga.sign(iou, "borrower", borrower)
    effective = await saga.wait_status(borrower, iou["id"], "effective")

    assert effective["effective_at"] is not None
    assert "request_void" in effective["actions"]
    renders = await saga.sent(iou["id"], Subject.RENDER_DOCUMENT)
    signed = renders[-1]
    assert signed["kind"] == "signed"
    assert {s["party_role"] for s in signed["signatures"]} == {"lender", "borrower"}
    assert all(s["verification_id"] for s in signed["signatures"])
    assert all(
        s["document_sha256"] == iou["documents"]["preview_sha256"] for s in signed["signatures"]
    )
    assert "signed" in [line["action"] for line in signed["audit"]]
    assert sorted(await saga.sms(iou["id"], "signed")) == sorted([lender.phone, borrower.phone])
    [reminders] = await saga.sent(iou["id"], Subject.SCHEDULE_REMINDERS)
    assert reminders["borrower_phone"] == borrower.phone
    assert len(reminders["instalments"]) == 12


async def test_a_refusal_ends_the_flow_undoes_it_and_cannot_be_repeated(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)
    path = f"/ious/{iou['id']}/refuse"

    by_initiator = await saga.call(lender, "POST", path, json={"reason": "不想借了"})
    assert by_initiator.status_code == 403

    refused = await saga.call(borrower, "POST", path, json={"reason": "金额不对"})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    assert refused.json()["end_reason"] == "金额不对"

    [close] = await saga.sent(iou["id"], Subject.CLOSE_FLOW)
    assert close["ending"] == "refused"
    [supersede] = await saga.sent(iou["id"], Subject.SUPERSEDE_PREVIEWS)
    assert supersede["reason"] == "refused"
    assert await saga.sms(iou["id"], "refused") == [lender.phone]

    again = await saga.call(borrower, "POST", path, json={"reason": "金额不对"})
    assert again.status_code == 409
    assert again.json()["error"] == "status_conflict"
    assert again.json()["status"] == "refused"
    withdrawn = await saga.call(lender, "POST", f"/ious/{iou['id']}/withdraw")
    assert withdrawn.status_code == 409 and withdrawn.json()["status"] == "refused"


async def test_a_withdrawal_ends_the_flow_undoes_it_and_cannot_be_repeated(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)
    path = f"/ious/{iou['id']}/withdraw"

    assert (await saga.call(borrower, "POST", path)).status_code == 403
    withdrawn = await saga.call(lender, "POST", path)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["actions"] == []

    [close] = await saga.sent(iou["id"], Subject.CLOSE_FLOW)
    assert close["ending"] == "withdrawn"
    [supersede] = await saga.sent(iou["id"], Subject.SUPERSEDE_PREVIEWS)
    assert supersede["reason"] == "withdrawn"
    assert await saga.sms(iou["id"], "withdrawn") == [borrower.phone]

    again = await saga.call(lender, "POST", path)
    assert again.status_code == 409
    assert again.json()["error"] == "status_conflict"
    assert again.json()["status"] == "withdrawn"

    await saga.sign(iou, "borrower", borrower)
    line = await saga.wait_audit(borrower, iou["id"], "signature_rejected")
    assert line["detail"]["reason"] == "not_signable_in_withdrawn"
    await saga.wait_audit(borrower, iou["id"], "verification_passed")
    assert (await saga.iou(borrower, iou["id"]))["status"] == "withdrawn"


async def test_an_iou_not_yet_signed_by_its_initiator_can_be_withdrawn_silently(
    saga: Saga,
) -> None:
    lender, borrower = a_person(), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)

    withdrawn = await saga.call(lender, "POST", f"/ious/{iou['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    await saga.sent(iou["id"], Subject.SUPERSEDE_PREVIEWS)
    [close] = await saga.sent(iou["id"], Subject.CLOSE_FLOW)
    assert close["ending"] == "withdrawn"
    assert await saga.sms(iou["id"], "withdrawn") == [], "the other was never told"


# --- voiding ------------------------------------------------------------------------


async def test_voiding_opens_on_a_void_face_check_and_ends_on_the_others_confirmation(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    iou_id = iou["id"]

    started = await saga.call(
        lender, "POST", f"/ious/{iou_id}/void-requests", json={"reason": "已还清"}
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "effective"
    void = started.json()["void_request"]
    assert void["status"] == "awaiting_verification" and void["requested_by"] == "lender"
    confirm = f"/ious/{iou_id}/void-requests/{void['id']}/confirm"
    early = await saga.call(borrower, "POST", confirm)
    assert early.status_code == 409 and early.json()["status"] == "effective"

    await saga.verification(iou_id, "lender", lender, "sign")
    await saga.wait_audit(lender, iou_id, "verification_passed", reason="sign")
    assert (await saga.iou(lender, iou_id))["status"] == "effective"

    await saga.verification(iou_id, "lender", lender, "request_void")
    opened = await saga.wait_status(borrower, iou_id, "void_requested")
    assert opened["void_request"]["status"] == "open"
    assert {"confirm_void", "refuse_void"} <= set(opened["actions"])
    assert await saga.sms(iou_id, "void_requested") == [borrower.phone]
    links = await saga.sent(iou_id, Subject.ISSUE_SHARE_LINK)
    assert links[-1]["purpose"] == "answer_void"
    assert links[-1]["holder_phone"] == borrower.phone

    by_requester = await saga.call(lender, "POST", confirm)
    assert by_requester.status_code == 403
    asked = await saga.call(borrower, "POST", confirm)
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "void_requested"
    assert asked.json()["void_request"]["confirm_requested"] is True

    await saga.verification(iou_id, "lender", lender, "confirm_void")
    await saga.wait_audit(lender, iou_id, "verification_passed", reason="confirm_void")
    assert (await saga.iou(lender, iou_id))["status"] == "void_requested"

    await saga.verification(iou_id, "borrower", borrower, "confirm_void")
    voided = await saga.wait_status(lender, iou_id, "voided")
    assert voided["ended_at"] is not None and voided["actions"] == []

    [cancel] = await saga.sent(iou_id, Subject.CANCEL_REMINDERS)
    assert cancel["reason"] == "voided"
    renders = await saga.sent(iou_id, Subject.RENDER_DOCUMENT)
    assert renders[-1]["kind"] == "voided"
    assert renders[-1]["voided"]["reason"] == "已还清"
    assert renders[-1]["voided"]["requested_by"] == "出借人"
    assert len(renders[-1]["signatures"]) == 2, "the original signatures stay"
    assert sorted(await saga.sms(iou_id, "voided")) == sorted([lender.phone, borrower.phone])
    again = await saga.call(borrower, "POST", confirm)
    assert again.status_code == 409 and again.json()["status"] == "voided"


async def test_a_confirm_face_check_alone_does_not_void_until_the_other_party_confirms(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    pending = await saga.void_requested(iou, "borrower", borrower)

    await saga.verification(iou["id"], "lender", lender, "confirm_void")
    await saga.wait_audit(lender, iou["id"], "verification_passed", reason="confirm_void")
    waiting = await saga.iou(lender, iou["id"])
    assert waiting["status"] == "void_requested"
    assert waiting["void_request"]["confirm_requested"] is False

    void_id = pending["void_request"]["id"]
    confirmed = await saga.call(
        lender, "POST", f"/ious/{iou['id']}/void-requests/{void_id}/confirm"
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "voided"
    [render] = [
        r for r in await saga.sent(iou["id"], Subject.RENDER_DOCUMENT) if r["kind"] == "voided"
    ]
    assert render["voided"]["requested_by"] == "借款人"


async def test_a_void_request_cancelled_by_its_requester_leaves_the_iou_effective(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    pending = await saga.void_requested(iou, "lender", lender)
    cancel = f"/ious/{iou['id']}/void-requests/{pending['void_request']['id']}/cancel"

    assert (await saga.call(borrower, "POST", cancel)).status_code == 403
    cancelled = await saga.call(lender, "POST", cancel)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "effective"
    assert cancelled.json()["void_request"] is None
    assert "request_void" in cancelled.json()["actions"]
    assert await saga.sms(iou["id"], "void_cancelled") == [borrower.phone]
    await saga.wait_audit(lender, iou["id"], "void_cancelled")

    again = await saga.call(lender, "POST", cancel)
    assert again.status_code == 409
    assert again.json()["error"] == "void_request_closed"
    assert again.json()["status"] == "effective"
    assert await saga.sent(iou["id"], Subject.CANCEL_REMINDERS) == []


async def test_a_void_request_refused_by_the_other_party_leaves_the_iou_effective(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    pending = await saga.void_requested(iou, "borrower", borrower)
    refuse = f"/ious/{iou['id']}/void-requests/{pending['void_request']['id']}/refuse"

    by_requester = await saga.call(borrower, "POST", refuse, json={"reason": "没还"})
    assert by_requester.status_code == 403
    refused = await saga.call(lender, "POST", refuse, json={"reason": "还没还钱"})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "effective"
    assert refused.json()["void_request"] is None
    assert await saga.sms(iou["id"], "void_refused") == [borrower.phone]
    line = await saga.wait_audit(lender, iou["id"], "void_refused")
    assert line["actor"] == "lender" and line["detail"]["reason"] == "还没还钱"

    again = await saga.call(lender, "POST", refuse, json={"reason": "还没还钱"})
    assert again.status_code == 409 and again.json()["status"] == "effective"
    assert await saga.sent(iou["id"], Subject.CANCEL_REMINDERS) == []


async def test_a_void_request_not_yet_verified_cannot_be_refused_but_can_be_cancelled(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    started = await saga.call(
        lender, "POST", f"/ious/{iou['id']}/void-requests", json={"reason": "已还清"}
    )
    void_id = started.json()["void_request"]["id"]
    base = f"/ious/{iou['id']}/void-requests/{void_id}"

    twice = await saga.call(
        borrower, "POST", f"/ious/{iou['id']}/void-requests", json={"reason": "我也要"}
    )
    assert twice.status_code == 409 and twice.json()["status"] == "effective"
    refused = await saga.call(borrower, "POST", base + "/refuse", json={"reason": "不"})
    assert refused.status_code == 409 and refused.json()["status"] == "effective"

    cancelled = await saga.call(lender, "POST", base + "/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "effective"
    assert cancelled.json()["void_request"] is None
    assert await saga.sms(iou["id"], "void_cancelled") == []


# --- the folder and who may look ------------------------------------------------------


async def test_the_folder_filters_show_each_party_where_each_iou_stands(
    saga: Saga,
) -> None:
    me, friend, other = a_person("张三"), a_person("李四"), a_person("王五")
    mine_to_sign = await saga.awaiting_initiator(me, friend)
    theirs_to_sign = await saga.awaiting_counterparty(me, other)
    effective = await saga.effective(me, friend)
    ended = await saga.awaiting_initiator(me, friend, role="borrower")
    assert (await saga.call(me, "POST", f"/ious/{ended['id']}/withdraw")).status_code == 200
    every = {mine_to_sign["id"], theirs_to_sign["id"], effective["id"], ended["id"]}

    assert await saga.folder(me, "all") == every
    assert await saga.folder(me, "awaiting_me") == {mine_to_sign["id"]}
    assert await saga.folder(me, "awaiting_other") == {theirs_to_sign["id"]}
    assert await saga.folder(me, "effective") == {effective["id"]}
    assert await saga.folder(me, "ended") == {ended["id"]}

    assert await saga.folder(friend, "awaiting_me") == set()
    assert await saga.folder(friend, "awaiting_other") == {mine_to_sign["id"]}
    assert await saga.folder(friend, "effective") == {effective["id"]}
    assert await saga.folder(friend, "ended") == {ended["id"]}
    assert await saga.folder(other, "awaiting_me") == {theirs_to_sign["id"]}
    assert await saga.folder(other, "all") == {theirs_to_sign["id"]}

    bad = await saga.call(me, "GET", "/ious", params={"filter": "mine"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "filter"


async def test_someone_who_is_not_a_party_finds_nothing(saga: Saga) -> None:
    lender, borrower, stranger = a_person(), a_person("李四"), a_person("王五")
    iou = await saga.awaiting_counterparty(lender, borrower)
    base = f"/ious/{iou['id']}"

    for method, path, body in [
        ("GET", base, None),
        ("GET", base + "/audit", None),
        ("GET", base + "/party", None),
        ("POST", base + "/withdraw", None),
        ("POST", base + "/refuse", {"reason": "不认识"}),
        ("POST", base + "/void-requests", {"reason": "不认识"}),
        ("PUT", base + "/reminders", {"enabled": False}),
    ]:
        response = await saga.call(stranger, method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "iou_not_found"
    assert await saga.folder(stranger, "all") == set()
    unknown = await saga.call(lender, "GET", f"/ious/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert (await saga.http.get(base)).status_code == 401
    assert (await saga.iou(borrower, iou["id"]))["status"] == "awaiting_counterparty"


# --- refusing bad input -------------------------------------------------------------


def _other_id_checksum(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        (
            lambda me, other: {
                "counterparty": {
                    "name": other.name,
                    "id_number": _other_id_checksum(other.id_number),
                    "phone": other.phone,
                }
            },
            "counterparty.id_number",
            "id_number_checksum",
        ),
        (
            lambda me, other: {
                "counterparty": {
                    "name": "李四",
                    "id_number": me.id_number,
                    "phone": other.phone,
                }
            },
            "counterparty",
            "same_person",
        ),
        (
            lambda me, other: {"principal": "12000.123"},
            "principal",
            "amount_too_many_decimals",
        ),
        (
            lambda me, other: {"notice": {"version": "2026-01", "accepted": False}},
            "notice.accepted",
            "notice_not_accepted",
        ),
    ],
    ids=["id_checksum", "same_person", "three_decimals", "notice_not_accepted"],
)
async def test_bad_input_is_refused_by_field_and_nothing_is_saved(
    saga: Saga, change: Any, field: str, code: str
) -> None:
    me, other = a_person("张三"), a_person("李四")
    response = await saga.create(me, other, **change(me, other))

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    assert (field, code) in [(f["field"], f["code"]) for f in body["fields"]]
    assert all(f["message"] for f in body["fields"])
    assert await saga.folder(me, "all") == set()
    assert await saga.folder(other, "all") == set()


async def test_a_rate_above_four_times_the_lpr_is_refused_with_the_reason(
    saga: Saga,
) -> None:
    me, other = a_person("张三"), a_person("李四")
    response = await saga.create(me, other, annual_rate="12.01", overdue_rate="15")

    assert response.status_code == 422, response.text
    fields = {f["field"]: f for f in response.json()["fields"]}
    assert set(fields) == {"annual_rate", "overdue_rate"}
    assert fields["annual_rate"]["code"] == "rate_above_cap"
    assert fields["annual_rate"]["message"] == (
        "年利率不得超过借款日一年期LPR的4倍：3.00% × 4 = 12.00%"
    )
    assert await saga.folder(me, "all") == set()

    at_the_cap = await saga.create(me, other, annual_rate="12", overdue_rate="12.00")
    assert at_the_cap.status_code == 201, at_the_cap.text
    assert at_the_cap.json()["terms"]["lpr"]["cap"] == "12.00"


# --- running out of time ------------------------------------------------------------


async def test_an_unsigned_iou_expires_and_its_flow_is_closed(hasty: Saga) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    created = await hasty.created(lender, borrower)

    expired = await hasty.wait_status(lender, created["id"], "expired")
    assert expired["end_reason"] == "not signed in time"
    assert expired["actions"] == []
    [close] = await hasty.sent(created["id"], Subject.CLOSE_FLOW)
    assert close["ending"] == "expired"
    [supersede] = await hasty.sent(created["id"], Subject.SUPERSEDE_PREVIEWS)
    assert supersede["reason"] == "expired"
    assert await hasty.sms(created["id"], "expired") == [lender.phone]
    line = await hasty.wait_audit(lender, created["id"], "expired")
    assert line["actor"] == "system"

    late = await hasty.call(lender, "POST", f"/ious/{created['id']}/withdraw")
    assert late.status_code == 409 and late.json()["status"] == "expired"


# --- two people at once -------------------------------------------------------------


async def test_a_withdrawal_racing_a_refusal_leaves_exactly_one_ending(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)

    withdrawn, refused = await asyncio.gather(
        saga.call(lender, "POST", f"/ious/{iou['id']}/withdraw"),
        saga.call(borrower, "POST", f"/ious/{iou['id']}/refuse", json={"reason": "不"}),
    )

    assert sorted([withdrawn.status_code, refused.status_code]) == [200, 409]
    winner = withdrawn if withdrawn.status_code == 200 else refused
    loser = refused if winner is withdrawn else withdrawn
    assert loser.json()["status"] == winner.json()["status"]
    assert len(await saga.sent(iou["id"], Subject.CLOSE_FLOW)) == 1


async def test_both_parties_asking_to_void_at_once_start_one_request(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    path = f"/ious/{iou['id']}/void-requests"

    answers = await asyncio.gather(
        saga.call(lender, "POST", path, json={"reason": "已还清"}),
        saga.call(borrower, "POST", path, json={"reason": "已还清"}),
    )

    assert sorted(a.status_code for a in answers) == [201, 409]
    [started] = [a.json()["void_request"] for a in answers if a.status_code == 201]
    now = await saga.iou(lender, iou["id"])
    assert now["void_request"]["id"] == started["id"]


# --- faults found and fixed ----------------------------------------------------------


async def test_a_refusal_needs_a_reason_that_is_more_than_spaces(saga: Saga) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)

    response = await saga.call(
        borrower, "POST", f"/ious/{iou['id']}/refuse", json={"reason": "   "}
    )

    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "reason"
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_counterparty"


async def test_a_void_reason_the_voided_copy_cannot_print_is_refused(saga: Saga) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)

    response = await saga.call(
        lender, "POST", f"/ious/{iou['id']}/void-requests", json={"reason": "已还清\x07😀"}
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["fields"]
    assert problem["field"] == "reason" and "U+0007" in problem["message"]
    after = await saga.iou(lender, iou["id"])
    assert after["status"] == "effective" and after["void_request"] is None


async def test_a_face_check_for_an_earlier_void_request_does_not_confirm_a_later_one(
    saga: Saga,
) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.effective(lender, borrower)
    first = await saga.void_requested(iou, "lender", lender)
    await saga.verification(iou["id"], "borrower", borrower, "confirm_void")
    await saga.wait_audit(borrower, iou["id"], "verification_passed", reason="confirm_void")
    refuse = f"/ious/{iou['id']}/void-requests/{first['void_request']['id']}/refuse"
    refused = await saga.call(borrower, "POST", refuse, json={"reason": "还没还"})
    assert refused.json()["status"] == "effective"

    second = await saga.void_requested(iou, "lender", lender)
    confirm = f"/ious/{iou['id']}/void-requests/{second['void_request']['id']}/confirm"
    asked = await saga.call(borrower, "POST", confirm)

    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "void_requested", "needs a new face check"


async def test_a_counterparty_signature_before_the_initiator_signed_is_refused(saga: Saga) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_initiator(lender, borrower)

    await saga.signature(iou["id"], "borrower", borrower, sha("preview " + iou["id"]))

    await saga.wait_audit(lender, iou["id"], "signature_rejected", reason="not_this_partys_turn")
    assert (await saga.iou(lender, iou["id"]))["status"] == "awaiting_initiator"


async def test_the_audit_trail_is_a_hash_chain_that_shows_an_edit(saga: Saga) -> None:
    lender, borrower = a_person("张三"), a_person("李四")
    iou = await saga.awaiting_counterparty(lender, borrower)
    trail = (await saga.call(lender, "GET", f"/ious/{iou['id']}/audit")).json()
    assert trail["chain"]["intact"] and trail["chain"]["entries"] == len(trail["items"])
    assert trail["chain"]["head"] == trail["items"][-1]["entry_hash"]

    async with saga.engine.begin() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(
                text("UPDATE audit_log SET actor = 'someone' WHERE iou_id = :id"), {"id": iou["id"]}
            )
    async with saga.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(
            text("UPDATE audit_log SET actor = 'someone' WHERE iou_id = :id AND seq = 2"),
            {"id": iou["id"]},
        )
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))

    tampered = (await saga.call(lender, "GET", f"/ious/{iou['id']}/audit")).json()["chain"]
    assert not tampered["intact"]
