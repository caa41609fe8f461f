"""Bus handlers of the documents service: keep signatures, render, retire previews.

Each handler runs inside the shared consumer's inbox transaction: its writes, the
outbox rows it queues and the inbox row commit together, or not at all.

Idempotency: a document version, (agreement, kind, version), is rendered and stored
once. A render command for a version already stored renders nothing and announces
the stored copy again (``DocumentRendered`` with the stored hash), so a requester
that lost the first answer gets it again; the stored copy always wins.

Poison: a command that can never render (a character the font lacks, terms the
renderer rejects, a signature of another agreement) is recorded in
``render_failures``, logged by reason code only, acknowledged, and announces
nothing. A signature that has not arrived yet is not poison: the handler raises
:class:`SignatureNotYetReceived` and the shared consumer retries with backoff, then
dead-letters after ``max_deliver`` attempts.

Sealing: signed and voided copies are stored only sealed (see :mod:`.seal`). A seal
that cannot be made (certificate missing or expired, timestamp authority down) is
not poison either: the handler raises, nothing is stored or announced, and the
command is retried, then dead-lettered. A voided copy is the stored signed copy
with a void seal added, so it waits (retries) until the signed copy is stored.
"""

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jietiao_shared import outbox
from jietiao_shared.bus import Consumers
from jietiao_shared.contracts import (
    CompensationCompleted,
    DocumentRendered,
    Envelope,
    RenderDocument,
    SignatureCaptured,
    SignatureOnDocument,
    Subject,
    SupersedePreviews,
)
from jietiao_shared.logs import redact
from jietiao_shared.personal import PersonalDataError, normalise_phone
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .render import (
    AuditEntry,
    SignatureImage,
    UnrenderableCharacter,
    render_iou,
    render_iou_layout,
    render_void_stamp,
)
from .seal import Sealer, SealUnavailable

log = logging.getLogger(__name__)

# Errors that the same command would raise again on every attempt.
PERMANENT_ERRORS = (ValueError, KeyError, TypeError, ArithmeticError)


def audit_entries(cmd: RenderDocument, rendered_at: datetime) -> list[AuditEntry]:
    """The audit lines to print, ending with the head of the hash chain they form."""
    entries = [AuditEntry(a.at, a.actor, a.action, a.detail) for a in cmd.audit]
    if cmd.audit_head:
        entries.append(AuditEntry(rendered_at, "system", "审计链末端哈希", cmd.audit_head))
    return entries


class SignatureNotYetReceived(Exception):
    """A render needs a signature PNG whose SignatureCaptured has not arrived yet."""

    def __init__(self, signature_ids: Sequence[str]) -> None:
        super().__init__(f"waiting for signature(s) {', '.join(signature_ids)}")
        self.signature_ids = tuple(signature_ids)


class SignedCopyNotYetStored(Exception):
    """A voided copy needs the sealed signed copy, which is not stored yet."""


class SignatureMismatch(ValueError):
    """A render names a signature of another agreement, party or document version."""


class CorruptSignature(ValueError):
    """A SignatureCaptured PNG is not valid base64 or does not match its hash."""


@dataclass(frozen=True)
class StoredDocument:
    """What is announced about a stored document version."""

    sha256: str
    size: int
    rendered_at: datetime
    request_sha256: str


