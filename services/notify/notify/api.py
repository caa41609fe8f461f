"""HTTP entrypoints: share links for parties, SMS and reminders for operators."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from jietiao_shared import idempotency
from jietiao_shared.auth import CurrentCaller, Operator
from jietiao_shared.contracts import PartyRole, SmsKind
from jietiao_shared.errors import ApiError, field_error
from jietiao_shared.personal import PersonalDataError, mask_phone, normalise_phone
from jietiao_shared.wechat import WeChatClient, WeChatError
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from . import qr
from .handlers import renew_share_link, token_sha256
from .reminders import CHINA
from .settings import NotifySettings

router = APIRouter()

MAX_TOKEN_LENGTH = 128


class SmsRecord(BaseModel):
    """One SMS as recorded; the phone is masked."""

    id: str
    kind: str
    phone: str
    text: str
    status: str
    error: str | None
    provider: str | None
    agreement_id: str | None
    created_at: datetime
    sent_at: datetime | None


class SmsList(BaseModel):
    """Recorded SMS, newest first."""

    items: list[SmsRecord]


class ShareLink(BaseModel):
    """A live link, as its owners and holder see it."""

    token: str
    url: str
    party_role: PartyRole
    purpose: str
    expires_at: datetime


class ShareLinkList(BaseModel):
    """The live links of one agreement the caller may see."""

    items: list[ShareLink]


class RenewRequest(BaseModel):
    """Ask for a fresh token for one's own live link of an agreement."""

    agreement_id: str = Field(min_length=1, max_length=64)
    purpose: Literal["sign", "answer_void"] | None = None


class ResolvedShareLink(BaseModel):
    """What a link points at, and nothing about the agreement itself."""

    agreement_id: str
    party_role: PartyRole
    purpose: str
    expires_at: datetime


class Reminder(BaseModel):
    """One repayment reminder and where it stands; ``due_at`` in Asia/Shanghai."""

    id: str
    agreement_id: str
    seq: int
    kind: Literal["due", "early"]
    due_date: date
    due_at: datetime
    phone: str
    status: str
    sms_id: str | None
    sent_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None


class ReminderList(BaseModel):
    """Reminders in due order."""

    items: list[Reminder]


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.runtime.engine
    return engine


def _settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.settings
    return settings


def _phone_filter(phone: str) -> str:
    try:
        return normalise_phone(phone)
    except PersonalDataError as exc:
        raise field_error("phone", exc.code, exc.message) from exc


# --- share links --------------------------------------------------------------


@router.get("/share-links", response_model=ShareLinkList, tags=["share links"])
async def list_share_links(
    agreement_id: str, caller: CurrentCaller, request: Request
) -> ShareLinkList:
    """The live links of an agreement, for their owners and holder only."""
    try:
        phone = normalise_phone(caller.phone)
    except PersonalDataError:
        return ShareLinkList(items=[])
    base = _settings(request).landing_url

    async with _engine(request).connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT token, party_role, purpose, expires_at FROM share_links"
                " WHERE agreement_id = :a AND revoked_at IS NULL AND expires_at > now()"
                " AND (holder_phone = :p OR :p = ANY(owner_phones))"
                " ORDER BY created_at DESC"
            ),
            {"a": agreement_id, "p": phone},
        )
    return ShareLinkList(items=[ShareLink(url=f"{base}/{r.token}", **r._mapping) for r in rows])


def _invalid_link() -> ApiError:
    """The one answer for forged, revoked and expired links."""
    return ApiError(404, "share_link_invalid", "链接无效或已过期")


@router.post("/share-links/renew", response_model=ShareLink, status_code=201, tags=["share links"])
async def renew(body: RenewRequest, caller: CurrentCaller, request: Request) -> ShareLink:
    """A fresh token for the caller's live link; the old one is revoked, expiry kept."""
    try:
        phone = normalise_phone(caller.phone)
    except PersonalDataError:
        raise _invalid_link() from None
    async with _engine(request).begin() as conn:
        row = await renew_share_link(conn, body.agreement_id, phone, body.purpose)
        if row is None:
            raise _invalid_link()
        link = ShareLink(url=f"{_settings(request).landing_url}/{row.token}", **row._mapping)
        return await idempotency.answer(conn, request, link)


