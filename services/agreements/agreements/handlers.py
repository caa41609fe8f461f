"""Bus entrypoints of agreements: facts from identity, signing and documents.

Each handler loads the IOU under its row lock, records what arrived, and lets the
saga step run if everything it waits for is now in. Facts may arrive in any
order; a fact that does not fit (wrong party, stale document) is recorded in the
audit trail and dropped, never retried.
"""

import logging

from jietiao_shared.bus import Consumers
from jietiao_shared.contracts import (
    CompensationCompleted,
    DocumentRendered,
    Envelope,
    SignatureCaptured,
    Subject,
    VerificationPassed,
)
from jietiao_shared.personal import id_number_sha256
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import flows, store
from .domain.saga import Status, Step

log = logging.getLogger(__name__)


async def on_signature_captured(
    conn: AsyncConnection, envelope: Envelope, event: SignatureCaptured
) -> None:
    """Attach a handwritten signature to its party, then try to complete signing."""
    iou = await store.load(conn, event.agreement_id, lock=True)
    if iou is None:
        log.warning("signature for unknown agreement dropped")
        return
    party = iou.parties[event.party_role]
    problem = None
    if party.phone != event.account_phone:
        problem = "signer_is_not_the_party"
    elif event.document_sha256 != iou.preview_sha256:
        problem = "document_version_mismatch"
    elif party.signed_at is not None:
        problem = "already_signed"
    elif iou.status not in (Status.AWAITING_INITIATOR, Status.AWAITING_COUNTERPARTY):
        problem = f"not_signable_in_{iou.status}"
    elif not _turn_of(iou, event.party_role):
        problem = "not_this_partys_turn"
    if problem:
        await store.audit(
            conn,
            iou.id,
            event.party_role,
            "signature_rejected",
            reason=problem,
            signature_id=event.signature_id,
        )
        log.warning("signature %s rejected: %s", event.signature_id, problem)
        return
    party.signature_id = event.signature_id
    party.signature_doc = event.document_sha256
    party.signature_at = event.signed_at
    await store.update_party(
        conn,
        iou.id,
        event.party_role,
        signature_id=event.signature_id,
        signature_sha256=event.png_sha256,
        signature_doc=event.document_sha256,
        signature_at=event.signed_at,
    )
    await store.audit(
        conn,
        iou.id,
        event.party_role,
        "signature_captured",
        signature_id=event.signature_id,
        document_sha256=event.document_sha256,
        client_ip=event.client_ip,
        user_agent=event.user_agent,
    )
    await flows.try_complete_signing(conn, iou, event.party_role)


def _turn_of(iou: store.Iou, role: str) -> bool:
    if role == iou.initiator_role:
        return iou.status == Status.AWAITING_INITIATOR
    return iou.status == Status.AWAITING_COUNTERPARTY


async def on_verification_passed(
    conn: AsyncConnection, envelope: Envelope, event: VerificationPassed
) -> None:
    """Record a passed face check for its purpose, then run what it unlocks.

    The verified identity is also remembered for the account (whatever the IOU):
    later IOUs it starts must name that person as the initiator.
    """
    await store.record_verified_identity(
        conn,
        account_phone=event.account_phone,
        name=event.verified_name,
        id_sha256=event.id_number_sha256,
        verification_id=event.verification_id,
        verified_at=event.passed_at,
    )
    iou = await store.load(conn, event.agreement_id, lock=True)
    if iou is None:
        log.warning("verification for unknown agreement dropped")
        return
    party = iou.parties[event.party_role]
    rejected = None
    if party.phone != event.account_phone:
        rejected = "verified_account_is_not_the_party"
    elif (
        party.name != event.verified_name
        or id_number_sha256(party.id_number) != event.id_number_sha256
    ):
        rejected = "verified_person_is_not_the_party"
    await store.record_verification(conn, event, rejected)
    await store.audit(
        conn,
        iou.id,
        event.party_role,
        "verification_rejected" if rejected else "verification_passed",
        verification_id=event.verification_id,
        reason=rejected or event.action,
    )
    if rejected:
        return
    if event.action == "sign" and _turn_of(iou, event.party_role):
        await flows.try_complete_signing(conn, iou, event.party_role)
    elif event.action == "request_void":
        await flows.try_open_void(conn, iou, await store.open_void_request(conn, iou.id))
    elif event.action == "confirm_void":
        await flows.try_confirm_void(conn, iou, await store.open_void_request(conn, iou.id))


async def on_document_rendered(
    conn: AsyncConnection, envelope: Envelope, event: DocumentRendered
) -> None:
    """Record a rendered document; a fresh preview makes the IOU signable."""
    iou = await store.load(conn, event.agreement_id, lock=True)
    if iou is None:
        return
    await conn.execute(
        text(
            "INSERT INTO documents (iou_id, kind, version, sha256, size, rendered_at)"
            " VALUES (:i, :k, :v, :s, :z, :t) ON CONFLICT DO NOTHING"
        ),
        {
            "i": iou.id,
            "k": event.kind,
            "v": event.version,
            "s": event.sha256,
            "z": event.size,
            "t": event.rendered_at,
        },
    )
    if event.kind == "preview" and event.version == iou.preview_version:
        await store.update_iou(conn, iou.id, preview_sha256=event.sha256)
        if iou.status == Status.DRAFT:
            await flows.transition(conn, iou, Step.PREVIEW_RENDERED)
    elif event.kind == "signed":
        await store.update_iou(conn, iou.id, signed_sha256=event.sha256)
    elif event.kind == "voided":
        await store.update_iou(conn, iou.id, voided_sha256=event.sha256)


async def on_compensation_completed(
    conn: AsyncConnection, envelope: Envelope, event: CompensationCompleted
) -> None:
    """Record that a service finished its part of undoing a flow."""
    done = await conn.execute(
        text(
            "UPDATE saga_compensations SET completed_at = :t, detail = :d"
            " WHERE iou_id = :i AND compensation = :c AND completed_at IS NULL"
        ),
        {"t": event.completed_at, "d": event.detail, "i": event.agreement_id,
         "c": event.compensation},
    )  # fmt: skip
    if done.rowcount:
        await store.audit(
            conn, event.agreement_id, "system", "compensation_completed",
            reason=event.compensation,
        )  # fmt: skip


def register(consumers: Consumers) -> None:
    """Subscribe agreements to the facts it reacts to."""
    consumers.on(Subject.SIGNATURE_CAPTURED, "signature-captured", on_signature_captured)
    consumers.on(Subject.VERIFICATION_PASSED, "verification-passed", on_verification_passed)
    consumers.on(Subject.DOCUMENT_RENDERED, "document-rendered", on_document_rendered)
    consumers.on(Subject.NOTIFY_COMPENSATED, "notify-compensated", on_compensation_completed)
    consumers.on(Subject.DOCUMENTS_COMPENSATED, "documents-compensated", on_compensation_completed)