class DocumentHandlers:
    """The consumers of the documents service, bound to the font it renders with."""

    def __init__(self, font_path: str | None = None, sealer: Sealer | None = None) -> None:
        self.font_path = font_path
        self.sealer = sealer

    def register(self, consumers: Consumers) -> None:
        """Subscribe the handlers; durables are named ``documents-<name>``."""
        consumers.on(Subject.SIGNATURE_CAPTURED, "signature-captured", self.on_signature_captured)
        consumers.on(Subject.RENDER_DOCUMENT, "render-document", self.on_render_document)
        consumers.on(Subject.SUPERSEDE_PREVIEWS, "supersede-previews", self.on_supersede)

    async def on_signature_captured(
        self, conn: AsyncConnection, envelope: Envelope, event: SignatureCaptured
    ) -> None:
        """Keep a captured signature's PNG so that signed copies can place it."""
        await store_signature(conn, event, decode_png(event))

    async def on_render_document(
        self, conn: AsyncConnection, envelope: Envelope, cmd: RenderDocument
    ) -> None:
        """Render one document version once, store it and announce it."""
        fingerprint = request_fingerprint(cmd)
        stored = await find_document(conn, cmd)
        if stored is None:
            stored = await self._render_and_store(conn, envelope, cmd, fingerprint)
        elif stored.request_sha256 != fingerprint:
            log.warning(
                "render command for stored %s v%d differs; stored copy kept",
                cmd.kind,
                cmd.version,
            )
        if stored is not None:
            await announce(conn, cmd, stored)

    async def on_supersede(
        self, conn: AsyncConnection, envelope: Envelope, cmd: SupersedePreviews
    ) -> None:
        """Mark the agreement's previews requested before this command superseded."""
        await lock_agreement(conn, cmd.agreement_id)
        await record_supersession(conn, cmd, envelope.occurred_at)
        count = await supersede_previews(conn, cmd.agreement_id, envelope.occurred_at)
        await outbox.add(
            conn,
            Subject.DOCUMENTS_COMPENSATED,
            CompensationCompleted(
                agreement_id=cmd.agreement_id,
                compensation="supersede_previews",
                completed_at=datetime.now(UTC),
                detail=f"{count} preview(s) superseded",
            ),
            correlation_id=cmd.agreement_id,
        )
        log.info("superseded %d preview(s) (%s)", count, cmd.reason)

    async def _render_and_store(
        self,
        conn: AsyncConnection,
        envelope: Envelope,
        cmd: RenderDocument,
        fingerprint: str,
    ) -> StoredDocument | None:
        rendered_at = envelope.occurred_at
        sealer = self._sealer() if cmd.kind != "preview" else None
        signed_copy = await latest_signed_pdf(conn, cmd) if cmd.kind == "voided" else None
        try:
            signatures = await signature_images(conn, cmd)
            if sealer is None:
                pdf = await asyncio.to_thread(self.render, cmd, signatures, rendered_at)
            else:
                pdf = await asyncio.to_thread(
                    self.render_sealed, sealer, cmd, signatures, rendered_at, signed_copy
                )
        except PERMANENT_ERRORS as exc:
            await record_failure(conn, envelope, cmd, exc)
            return None
        return await store_document(conn, cmd, pdf, rendered_at, fingerprint)

    def _sealer(self) -> Sealer:
        """The sealer, checked before any work: raises (retry) when it cannot seal."""
        if self.sealer is None:
            raise SealUnavailable("missing", "no seal configured")
        try:
            self.sealer.material()
        except SealUnavailable as exc:
            log.error("cannot seal (%s); render put back for a retry", exc.state)
            raise
        return self.sealer

    def render_sealed(
        self,
        sealer: Sealer,
        cmd: RenderDocument,
        signatures: list[SignatureImage],
        rendered_at: datetime,
        signed_copy: bytes | None,
    ) -> bytes:
        """A sealed signed copy, or a voided copy sealed on top of ``signed_copy``."""
        if cmd.kind == "voided":
            assert signed_copy is not None and cmd.voided is not None
            # Render first: a void detail the font cannot draw is a permanent failure.
            stamp = render_void_stamp(cmd.terms, cmd.voided, font_path=self.font_path)
            return sealer.seal_voided(signed_copy, stamp, str(cmd.voided.get("reason", "")))
        audit = audit_entries(cmd, rendered_at)
        rendered = render_iou_layout(
            cmd.terms,
            kind=cmd.kind,
            signatures=signatures,
            audit=audit,
            rendered_at=rendered_at,
            font_path=self.font_path,
        )
        return sealer.seal_signed(rendered.pdf, rendered.void_box)

    def render(
        self,
        cmd: RenderDocument,
        signatures: list[SignatureImage],
        rendered_at: datetime,
    ) -> bytes:
        """The PDF of a render command; CPU-bound, run it in a worker thread."""
        audit = audit_entries(cmd, rendered_at)
        return render_iou(
            cmd.terms,
            kind=cmd.kind,
            signatures=signatures,
            audit=audit,
            rendered_at=rendered_at,
            voided=cmd.voided,
            font_path=self.font_path,
        )


# --- signatures -------------------------------------------------------------------


def decode_png(event: SignatureCaptured) -> bytes:
    """The PNG bytes of a captured signature, checked against their announced hash."""
    try:
        png = base64.b64decode(event.png_base64, validate=True)
    except ValueError as exc:
        raise CorruptSignature(f"signature {event.signature_id}: bad base64") from exc
    if hashlib.sha256(png).hexdigest() != event.png_sha256:
        raise CorruptSignature(f"signature {event.signature_id}: PNG hash mismatch")
    return png


