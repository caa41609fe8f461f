"""The documents service end to end: real NATS JetStream, real PostgreSQL, real HTTP."""

import asyncio
import base64
import hashlib
import inspect
import io
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from documents.handlers import DocumentHandlers, store_document
from documents.seal import (
    SEAL_FIELD,
    VOID_FIELD,
    SealConfig,
    Sealer,
    SealUnavailable,
    all_pass,
    validate,
)
from jietiao_shared.contracts import (
    AuditLine,
    Contract,
    Envelope,
    RenderDocument,
    SignatureCaptured,
    SignatureOnDocument,
    Subject,
    SupersedePreviews,
)
from jietiao_shared.db import asyncpg_dsn
from jietiao_stack.testing import free_port
from nats.aio.client import Client
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import create_async_engine

LENDER_PHONE = "+8613800000001"
BORROWER_PHONE = "+8613800000002"
STRANGER_PHONE = "+8613900000009"
PREVIEW_SHA = "ab" * 32


# --- helpers ------------------------------------------------------------------------


def make_plan(months: int, principal_fen: int, interest_fen: int) -> list[dict]:
    """A plan to print: equal principal, the same interest every month (not a real method)."""
    share, rest = divmod(principal_fen, months)
    remaining, rows = principal_fen, []
    for seq in range(1, months + 1):
        paid = share + (rest if seq == months else 0)
        remaining -= paid
        rows.append(
            {
                "seq": seq,
                "due_date": f"2027-{seq:02d}-04",
                "principal_fen": paid,
                "interest_fen": interest_fen,
                "total_fen": paid + interest_fen,
                "remaining_fen": remaining,
            }
        )
    return rows


def make_terms(agreement_id: str, lender: str = "张三", borrower: str = "李四") -> dict:
    """IOU terms as agreements sends them."""
    return {
        "agreement_id": agreement_id,
        "initiator_role": "lender",
        "lender": {
            "name": lender,
            "id_number": "11010519491231002X",
            "phone": LENDER_PHONE,
        },
        "borrower": {
            "name": borrower,
            "id_number": "440524188001010014",
            "phone": BORROWER_PHONE,
        },
        "principal_fen": 1200000,
        "amount_in_words": "人民币壹万贰仟元整",
        "purpose": "装修",
        "loan_date": "2026-12-04",
        "repayment_date": "2027-06-04",
        "term_months": 6,
        "annual_rate": "6.00",
        "overdue_rate": "12.00",
        "day_count": "actual/365",
        "payment_method": "bank_transfer",
        "payment_note": "",
        "repayment_method": "equal_principal",
        "plan": make_plan(6, 1200000, 6000),
        "lpr": {"rate": "3.00", "published_on": "2025-05-20"},
    }


def preview(agreement_id: str, version: int = 1, **terms: str) -> RenderDocument:
    """A preview render command readable by both parties."""
    return RenderDocument(
        agreement_id=agreement_id,
        kind="preview",
        version=version,
        terms=make_terms(agreement_id, **terms),
        readers=[LENDER_PHONE, BORROWER_PHONE],
    )


