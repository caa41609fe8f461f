"""The saga's steps: each runs in one transaction on a locked IOU.

A step checks that the IOU's status allows it (through the transition table),
changes the state, appends to the audit trail and queues the commands and events
it causes in the outbox, all in the caller's transaction.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from jietiao_shared import outbox
from jietiao_shared.contracts import (
    AuditLine,
    CancelReminders,
    CloseFlow,
    IouStatusChanged,
    IssueShareLink,
    ReminderInstalment,
    RenderDocument,
    ScheduleReminders,
    SendSms,
    SignatureOnDocument,
    Subject,
    SupersedePreviews,
)
from jietiao_shared.personal import mask_name
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit_chain, store
from .domain.saga import Conflict, Status, Step, next_status, other_role
from .settings import get_settings
from .store import Iou

log = logging.getLogger(__name__)

ROLE_NAMES = {"lender": "出借人", "borrower": "借款人"}


async def transition(
    conn: AsyncConnection, iou: Iou, step: Step, *, end_reason: str | None = None
) -> str:
    """Apply one step of the transition table and announce the new status."""
    previous = iou.status
    status = next_status(previous, step)
    await store.set_status(conn, iou, status, end_reason=end_reason)
    await outbox.add(
        conn,
        Subject.IOU_STATUS_CHANGED,
        IouStatusChanged(
            agreement_id=iou.id,
            status=status,
            previous=previous,
            changed_at=datetime.now(UTC),
        ),
        correlation_id=iou.id,
    )
    log.info("iou %s: %s -> %s", iou.id, previous, status)
    return status


async def sms(conn: AsyncConnection, iou: Iou, to: str, kind: Any, **params: str) -> None:
    """Queue one SMS to the party with role ``to``."""
    await outbox.add(
        conn,
        Subject.SEND_SMS,
        SendSms(kind=kind, phone=iou.parties[to].phone, params=params, agreement_id=iou.id),
        correlation_id=iou.id,
    )


def readers(iou: Iou) -> list[str]:
    """Who may download the IOU's documents."""
    return [p.phone for p in iou.parties.values()]


async def render(conn: AsyncConnection, iou: Iou, kind: Any, **extra: Any) -> None:
    """Ask documents to render one kind of document of the IOU."""
    signatures = [
        SignatureOnDocument(
            signature_id=p.signature_id or "",
            party_role=p.role,  # type: ignore[arg-type]
            name=p.name,
            signed_at=p.signed_at or p.signature_at or datetime.now(UTC),
            document_sha256=p.signature_doc or "",
            verification_id=p.verification_id or "",
        )
        for p in iou.parties.values()
        if p.signed_at is not None
    ]
    trail = [
        AuditLine(
            at=a["at"],
            actor=a["actor"],
            action=a["action"],
            detail=_describe(a["detail"]),
        )
        for a in await store.audit_trail(conn, iou.id)
    ]
    await outbox.add(
        conn,
        Subject.RENDER_DOCUMENT,
        RenderDocument(
            agreement_id=iou.id,
            kind=kind,
            version=iou.preview_version if kind == "preview" else 1,
            terms=iou.terms,
            readers=readers(iou),
            signatures=signatures if kind != "preview" else [],
            audit=trail if kind != "preview" else [],
            audit_head=(await audit_chain.verify(conn, iou.id)).head if kind != "preview" else "",
            **extra,
        ),
        correlation_id=iou.id,
    )


def _describe(detail: dict[str, Any]) -> str:
    keys = ("reason", "verification_id", "signature_id", "document_sha256", "client_ip")
    return "; ".join(f"{k}={detail[k]}" for k in keys if detail.get(k))


async def requested(conn: AsyncConnection, iou: Iou, compensation: str) -> None:
    """Record that the saga asked for an undoing; its service reports completion."""
    await conn.execute(
        text(
            "INSERT INTO saga_compensations (iou_id, compensation) VALUES (:i, :c)"
            " ON CONFLICT (iou_id, compensation) DO UPDATE SET requested_at = now(),"
            " completed_at = NULL, detail = NULL"
        ),
        {"i": iou.id, "c": compensation},
    )


async def compensate(conn: AsyncConnection, iou: Iou, ending: str) -> None:
    """Undo what an unsigned IOU set in motion: links, queued SMS, previews."""
    await requested(conn, iou, "close_flow")
    await requested(conn, iou, "supersede_previews")
    await outbox.add(
        conn,
        Subject.CLOSE_FLOW,
        CloseFlow(agreement_id=iou.id, ending=ending),
        correlation_id=iou.id,
    )
    await outbox.add(
        conn,
        Subject.SUPERSEDE_PREVIEWS,
        SupersedePreviews(agreement_id=iou.id, reason=ending),
        correlation_id=iou.id,
    )


# --- signing ---------------------------------------------------------------