@router.get("/share-links/{token}/qr.png", tags=["share links"])
async def share_link_qr(token: str, request: Request) -> Response:
    """A QR code (PNG) for a live link: WeChat's mini-program code when configured."""
    await resolve_share_link(token, request)
    settings = _settings(request)
    wechat: WeChatClient | None = getattr(request.app.state, "wechat", None)
    if wechat is not None and len(token) <= qr.MAX_SCENE_LENGTH:
        try:
            png = await wechat.qr_code(
                token, settings.wechat_share_page, env_version=settings.wechat_env_version
            )
        except WeChatError as exc:
            raise ApiError(503, "qr_code_unavailable", "小程序码暂时无法生成，请稍后再试") from exc
    else:
        png = qr.png(f"{settings.landing_url}/{token}")
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


@router.get("/share-links/{token}", response_model=ResolvedShareLink, tags=["share links"])
async def resolve_share_link(token: str, request: Request) -> ResolvedShareLink:
    """What a live link points at; one answer for forged, revoked and expired ones."""
    invalid = _invalid_link()
    if len(token) > MAX_TOKEN_LENGTH:
        raise invalid

    async with _engine(request).connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT agreement_id, party_role, purpose, expires_at"
                    " FROM share_links WHERE token_sha256 = :h"
                    " AND revoked_at IS NULL AND expires_at > now()"
                ),
                {"h": token_sha256(token)},
            )
        ).first()
    if row is None:
        raise invalid
    return ResolvedShareLink(**row._mapping)


# --- operators ----------------------------------------------------------------


@router.get("/ops/sms", response_model=SmsList, dependencies=[Operator], tags=["operators"])
async def recorded_sms(
    request: Request,
    phone: str | None = None,
    agreement_id: str | None = None,
    kind: SmsKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SmsList:
    """Recorded SMS, newest first, filtered by phone, agreement or kind."""
    filters: dict[str, Any] = {
        "phone": _phone_filter(phone) if phone else None,
        "agreement_id": agreement_id,
        "kind": kind,
    }
    where, values = _where(filters)

    async with _engine(request).connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, kind, phone, text, status, error, provider, agreement_id,"
                f" created_at, sent_at FROM sms_messages{where}"
                " ORDER BY created_at DESC, id LIMIT :limit"
            ),
            {**values, "limit": limit},
        )
    return SmsList(items=[_sms(r._mapping) for r in rows])


@router.get(
    "/ops/reminders",
    response_model=ReminderList,
    dependencies=[Operator],
    tags=["operators"],
)
async def reminder_schedule(
    request: Request,
    agreement_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ReminderList:
    """Repayment reminders in due order, with their status."""
    where, values = _where({"agreement_id": agreement_id})

    async with _engine(request).connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, agreement_id, seq, kind, due_date, due_at, borrower_phone,"
                " status, sms_id, sent_at, cancelled_at, cancel_reason"
                f" FROM reminders{where} ORDER BY due_at, seq, kind LIMIT :limit"
            ),
            {**values, "limit": limit},
        )
    return ReminderList(items=[_reminder(r._mapping) for r in rows])


def _where(filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over fixed column names for the filters that were given."""
    given = {column: value for column, value in filters.items() if value is not None}
    if not given:
        return "", {}
    return " WHERE " + " AND ".join(f"{c} = :{c}" for c in given), given


def _sms(row: Any) -> SmsRecord:
    values = dict(row)
    return SmsRecord(**{**values, "id": str(values["id"]), "phone": mask_phone(values["phone"])})


def _reminder(row: Any) -> Reminder:
    values = dict(row)
    phone = mask_phone(values.pop("borrower_phone"))
    sms_id = values.pop("sms_id")
    values["due_at"] = values["due_at"].astimezone(CHINA)
    return Reminder(
        **{
            **values,
            "id": str(values["id"]),
            "phone": phone,
            "sms_id": str(sms_id) if sms_id else None,
        }
    )