async def store_signature(conn: AsyncConnection, event: SignatureCaptured, png: bytes) -> None:
    """Insert a signature image; one already stored under that id is kept."""
    await conn.execute(
        text(
            "INSERT INTO signature_images (signature_id, agreement_id, party_role,"
            " document_sha256, png, png_sha256, signed_at)"
            " VALUES (:id, :a, :p, :d, :png, :ps, :at) ON CONFLICT DO NOTHING"
        ),
        {
            "id": event.signature_id,
            "a": event.agreement_id,
            "p": event.party_role,
            "d": event.document_sha256,
            "png": png,
            "ps": event.png_sha256,
            "at": event.signed_at,
        },
    )


async def signature_images(conn: AsyncConnection, cmd: RenderDocument) -> list[SignatureImage]:
    """The signatures a render places; raises if one has not arrived yet."""
    if not cmd.signatures:
        return []
    wanted = [s.signature_id for s in cmd.signatures]
    if not all(wanted):
        raise SignatureMismatch("a signature on the document has no id")
    rows = await conn.execute(
        text(
            "SELECT signature_id, agreement_id, party_role, document_sha256, png"
            " FROM signature_images WHERE signature_id = ANY(:ids)"
        ),
        {"ids": wanted},
    )
    found = {row.signature_id: row for row in rows}
    missing = [sid for sid in wanted if sid not in found]
    if missing:
        raise SignatureNotYetReceived(missing)
    return [_image(s, found[s.signature_id], cmd.agreement_id) for s in cmd.signatures]


def _image(on_doc: SignatureOnDocument, row: Row[Any], agreement_id: str) -> SignatureImage:
    expected = (agreement_id, on_doc.party_role, on_doc.document_sha256)
    if (row.agreement_id, row.party_role, row.document_sha256) != expected:
        raise SignatureMismatch(f"signature {on_doc.signature_id} belongs elsewhere")
    return SignatureImage(
        party=on_doc.party_role,
        name=on_doc.name,
        png=bytes(row.png),
        signed_at=on_doc.signed_at,
        document_sha256=on_doc.document_sha256,
        verification_id=on_doc.verification_id,
    )


# --- documents --------------------------------------------------------------------


