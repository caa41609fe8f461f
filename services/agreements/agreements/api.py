"""HTTP entrypoints of agreements: create IOUs, act on them, read the folder."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from jietiao_shared import idempotency
from jietiao_shared import text as printable
from jietiao_shared.auth import Caller, CurrentCaller
from jietiao_shared.errors import ApiError
from jietiao_shared.personal import mask_id_number, mask_phone
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit_chain, flows, store
from .domain.saga import ENDINGS, Conflict, Status, other_role
from .settings import AgreementsSettings
from .store import Iou, Party
from .terms import IouDraft, TermsRejected, build_terms

router = APIRouter(tags=["ious"])


class Reason(BaseModel):
    """A free-text reason given by a person."""

    reason: str = Field(min_length=1, max_length=200)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("请填写原因")
        if bad := printable.unprintable(stripped):
            # The reason is printed on the voided copy: refuse what it cannot show.
            raise ValueError(f"原因中有无法打印的字符：{printable.describe(bad)}")
        return stripped


class Reminders(BaseModel):
    """Switch repayment reminders on or off."""

    enabled: bool


def _settings(request: Request) -> AgreementsSettings:
    settings = request.app.state.settings
    assert isinstance(settings, AgreementsSettings)
    return settings


def _engine(request: Request) -> Any:
    return request.app.state.runtime.engine


def _not_found() -> ApiError:
    return ApiError(404, "iou_not_found", "借条不存在")


def _conflict(iou: Iou, exc: Conflict) -> ApiError:
    return ApiError(409, "status_conflict", exc.message, extra={"status": iou.status})


async def _load_for(
    conn: AsyncConnection, iou_id: str, caller: Caller, *, lock: bool
) -> tuple[Iou, str]:
    iou = await store.load(conn, iou_id, lock=lock)
    role = iou.role_of(caller.phone) if iou else None
    if iou is None or role is None:
        raise _not_found()
    return iou, role


# --- views -----------------------------------------------------------------


def _party_view(party: Party, mine: bool) -> dict[str, Any]:
    return {
        "role": party.role,
        "name": party.name,
        "id_number": party.id_number if mine else mask_id_number(party.id_number),
        "phone": party.phone if mine else mask_phone(party.phone),
        "is_me": mine,
        "signature_captured": party.signature_id is not None,
        "signed_at": party.signed_at.isoformat() if party.signed_at else None,
    }


def _actions(iou: Iou, role: str, void: Any) -> list[str]:
    actions: list[str] = []
    status = iou.status
    if role == iou.initiator_role and status in (
        Status.DRAFT,
        Status.AWAITING_INITIATOR,
        Status.AWAITING_COUNTERPARTY,
    ):
        actions.append("withdraw")
    mine_to_sign = (role == iou.initiator_role and status == Status.AWAITING_INITIATOR) or (
        role != iou.initiator_role and status == Status.AWAITING_COUNTERPARTY
    )
    if mine_to_sign and iou.parties[role].signed_at is None:
        actions.append("sign")
    if role != iou.initiator_role and status == Status.AWAITING_COUNTERPARTY:
        actions.append("refuse")
    if status == Status.EFFECTIVE and void is None:
        actions.append("request_void")
    if void is not None and void.requested_by == role:
        actions.append("cancel_void")
    if void is not None and void.requested_by != role and void.status == "open":
        actions += ["confirm_void", "refuse_void"]
    if status not in ENDINGS:
        actions.append("set_reminders")
    return actions


def _void_view(void: Any) -> dict[str, Any] | None:
    if void is None:
        return None
    return {
        "id": str(void.id),
        "requested_by": void.requested_by,
        "reason": void.reason,
        "status": void.status,
        "confirm_requested": void.confirm_requested_at is not None,
        "created_at": void.created_at.isoformat(),
    }


def view(iou: Iou, role: str, void: Any = None) -> dict[str, Any]:
    """What a party sees of an IOU: its own data in full, the other's masked."""
    terms = {k: v for k, v in iou.terms.items() if k not in ("lender", "borrower")}
    return {
        "id": iou.id,
        "status": iou.status,
        "my_role": role,
        "initiator_role": iou.initiator_role,
        "parties": {r: _party_view(p, r == role) for r, p in iou.parties.items()},
        "terms": terms,
        "documents": {
            "preview_sha256": iou.preview_sha256,
            "preview_version": iou.preview_version,
            "signed_sha256": iou.signed_sha256,
            "voided_sha256": iou.voided_sha256,
        },
        "void_request": _void_view(void),
        "reminders_enabled": iou.reminders_enabled,
        "actions": _actions(iou, role, void),
        "created_at": iou.created_at.isoformat(),
        "expires_at": iou.expires_at.isoformat(),
        "effective_at": iou.effective_at.isoformat() if iou.effective_at else None,
        "ended_at": iou.ended_at.isoformat() if iou.ended_at else None,
        "end_reason": iou.end_reason,
        "version": iou.version,
    }


async def _fresh_view(conn: AsyncConnection, iou_id: str, role: str) -> dict[str, Any]:
    iou = await store.load(conn, iou_id)
    assert iou is not None
    return view(iou, role, await store.open_void_request(conn, iou_id))