def signature_png(wobble: int) -> bytes:
    """A small handwritten-looking PNG."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    points = [(20, 150), (140, 40 + wobble), (260, 160), (380, 50), (560, 120)]
    ImageDraw.Draw(image).line(points, fill=(10, 10, 80, 255), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def captured(agreement_id: str, on_doc: SignatureOnDocument, png: bytes) -> Contract:
    """The SignatureCaptured event signing would emit for ``on_doc``."""
    return SignatureCaptured(
        signature_id=on_doc.signature_id,
        agreement_id=agreement_id,
        party_role=on_doc.party_role,
        account_id=str(uuid.uuid4()),
        account_phone=LENDER_PHONE,
        document_sha256=on_doc.document_sha256,
        strokes_sha256="cd" * 32,
        png_sha256=hashlib.sha256(png).hexdigest(),
        png_base64=base64.b64encode(png).decode(),
        signed_at=on_doc.signed_at,
        user_agent="pytest",
        client_ip="127.0.0.1",
    )


def envelope_of(payload: Contract, occurred_at: datetime | None = None) -> Envelope:
    """An envelope as the outbox would build it."""
    extra = {"occurred_at": occurred_at} if occurred_at else {}
    return Envelope(
        type=type(payload).__name__,
        correlation_id=getattr(payload, "agreement_id", None),
        data=payload.model_dump(mode="json"),
        **extra,
    )


async def send(bus: Client, subject: str, envelope: Envelope, msg_id: str | None = None) -> None:
    """Publish to JetStream with Nats-Msg-Id (the message id unless overridden)."""
    ack = await bus.jetstream().publish(
        subject,
        envelope.model_dump_json().encode(),
        headers={"Nats-Msg-Id": msg_id or envelope.message_id},
    )
    assert not ack.duplicate


async def eventually(check: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def announced(rendered: Any, agreement_id: str, count: int = 1) -> list[Envelope]:
    """Wait for ``count`` DocumentRendered announcements of one agreement."""
    return await eventually(
        lambda: (found := rendered.of(agreement_id)) and len(found) >= count and found,
        f"{count} DocumentRendered for {agreement_id}",
    )


async def query(documents: Any, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run one query on the documents database."""
    conn = await asyncpg.connect(asyncpg_dsn(documents.database_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def client(documents: Any) -> httpx.AsyncClient:
    """An HTTP client for the documents service."""
    return httpx.AsyncClient(base_url=documents.base_url, timeout=10.0)


def auth(token_issuer: Any, phone: str) -> dict[str, str]:
    """An Authorization header for ``phone``."""
    return {"Authorization": f"Bearer {token_issuer.token(phone)}"}


def pdf_text(pdf: bytes) -> str:
    """All text of a PDF, whitespace folded."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


# --- tests --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_preview_render_is_announced_and_downloadable(
    documents: Any, bus: Client, rendered: Any, token_issuer: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    command = envelope_of(preview(agreement_id))
    await send(bus, Subject.RENDER_DOCUMENT, command)

    [event] = await announced(rendered, agreement_id)
    assert event.type == "DocumentRendered"
    assert event.causation_id == command.message_id
    assert event.correlation_id == agreement_id
    assert event.data["kind"] == "preview" and event.data["version"] == 1
    assert datetime.fromisoformat(event.data["rendered_at"]) == command.occurred_at

    async with client(documents) as http:
        answer = await http.get(
            f"/documents/{agreement_id}/preview",
            headers=auth(token_issuer, LENDER_PHONE),
        )
        listing = await http.get(
            f"/documents/{agreement_id}", headers=auth(token_issuer, BORROWER_PHONE)
        )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="iou-{agreement_id}-preview.pdf"'
    )
    digest = hashlib.sha256(answer.content).hexdigest()
    assert answer.headers["x-document-sha256"] == digest == event.data["sha256"]
    assert answer.headers["x-document-version"] == "1"
    assert len(answer.content) == event.data["size"]
    text = pdf_text(answer.content)
    assert "张三" in text and "李四" in text and "预览" in text

    assert listing.status_code == 200
    [summary] = listing.json()
    assert datetime.fromisoformat(summary.pop("rendered_at")) == command.occurred_at
    assert summary == {
        "kind": "preview",
        "version": 1,
        "sha256": digest,
        "size": len(answer.content),
        "superseded": False,
    }


@pytest.mark.asyncio
async def test_signed_render_published_before_signatures_completes_after_them(
    documents: Any, bus: Client, rendered: Any, token_issuer: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    signed_at = datetime(2026, 12, 4, 6, 3, 5, tzinfo=UTC)
    on_doc = [
        SignatureOnDocument(
            signature_id=str(uuid.uuid4()),
            party_role=role,
            name=name,
            signed_at=signed_at + timedelta(minutes=i),
            document_sha256=PREVIEW_SHA,
            verification_id=f"ver-{role}-{i}",
        )
        for i, (role, name) in enumerate((("lender", "张三"), ("borrower", "李四")))
    ]
    command = RenderDocument(
        agreement_id=agreement_id,
        kind="signed",
        version=1,
        terms=make_terms(agreement_id),
        readers=[LENDER_PHONE, BORROWER_PHONE],
        signatures=on_doc,
        audit=[AuditLine(at=signed_at, actor="张*（出借人）", action="签署")],
    )
    await send(bus, Subject.RENDER_DOCUMENT, envelope_of(command))

    # The render was tried and put back: neither signature is there yet.
    await eventually(
        lambda: (
            "SignatureNotYetReceived" in documents.log_text()
            and on_doc[1].signature_id in documents.log_text()
        ),
        "a render attempt that waits for the signatures",
    )
    async with client(documents) as http:
        early = await http.get(
            f"/documents/{agreement_id}/signed",
            headers=auth(token_issuer, LENDER_PHONE),
        )
    assert early.status_code == 404
    assert early.json()["error"] == "document_not_ready"
    assert rendered.of(agreement_id) == []

    for i, sig in enumerate(on_doc):
        event = captured(agreement_id, sig, signature_png(30 * i))
        await send(bus, Subject.SIGNATURE_CAPTURED, envelope_of(event))

    [event] = await announced(rendered, agreement_id)
    assert event.data["kind"] == "signed"
    async with client(documents) as http:
        answer = await http.get(
            f"/documents/{agreement_id}/signed",
            headers=auth(token_issuer, BORROWER_PHONE),
        )
    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == event.data["sha256"]
    text = pdf_text(answer.content)
    for expected in ("张三", "李四", "证据页", PREVIEW_SHA, "ver-lender-0"):
        assert expected in text
    stored = await query(
        documents,
        "SELECT count(*) AS n FROM signature_images WHERE agreement_id = $1",
        agreement_id,
    )
    assert stored[0]["n"] == 2


@pytest.mark.asyncio
async def test_only_readers_learn_anything(
    documents: Any, bus: Client, rendered: Any, token_issuer: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    await send(bus, Subject.RENDER_DOCUMENT, envelope_of(preview(agreement_id)))
    await announced(rendered, agreement_id)
    unknown = str(uuid.uuid4())

    async with client(documents) as http:
        reader = await http.get(
            f"/documents/{agreement_id}/preview",
            headers=auth(token_issuer, BORROWER_PHONE),
        )
        stranger = auth(token_issuer, STRANGER_PHONE)
        answers = [
            await http.get(f"/documents/{agreement_id}/preview", headers=stranger),
            await http.get(f"/documents/{agreement_id}", headers=stranger),
            await http.get(f"/documents/{unknown}/preview", headers=stranger),
            await http.get(f"/documents/{unknown}", headers=stranger),
        ]
        anonymous = await http.get(f"/documents/{agreement_id}/preview")

    assert reader.status_code == 200
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json() == answers[0].json()
        assert "x-document-sha256" not in answer.headers
    assert answers[0].json()["error"] == "document_not_ready"
    assert anonymous.status_code == 401


@pytest.mark.asyncio
async def test_same_render_command_twice_stores_one_document(
    documents: Any, bus: Client, rendered: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    payload = preview(agreement_id)
    first = envelope_of(payload, datetime.now(UTC) - timedelta(seconds=5))
    await send(bus, Subject.RENDER_DOCUMENT, first)
    [announced_first] = await announced(rendered, agreement_id)

    # Redelivery of the very same message (past JetStream's duplicate window):
    # the inbox skips it. Then a new message carrying the same command: the
    # stored copy is announced again, not re-rendered.
    await send(bus, Subject.RENDER_DOCUMENT, first, msg_id=str(uuid.uuid4()))
    again = envelope_of(payload)
    await send(bus, Subject.RENDER_DOCUMENT, again)
    events = await announced(rendered, agreement_id, count=2)
    await eventually(
        lambda: "duplicate RenderDocument skipped" in documents.log_text(),
        "the inbox to skip the redelivered message",
    )
    await asyncio.sleep(0.5)

    events = rendered.of(agreement_id)
    assert [e.causation_id for e in events] == [first.message_id, again.message_id]
    assert events[1].data == announced_first.data
    rows = await query(
        documents,
        "SELECT count(*) AS n FROM documents WHERE agreement_id = $1",
        agreement_id,
    )
    assert rows[0]["n"] == 1


@pytest.mark.asyncio
async def test_unrenderable_name_is_recorded_once_and_not_retried(
    documents: Any, bus: Client, rendered: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    command = envelope_of(preview(agreement_id, lender="王𪚥"))
    await send(bus, Subject.RENDER_DOCUMENT, command)

    [failure] = await eventually(
        lambda: query(
            documents,
            "SELECT reason, detail, message_id FROM render_failures WHERE agreement_id = $1",
            agreement_id,
        ),
        "the failed render to be recorded",
    )
    assert failure["reason"] == "unrenderable_character"
    assert failure["detail"] == "U+2A6A5"
    assert failure["message_id"] == command.message_id

    info = await bus.jetstream().consumer_info("JIETIAO_COMMANDS", "documents-render-document")
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    await asyncio.sleep(0.5)
    assert rendered.of(agreement_id) == []
    log = documents.log_text()
    assert "unrenderable_character" in log
    assert "𪚥" not in log


@pytest.mark.asyncio
async def test_previews_are_superseded_whatever_the_arrival_order(
    documents: Any, bus: Client, rendered: Any, token_issuer: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    v1 = envelope_of(preview(agreement_id, 1), now - timedelta(seconds=20))
    await send(bus, Subject.RENDER_DOCUMENT, v1)
    await announced(rendered, agreement_id)

    retire = SupersedePreviews(agreement_id=agreement_id, reason="withdrawn")
    await send(
        bus,
        Subject.SUPERSEDE_PREVIEWS,
        envelope_of(retire, now - timedelta(seconds=10)),
    )
    # v2 was asked for before the supersession but arrives after it; v3 after both.
    v2 = envelope_of(preview(agreement_id, 2), now - timedelta(seconds=15))
    v3 = envelope_of(preview(agreement_id, 3), now)
    await send(bus, Subject.RENDER_DOCUMENT, v2)
    await send(bus, Subject.RENDER_DOCUMENT, v3)
    await announced(rendered, agreement_id, count=3)

    async def listing() -> list[dict]:
        async with client(documents) as http:
            answer = await http.get(
                f"/documents/{agreement_id}", headers=auth(token_issuer, LENDER_PHONE)
            )
        return answer.json()

    expected = {1: True, 2: True, 3: False}
    await eventually(lambda: _superseded(listing(), expected), "previews 1 and 2 superseded")
    async with client(documents) as http:
        latest = await http.get(
            f"/documents/{agreement_id}/preview",
            headers=auth(token_issuer, LENDER_PHONE),
        )
    assert latest.headers["x-document-version"] == "3"
    assert latest.headers["x-document-superseded"] == "false"


async def _superseded(listing: Any, expected: dict[int, bool]) -> bool:
    return {d["version"]: d["superseded"] for d in await listing} == expected


@pytest.mark.asyncio
async def test_a_preview_stored_during_a_supersession_is_superseded(
    documents: Any,
) -> None:
    # Two transactions of the real handlers, interleaved by hand: the preview's
    # insert is not committed yet when the supersession runs.
    agreement_id = str(uuid.uuid4())
    issued = datetime.now(UTC)
    command = preview(agreement_id)
    retire = envelope_of(SupersedePreviews(agreement_id=agreement_id, reason="expired"), issued)
    engine = create_async_engine(documents.database_url)
    try:
        async with engine.connect() as storing, engine.connect() as retiring:
            await storing.begin()
            await store_document(
                storing, command, b"%PDF-", issued - timedelta(seconds=1), "f" * 64
            )
            await retiring.begin()
            handler = DocumentHandlers().on_supersede
            payload = SupersedePreviews.model_validate(retire.data)
            supersede = asyncio.create_task(handler(retiring, retire, payload))
            await asyncio.sleep(0.3)
            assert not supersede.done()  # waits for the preview's transaction
            await storing.commit()
            await supersede
            await retiring.commit()
    finally:
        await engine.dispose()
    rows = await query(
        documents,
        "SELECT superseded_at IS NOT NULL AS superseded FROM documents WHERE agreement_id = $1",
        agreement_id,
    )
    assert [r["superseded"] for r in rows] == [True]


# --- sealing and download records ----------------------------------------------

SIGNED_AT = datetime(2026, 12, 4, 6, 3, 5, tzinfo=UTC)


def sealing_signatures(agreement_id: str) -> list[SignatureOnDocument]:
    return [
        SignatureOnDocument(
            signature_id=str(uuid.uuid4()),
            party_role=role,
            name=name,
            signed_at=SIGNED_AT + timedelta(minutes=i),
            document_sha256=PREVIEW_SHA,
            verification_id=f"ver-{role}-{i}",
        )
        for i, (role, name) in enumerate((("lender", "张三"), ("borrower", "李四")))
    ]


def sealing_command(agreement_id: str, kind: str, on_doc: list[SignatureOnDocument]) -> Any:
    voided = None
    if kind == "voided":
        voided = {
            "requested_by": "borrower",
            "reason": "双方协商一致取消借款",
            "confirmed_at": "2026-12-05T02:00:00+00:00",
        }
    return RenderDocument(
        agreement_id=agreement_id,
        kind=kind,  # type: ignore[arg-type]
        version=1,
        terms=make_terms(agreement_id),
        readers=[LENDER_PHONE, BORROWER_PHONE],
        signatures=on_doc,
        audit=[AuditLine(at=SIGNED_AT, actor="张*（出借人）", action="签署")],
        voided=voided,
    )


async def download_as_lender(
    documents: Any, token_issuer: Any, agreement_id: str, kind: str
) -> bytes:
    async with client(documents) as http:
        answer = await http.get(
            f"/documents/{agreement_id}/{kind}", headers=auth(token_issuer, LENDER_PHONE)
        )
    assert answer.status_code == 200, answer.text
    return answer.content


@pytest.mark.asyncio
async def test_signed_and_voided_copies_are_sealed_and_downloads_recorded(
    documents: Any, bus: Client, rendered: Any, token_issuer: Any, data_dir: Path
) -> None:
    agreement_id = str(uuid.uuid4())
    on_doc = sealing_signatures(agreement_id)
    for i, sig in enumerate(on_doc):
        await send(
            bus,
            Subject.SIGNATURE_CAPTURED,
            envelope_of(captured(agreement_id, sig, signature_png(30 * i))),
        )
    # The voided command first: it waits (retries) for the sealed signed copy.
    await send(
        bus, Subject.RENDER_DOCUMENT, envelope_of(sealing_command(agreement_id, "voided", on_doc))
    )
    await send(
        bus, Subject.RENDER_DOCUMENT, envelope_of(sealing_command(agreement_id, "signed", on_doc))
    )
    events = await announced(rendered, agreement_id, count=2)
    assert sorted(e.data["kind"] for e in events) == ["signed", "voided"]

    roots = Sealer(SealConfig(data_dir=data_dir)).trust_roots()
    signed = await download_as_lender(documents, token_issuer, agreement_id, "signed")
    voided = await download_as_lender(documents, token_issuer, agreement_id, "voided")
    [seal] = await asyncio.to_thread(validate, signed, roots)
    assert seal.field == SEAL_FIELD and seal.bottom_line and seal.timestamp_ok
    reports = await asyncio.to_thread(validate, voided, roots)
    assert [r.field for r in reports] == [SEAL_FIELD, VOID_FIELD]
    assert all_pass(reports) and reports[0].docmdp_ok
    assert voided.startswith(signed)

    async with client(documents) as http:
        mine = await http.get(
            f"/documents/{agreement_id}/downloads", headers=auth(token_issuer, BORROWER_PHONE)
        )
        stranger = await http.get(
            f"/documents/{agreement_id}/downloads", headers=auth(token_issuer, STRANGER_PHONE)
        )
    assert stranger.status_code == 404
    assert mine.status_code == 200
    records = mine.json()
    assert [(r["kind"], r["version"]) for r in records] == [("signed", 1), ("voided", 1)]
    assert [r["sha256"] for r in records] == [e.data["sha256"] for e in sorted_events(events)]
    assert all(not r["by_me"] and r["account_id"] for r in records)
    rows = await query(
        documents,
        "SELECT account_id FROM document_downloads WHERE agreement_id = $1",
        agreement_id,
    )
    assert [r["account_id"] for r in rows] == [r["account_id"] for r in records]


def sorted_events(events: list[Any]) -> list[Any]:
    return sorted(events, key=lambda e: e.data["kind"])


def expired_config(folder: Path, operator_seal: Any) -> SealConfig:
    now = datetime.now(UTC)
    seal = operator_seal(folder, not_before=now - timedelta(days=30), not_after=now)
    config: SealConfig = seal.config
    return config


@pytest.mark.asyncio
async def test_an_expired_seal_stores_and_queues_nothing(
    documents: Any, tmp_path: Path, operator_seal: Any
) -> None:
    agreement_id = str(uuid.uuid4())
    on_doc = sealing_signatures(agreement_id)
    handlers = DocumentHandlers(sealer=Sealer(expired_config(tmp_path, operator_seal)))
    command = sealing_command(agreement_id, "signed", on_doc)
    engine = create_async_engine(documents.database_url)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            with pytest.raises(SealUnavailable, match="expired"):
                await handlers.on_render_document(conn, envelope_of(command), command)
            await conn.rollback()
    finally:
        await engine.dispose()
    assert not await query(
        documents, "SELECT 1 FROM documents WHERE agreement_id = $1", agreement_id
    )
    assert not await query(
        documents,
        "SELECT 1 FROM outbox WHERE envelope->>'correlation_id' = $1",
        agreement_id,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("problem", ["expired", "missing"])
async def test_readiness_is_503_without_a_usable_seal(
    documents: Any,
    backing_servers: Any,
    token_issuer: Any,
    process_helpers: Any,
    tmp_path: Path,
    problem: str,
    operator_seal: Any,
) -> None:
    if problem == "expired":
        config = expired_config(tmp_path, operator_seal)
        seal = {"seal_cert": str(config.cert), "seal_key": str(config.key)}
    else:
        seal = {"seal_cert": str(tmp_path / "absent.pem"), "seal_key": str(tmp_path / "k.pem")}
    port = free_port()
    env = process_helpers.service_env(
        http_host="127.0.0.1",
        http_port=str(port),
        nats_url=backing_servers.nats_url,
        database_url=documents.database_url,
        jwks_url=token_issuer.jwks_url,
        log_format="text",
        data_dir=str(tmp_path),
        **seal,
    )
    log_path = tmp_path / "broken.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "documents", "serve", stdout=log, stderr=log, env=env
        )
    try:
        answer = None
        async with httpx.AsyncClient(timeout=1.0) as http:
            for _ in range(150):
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/readyz")
                    if answer.json().get("bus") == "ok":
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        assert answer is not None
        assert answer.status_code == 503
        assert answer.json() == {"database": "ok", "bus": "ok", "seal": problem}
    finally:
        await process_helpers.stop(proc)
    assert f"seal unusable ({problem})" in log_path.read_text("utf-8", errors="replace")