def request_fingerprint(cmd: RenderDocument) -> str:
    """SHA-256 of a render command's inputs, independent of key order."""
    canonical = json.dumps(cmd.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalised_readers(readers: Sequence[str]) -> list[str]:
    """Readers' phones in E.164 where they parse, sorted and without repeats."""
    out: set[str] = set()
    for reader in readers:
        try:
            out.add(normalise_phone(reader))
        except PersonalDataError:
            out.add(reader.strip())
    return sorted(out)


async def latest_signed_pdf(conn: AsyncConnection, cmd: RenderDocument) -> bytes:
    """The stored (sealed) signed copy a voided copy is built on; retries until stored."""
    if not cmd.voided:
        raise ValueError("a voided document needs the void details")
    row = (
        await conn.execute(
            text(
                "SELECT pdf FROM documents WHERE agreement_id = :a AND kind = 'signed'"
                " ORDER BY version DESC LIMIT 1"
            ),
            {"a": cmd.agreement_id},
        )
    ).first()
    if row is None:
        raise SignedCopyNotYetStored(f"no signed copy of {cmd.agreement_id} stored yet")
    return bytes(row.pdf)


async def find_document(conn: AsyncConnection, cmd: RenderDocument) -> StoredDocument | None:
    """The stored copy of the command's document version, if any."""
    row = (
        await conn.execute(
            text(
                "SELECT sha256, size, rendered_at, request_sha256 FROM documents"
                " WHERE agreement_id = :a AND kind = :k AND version = :v"
            ),
            {"a": cmd.agreement_id, "k": cmd.kind, "v": cmd.version},
        )
    ).first()
    return None if row is None else StoredDocument(*row)


async def store_document(
    conn: AsyncConnection,
    cmd: RenderDocument,
    pdf: bytes,
    rendered_at: datetime,
    fingerprint: str,
) -> StoredDocument:
    """Insert a rendered version (a replica may have won the race) and return it.

    A preview whose command was issued before the agreement's latest
    SupersedePreviews is stored already superseded.
    """
    key = {"a": cmd.agreement_id, "k": cmd.kind, "v": cmd.version}
    await lock_agreement(conn, cmd.agreement_id)
    await conn.execute(
        text(
            "INSERT INTO documents (agreement_id, kind, version, sha256, size, pdf,"
            " rendered_at, superseded_at, readers, request_sha256)"
            " VALUES (:a, :k, :v, :sha, :size, :pdf, :at,"
            "  CASE WHEN :preview AND EXISTS (SELECT 1 FROM preview_supersessions s"
            "   WHERE s.agreement_id = :a AND s.issued_at >= :at) THEN now() END,"
            "  :readers, :req)"
            " ON CONFLICT DO NOTHING"
        ),
        {
            **key,
            "sha": hashlib.sha256(pdf).hexdigest(),
            "size": len(pdf),
            "pdf": pdf,
            "at": rendered_at,
            "preview": cmd.kind == "preview",
            "readers": normalised_readers(cmd.readers),
            "req": fingerprint,
        },
    )
    await conn.execute(
        text("DELETE FROM render_failures WHERE agreement_id = :a AND kind = :k AND version = :v"),
        key,
    )
    stored = await find_document(conn, cmd)
    assert stored is not None
    return stored


async def announce(conn: AsyncConnection, cmd: RenderDocument, stored: StoredDocument) -> None:
    """Queue DocumentRendered for a stored document version."""
    await outbox.add(
        conn,
        Subject.DOCUMENT_RENDERED,
        DocumentRendered(
            agreement_id=cmd.agreement_id,
            kind=cmd.kind,
            version=cmd.version,
            sha256=stored.sha256,
            size=stored.size,
            rendered_at=stored.rendered_at,
        ),
        correlation_id=cmd.agreement_id,
    )


# --- failures and supersession ----------------------------------------------------


def failure_reason(exc: Exception) -> tuple[str, str]:
    """A reason code for logs and a detail for operators, neither with names in it."""
    if isinstance(exc, UnrenderableCharacter):
        points = ", ".join(f"U+{ord(ch):04X}" for ch in exc.characters)
        return "unrenderable_character", points
    if isinstance(exc, SignatureMismatch):
        return "signature_mismatch", str(exc)
    return "render_rejected", f"{type(exc).__name__}: {redact(str(exc))[:500]}"


async def record_failure(
    conn: AsyncConnection, envelope: Envelope, cmd: RenderDocument, exc: Exception
) -> None:
    """Record a render that can never succeed; nothing is announced for it."""
    reason, detail = failure_reason(exc)
    await conn.execute(
        text(
            "INSERT INTO render_failures (agreement_id, kind, version, message_id,"
            " reason, detail) VALUES (:a, :k, :v, :m, :r, :d)"
            " ON CONFLICT (agreement_id, kind, version) DO UPDATE SET"
            " message_id = EXCLUDED.message_id, reason = EXCLUDED.reason,"
            " detail = EXCLUDED.detail, failed_at = now()"
        ),
        {
            "a": cmd.agreement_id,
            "k": cmd.kind,
            "v": cmd.version,
            "m": envelope.message_id,
            "r": reason,
            "d": detail,
        },
    )
    log.error(
        "render of %s v%d failed for good (%s, %s); nothing emitted",
        cmd.kind,
        cmd.version,
        reason,
        type(exc).__name__,
    )


async def lock_agreement(conn: AsyncConnection, agreement_id: str) -> None:
    """Serialise storing a preview and superseding previews of one agreement.

    Without it, a preview stored while a supersession commits would see neither
    the supersession nor be seen by it, and stay live (write skew).
    """
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"documents:{agreement_id}"},
    )


async def record_supersession(
    conn: AsyncConnection, cmd: SupersedePreviews, issued_at: datetime
) -> None:
    """Remember the latest supersession of an agreement's previews."""
    await conn.execute(
        text(
            "INSERT INTO preview_supersessions (agreement_id, issued_at, reason)"
            " VALUES (:a, :at, :r) ON CONFLICT (agreement_id) DO UPDATE SET"
            " issued_at = EXCLUDED.issued_at, reason = EXCLUDED.reason,"
            " recorded_at = now()"
            " WHERE preview_supersessions.issued_at < EXCLUDED.issued_at"
        ),
        {"a": cmd.agreement_id, "at": issued_at, "r": cmd.reason},
    )


async def supersede_previews(conn: AsyncConnection, agreement_id: str, issued_at: datetime) -> int:
    """Set superseded_at on live previews requested up to ``issued_at``."""
    result = await conn.execute(
        text(
            "UPDATE documents SET superseded_at = now()"
            " WHERE agreement_id = :a AND kind = 'preview'"
            " AND superseded_at IS NULL AND rendered_at <= :at"
        ),
        {"a": agreement_id, "at": issued_at},
    )
    return int(result.rowcount or 0)