# --- creating --------------------------------------------------------------


async def _checked_terms(body: IouDraft, caller: Caller, request: Request) -> dict[str, Any]:
    """The exact terms of a draft, or a 422 naming every wrong field."""
    async with _engine(request).connect() as conn:
        verified = await store.verified_identity(conn, caller.phone)
    try:
        return build_terms(
            body, caller_phone=caller.phone, settings=_settings(request), verified=verified
        )
    except TermsRejected as exc:
        raise ApiError(
            422, "validation_failed", "填写有误，请检查标出的字段", fields=exc.fields
        ) from exc


@router.post("/ious/quote")
async def quote_iou(body: IouDraft, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """The derived terms of a draft (capital numerals, plan, LPR cap); nothing is stored."""
    terms = await _checked_terms(body, caller, request)
    return {k: v for k, v in terms.items() if k not in ("lender", "borrower")}


@router.post("/ious", status_code=201)
async def create_iou(body: IouDraft, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """Create an IOU after the notice was accepted; its preview is rendered next."""
    settings = _settings(request)
    terms = await _checked_terms(body, caller, request)

    now = datetime.now(UTC)
    role = body.role
    iou_id = str(uuid.uuid4())
    terms["agreement_id"] = iou_id
    iou = Iou(
        id=iou_id,
        status=Status.DRAFT,
        initiator_role=role,
        initiator_account_id=caller.account_id,
        terms=terms,
        notice_version=body.notice.version,
        notice_accepted_at=now,
        reminders_enabled=body.reminders_enabled,
        preview_version=1,
        preview_sha256=None,
        signed_sha256=None,
        voided_sha256=None,
        version=1,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=settings.unsigned_expiry_hours),
        effective_at=None,
        ended_at=None,
        end_reason=None,
        parties={
            r: Party(
                role=r,
                name=terms[r]["name"],
                id_number=terms[r]["id_number"],
                phone=terms[r]["phone"],
            )
            for r in ("lender", "borrower")
        },
    )
    async with _engine(request).begin() as conn:
        await store.insert(conn, iou)
        await store.audit(
            conn,
            iou.id,
            role,
            "notice_accepted",
            notice_version=body.notice.version,
            account=caller.account_id,
        )
        await store.audit(conn, iou.id, role, "created")
        await flows.render(conn, iou, "preview")
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


# --- reading ---------------------------------------------------------------

FolderFilter = Literal[
    "all", "awaiting_me", "awaiting_other", "effective", "void_requested", "ended"
]


def _awaiting_me(iou: Iou, role: str) -> bool:
    return "sign" in _actions(iou, role, None)


@router.get("/ious")
async def folder(
    caller: CurrentCaller,
    request: Request,
    filter: Annotated[FolderFilter, Query()] = "all",
) -> dict[str, Any]:
    """The caller's folder (我的合同), newest first, with a status filter."""
    async with _engine(request).connect() as conn:
        ious = await store.folder(conn, caller.phone, None)
    items = []
    for iou in ious:
        role = iou.role_of(caller.phone) or ""
        me_next = _awaiting_me(iou, role)
        keep = {
            "all": True,
            "awaiting_me": me_next,
            "awaiting_other": iou.status
            in (Status.AWAITING_INITIATOR, Status.AWAITING_COUNTERPARTY, Status.DRAFT)
            and not me_next,
            "effective": iou.status == Status.EFFECTIVE,
            "void_requested": iou.status == Status.VOID_REQUESTED,
            "ended": iou.status in ENDINGS,
        }[filter]
        if keep:
            other = iou.parties[other_role(role)]
            items.append(
                {
                    "id": iou.id,
                    "status": iou.status,
                    "my_role": role,
                    "other_name": other.name,
                    "principal_fen": iou.terms["principal_fen"],
                    "amount_in_words": iou.terms["amount_in_words"],
                    "repayment_date": iou.terms["repayment_date"],
                    "awaiting_me": me_next,
                    "created_at": iou.created_at.isoformat(),
                }
            )
    return {"items": items, "filter": filter}


@router.get("/ious/{iou_id}")
async def get_iou(iou_id: str, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """One IOU, for its parties only."""
    async with _engine(request).connect() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=False)
        return view(iou, role, await store.open_void_request(conn, iou.id))


@router.get("/ious/{iou_id}/audit")
async def audit_trail(iou_id: str, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """Every recorded step of the IOU."""
    async with _engine(request).connect() as conn:
        iou, _ = await _load_for(conn, iou_id, caller, lock=False)
        trail = await store.audit_trail(conn, iou.id)
        chain = await audit_chain.verify(conn, iou.id)
    return {
        "items": [{**t, "at": t["at"].isoformat()} for t in trail],
        "chain": {"entries": chain.entries, "head": chain.head, "intact": chain.intact},
    }


@router.get("/ious/{iou_id}/party")
async def my_party(iou_id: str, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """The caller's own party details in full (for opening a face check)."""
    async with _engine(request).connect() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=False)
        void = await store.open_void_request(conn, iou.id)
    party = iou.parties[role]
    return {
        "role": role,
        "name": party.name,
        "id_number": party.id_number,
        "status": iou.status,
        "actions": _actions(iou, role, void),
    }


# --- acting ----------------------------------------------------------------


@router.post("/ious/{iou_id}/withdraw")
async def withdraw(iou_id: str, caller: CurrentCaller, request: Request) -> dict[str, Any]:
    """The initiator withdraws an IOU not yet signed by the other side."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        if role != iou.initiator_role:
            raise ApiError(403, "initiator_only", "只有发起人可以撤销借条")
        try:
            await flows.withdraw(conn, iou, role)
        except Conflict as exc:
            raise _conflict(iou, exc) from exc
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


@router.post("/ious/{iou_id}/refuse")
async def refuse(
    iou_id: str, body: Reason, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """The counterparty refuses to sign, with a reason."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        if role == iou.initiator_role:
            raise ApiError(403, "counterparty_only", "只有接收方可以拒签")
        try:
            await flows.refuse(conn, iou, body.reason.strip())
        except Conflict as exc:
            raise _conflict(iou, exc) from exc
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


@router.put("/ious/{iou_id}/reminders")
async def set_reminders(
    iou_id: str, body: Reminders, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """Switch repayment reminders to the borrower on or off."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        if iou.status in ENDINGS:
            raise _conflict(iou, Conflict(iou.status, "set_reminders"))
        if body.enabled != iou.reminders_enabled:
            await store.update_iou(conn, iou.id, reminders_enabled=body.enabled)
            iou.reminders_enabled = body.enabled
            await store.audit(
                conn, iou.id, role, "reminders_on" if body.enabled else "reminders_off"
            )
            if iou.status in (Status.EFFECTIVE, Status.VOID_REQUESTED):
                if body.enabled:
                    await flows.schedule_reminders(conn, iou)
                else:
                    await flows.cancel_reminders(conn, iou, "switched off")
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


@router.post("/ious/{iou_id}/void-requests", status_code=201)
async def request_void(
    iou_id: str, body: Reason, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """Start voiding an effective IOU; it opens once the requester passed a face check."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        if iou.status != Status.EFFECTIVE or await store.open_void_request(conn, iou.id):
            raise _conflict(iou, Conflict(iou.status, "request_void", "借条当前不能申请作废"))
        await conn.execute(
            text(
                "INSERT INTO void_requests (id, iou_id, requested_by, reason, status)"
                " VALUES (:id, :iou, :role, :reason, 'awaiting_verification')"
            ),
            {
                "id": uuid.uuid4(),
                "iou": iou.id,
                "role": role,
                "reason": body.reason.strip(),
            },
        )
        await store.audit(conn, iou.id, role, "void_request_started", reason=body.reason.strip())
        await flows.try_open_void(conn, iou, await store.open_void_request(conn, iou.id))
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


async def _void_for(conn: AsyncConnection, iou: Iou, void_id: str) -> Any:
    void = await store.open_void_request(conn, iou.id)
    if void is None or str(void.id) != void_id:
        raise ApiError(409, "void_request_closed", "该作废申请已结束", extra={"status": iou.status})
    return void


@router.post("/ious/{iou_id}/void-requests/{void_id}/cancel")
async def cancel_void(
    iou_id: str, void_id: str, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """The requester takes back a void request still unanswered."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        void = await _void_for(conn, iou, void_id)
        if void.requested_by != role:
            raise ApiError(403, "requester_only", "只有申请人可以取消作废申请")
        await flows.cancel_void(conn, iou, void)
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


@router.post("/ious/{iou_id}/void-requests/{void_id}/confirm")
async def confirm_void(
    iou_id: str, void_id: str, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """The other party agrees to void; done once its face check passes."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        void = await _void_for(conn, iou, void_id)
        if void.requested_by == role:
            raise ApiError(403, "answerer_only", "只有对方可以确认作废")
        if void.status != "open":
            raise ApiError(
                409,
                "void_request_not_open",
                "作废申请尚未生效",
                extra={"status": iou.status},
            )
        if void.confirm_requested_at is None:
            await flows.conn_update_void(conn, void.id, confirm_requested_at=datetime.now(UTC))
            await store.audit(conn, iou.id, role, "void_confirm_started")
        await flows.try_confirm_void(conn, iou, await store.open_void_request(conn, iou.id))
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))


@router.post("/ious/{iou_id}/void-requests/{void_id}/refuse")
async def refuse_void(
    iou_id: str, void_id: str, body: Reason, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """The other party refuses to void; the IOU stays effective."""
    async with _engine(request).begin() as conn:
        iou, role = await _load_for(conn, iou_id, caller, lock=True)
        void = await _void_for(conn, iou, void_id)
        if void.requested_by == role:
            raise ApiError(403, "answerer_only", "只有对方可以拒绝作废")
        try:
            await flows.refuse_void(conn, iou, void, body.reason.strip())
        except Conflict as exc:
            raise _conflict(iou, exc) from exc
        return await idempotency.answer(conn, request, await _fresh_view(conn, iou.id, role))