async def try_complete_signing(conn: AsyncConnection, iou: Iou, role: str) -> None:
    """A party has signed once both its signature and its face check are in."""
    party = iou.parties[role]
    if party.signed_at is not None or party.signature_id is None:
        return
    if party.signature_doc != iou.preview_sha256:
        return
    used = await store.take_verification(conn, iou.id, role, "sign")
    if used is None:
        return
    now = datetime.now(UTC)
    party.verification_id = str(used.verification_id)
    party.verified_at = used.passed_at
    party.signed_at = now
    await store.update_party(
        conn,
        iou.id,
        role,
        verification_id=used.verification_id,
        verified_at=used.passed_at,
        signed_at=now,
    )
    await store.audit(
        conn,
        iou.id,
        role,
        "signed",
        signature_id=party.signature_id,
        verification_id=party.verification_id,
        document_sha256=party.signature_doc,
    )
    if role == iou.initiator_role:
        await _initiated(conn, iou)
    else:
        await _effective(conn, iou)


async def _initiated(conn: AsyncConnection, iou: Iou) -> None:
    await transition(conn, iou, Step.INITIATOR_SIGNED)
    initiator = iou.parties[iou.initiator_role]
    counterparty = iou.counterparty_role
    await sms(
        conn,
        iou,
        counterparty,
        "invitation",
        initiator=mask_name(initiator.name),
    )
    await outbox.add(
        conn,
        Subject.ISSUE_SHARE_LINK,
        IssueShareLink(
            agreement_id=iou.id,
            party_role=counterparty,  # type: ignore[arg-type]
            holder_phone=iou.parties[counterparty].phone,
            owner_phones=[initiator.phone],
            purpose="sign",
        ),
        correlation_id=iou.id,
    )


async def _effective(conn: AsyncConnection, iou: Iou) -> None:
    await transition(conn, iou, Step.COUNTERPARTY_SIGNED)
    await render(conn, iou, "signed")
    for role in iou.parties:
        await sms(
            conn,
            iou,
            role,
            "signed",
            other=mask_name(iou.parties[other_role(role)].name),
        )
    if iou.reminders_enabled:
        await schedule_reminders(conn, iou)


async def schedule_reminders(conn: AsyncConnection, iou: Iou) -> None:
    """Ask notify to remind the borrower on each due date of the plan."""
    borrower = iou.parties["borrower"]
    await outbox.add(
        conn,
        Subject.SCHEDULE_REMINDERS,
        ScheduleReminders(
            agreement_id=iou.id,
            borrower_phone=borrower.phone,
            borrower_name=borrower.name,
            instalments=[
                ReminderInstalment(seq=i["seq"], due_date=i["due_date"], total_fen=i["total_fen"])
                for i in iou.terms["plan"]
            ],
        ),
        correlation_id=iou.id,
    )


async def cancel_reminders(conn: AsyncConnection, iou: Iou, reason: str) -> None:
    """Ask notify to drop every reminder not yet sent."""
    await requested(conn, iou, "cancel_reminders")
    await outbox.add(
        conn,
        Subject.CANCEL_REMINDERS,
        CancelReminders(agreement_id=iou.id, reason=reason),
        correlation_id=iou.id,
    )


# --- endings before effect -------------------------------------------------


async def withdraw(conn: AsyncConnection, iou: Iou, actor: str) -> None:
    """The initiator withdraws an IOU the counterparty has not signed."""
    invited = iou.status == Status.AWAITING_COUNTERPARTY
    await transition(conn, iou, Step.WITHDRAW, end_reason="withdrawn by initiator")
    await store.audit(conn, iou.id, actor, "withdrawn")
    await compensate(conn, iou, "withdrawn")
    if invited:
        await sms(
            conn,
            iou,
            iou.counterparty_role,
            "withdrawn",
            initiator=mask_name(iou.parties[iou.initiator_role].name),
        )


async def refuse(conn: AsyncConnection, iou: Iou, reason: str) -> None:
    """The counterparty refuses to sign, with a reason."""
    await transition(conn, iou, Step.REFUSE, end_reason=reason)
    await store.audit(conn, iou.id, iou.counterparty_role, "refused", reason=reason)
    await compensate(conn, iou, "refused")
    await sms(
        conn,
        iou,
        iou.initiator_role,
        "refused",
        other=mask_name(iou.parties[iou.counterparty_role].name),
    )


async def expire(conn: AsyncConnection, iou: Iou) -> None:
    """An unsigned IOU ran out of time."""
    await transition(conn, iou, Step.EXPIRE, end_reason="not signed in time")
    await store.audit(conn, iou.id, "system", "expired")
    await compensate(conn, iou, "expired")
    await sms(conn, iou, iou.initiator_role, "expired")


# --- voiding ---------------------------------------------------------------


async def try_open_void(conn: AsyncConnection, iou: Iou, request: Any) -> bool:
    """A void request opens once its requester passed the face check."""
    if request is None or request.status != "awaiting_verification":
        return False
    used = await store.take_verification(
        conn, iou.id, request.requested_by, "request_void", not_before=request.created_at
    )
    if used is None:
        return False
    opened = datetime.now(UTC)
    answer_hours = get_settings().void_answer_hours
    due = opened + timedelta(hours=answer_hours) if answer_hours > 0 else None
    await conn_update_void(conn, request.id, status="open", opened_at=opened, answer_due_at=due)
    await transition(conn, iou, Step.VOID_OPENED)
    await store.audit(
        conn,
        iou.id,
        request.requested_by,
        "void_requested",
        reason=request.reason,
        verification_id=str(used.verification_id),
    )
    answerer = other_role(request.requested_by)
    await sms(
        conn,
        iou,
        answerer,
        "void_requested",
        other=mask_name(iou.parties[request.requested_by].name),
    )
    await outbox.add(
        conn,
        Subject.ISSUE_SHARE_LINK,
        IssueShareLink(
            agreement_id=iou.id,
            party_role=answerer,  # type: ignore[arg-type]
            holder_phone=iou.parties[answerer].phone,
            owner_phones=[iou.parties[request.requested_by].phone],
            purpose="answer_void",
        ),
        correlation_id=iou.id,
    )
    return True


async def try_confirm_void(conn: AsyncConnection, iou: Iou, request: Any) -> bool:
    """The other party confirms once it asked to and passed the face check."""
    if request is None or request.status != "open" or request.confirm_requested_at is None:
        return False
    answerer = other_role(request.requested_by)
    used = await store.take_verification(
        conn, iou.id, answerer, "confirm_void", not_before=request.opened_at
    )
    if used is None:
        return False
    now = datetime.now(UTC)
    await conn_update_void(conn, request.id, status="confirmed", closed_at=now)
    await transition(conn, iou, Step.VOID_CONFIRMED, end_reason=f"voided: {request.reason}")
    await store.audit(
        conn,
        iou.id,
        answerer,
        "void_confirmed",
        verification_id=str(used.verification_id),
    )
    await cancel_reminders(conn, iou, "voided")
    await render(conn, iou, "voided", voided=void_details(request, now))
    for role in iou.parties:
        await sms(conn, iou, role, "voided")
    return True


def void_details(request: Any, confirmed_at: datetime) -> dict[str, Any]:
    """What the voided copy says about how the IOU was voided."""
    return {
        "requested_by": ROLE_NAMES[request.requested_by],
        "reason": request.reason,
        "confirmed_at": confirmed_at.isoformat(),
    }


async def cancel_void(conn: AsyncConnection, iou: Iou, request: Any) -> None:
    """The requester takes the void request back; the IOU stays effective."""
    opened = request.status == "open"
    await conn_update_void(conn, request.id, status="cancelled", closed_at=datetime.now(UTC))
    if opened:
        await transition(conn, iou, Step.VOID_CANCELLED)
        await sms(conn, iou, other_role(request.requested_by), "void_cancelled")
    await store.audit(conn, iou.id, request.requested_by, "void_cancelled")


async def void_answer_overdue(conn: AsyncConnection, iou: Iou, request: Any) -> None:
    """The other party did not answer in time: the request lapses, the IOU stays effective."""
    await conn_update_void(
        conn,
        request.id,
        status="cancelled",
        closed_at=datetime.now(UTC),
        answer_reason="answer_deadline_passed",
    )
    await transition(conn, iou, Step.VOID_CANCELLED)
    await store.audit(
        conn, iou.id, "system", "void_request_lapsed", reason="answer_deadline_passed"
    )
    await sms(conn, iou, request.requested_by, "void_cancelled")
    await sms(conn, iou, other_role(request.requested_by), "void_cancelled")


async def refuse_void(conn: AsyncConnection, iou: Iou, request: Any, reason: str) -> None:
    """The other party refuses to void; the IOU stays effective."""
    if request.status != "open":
        raise Conflict(iou.status, "refuse_void", "作废申请尚未生效，暂不能拒绝")
    await conn_update_void(
        conn,
        request.id,
        status="refused",
        closed_at=datetime.now(UTC),
        answer_reason=reason,
    )
    await transition(conn, iou, Step.VOID_REFUSED)
    answerer = other_role(request.requested_by)
    await store.audit(conn, iou.id, answerer, "void_refused", reason=reason)
    await sms(conn, iou, request.requested_by, "void_refused")


async def conn_update_void(conn: AsyncConnection, request_id: Any, **values: Any) -> None:
    """Set some columns of a void request."""
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await conn.execute(
        text(f"UPDATE void_requests SET {assignments} WHERE id = :id"),
        {**values, "id": request_id},
    )
