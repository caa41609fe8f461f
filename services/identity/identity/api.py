"""HTTP entrypoints of the identity service."""

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from jietiao_shared import idempotency
from jietiao_shared.auth import CurrentCaller
from jietiao_shared.contracts import VerificationAction
from jietiao_shared.errors import ApiError
from jietiao_shared.personal import (
    PersonalDataError,
    id_number_sha256,
    normalise_id_number,
    normalise_phone,
)
from pydantic import BaseModel, Field
from sqlalchemy import text

from . import codes, verifications
from .face import FaceProviderError, LocalFaceProvider
from .keys import Keys
from .tokens import issue_token

router = APIRouter()


class CodeRequest(BaseModel):
    """Ask for a login code by SMS."""

    phone: str = Field(min_length=11, max_length=20)


class LoginRequest(BaseModel):
    """Log in with the code received."""

    phone: str = Field(min_length=11, max_length=20)
    code: str = Field(pattern=r"^\d{6}$")


class VerificationRequest(BaseModel):
    """Open a face check for one party's action on one agreement."""

    agreement_id: uuid.UUID
    party_role: Literal["lender", "borrower"]
    action: VerificationAction
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=18, max_length=18)


class LocalFaceOutcome(BaseModel):
    """What the person did on the local provider's check page."""

    outcome: Literal["pass", "fail"]
    seen_name: str | None = Field(default=None, max_length=50)
    seen_id_number: str | None = Field(default=None, max_length=18)


def _phone(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except PersonalDataError as exc:
        raise ApiError(
            422,
            "validation_failed",
            exc.message,
            fields=[{"field": "phone", "code": exc.code, "message": exc.message}],
        ) from exc


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    """The public keys that verify session tokens."""
    keys: Keys = request.app.state.keys
    return keys.jwks()


@router.post("/auth/codes", status_code=202)
async def request_code(body: CodeRequest, request: Request) -> dict[str, Any]:
    """Send a one-time login code to a mainland mobile number."""
    phone = _phone(body.phone)
    settings = request.app.state.settings
    async with _runtime(request).engine.begin() as conn:
        ttl = await codes.send_code(conn, settings, request.app.state.keys.pepper, phone)
    return {"sent": True, "expires_in": ttl}


@router.post("/auth/sessions")
async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
    """Exchange a valid code for a session token."""
    phone = _phone(body.phone)
    settings = request.app.state.settings
    keys = request.app.state.keys
    async with _runtime(request).engine.begin() as conn:
        outcome = await codes.redeem_code(conn, settings, keys.pepper, phone, body.code)
        if outcome == "ok":
            account_id = await codes.account_for(conn, phone)
            token = issue_token(
                keys, account_id=account_id, phone=phone, ttl_seconds=settings.token_ttl_seconds
            )
            session = {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": settings.token_ttl_seconds,
                "account_id": account_id,
            }
            # A retry after a lost answer gets this session, not "code already used".
            return await idempotency.answer(conn, request, session)
    if outcome == "locked":
        raise ApiError(429, "code_attempts_exceeded", "验证码错误次数过多，请重新获取")
    raise ApiError(400, "code_invalid", "验证码错误或已失效")


@router.get("/me")
async def me(caller: CurrentCaller) -> dict[str, str]:
    """The logged-in account."""
    return {"account_id": caller.account_id, "phone": caller.phone}


@router.post("/verifications", status_code=201)
async def open_verification(
    body: VerificationRequest, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """Open a face check bound to (agreement, party, action) for the caller."""
    try:
        id_number = normalise_id_number(body.id_number)
    except PersonalDataError as exc:
        raise ApiError(
            422,
            "validation_failed",
            exc.message,
            fields=[{"field": "id_number", "code": exc.code, "message": exc.message}],
        ) from exc
    settings = request.app.state.settings
    try:
        return await _open(request, body, caller, id_number, settings.verification_ttl_seconds)
    except FaceProviderError as exc:
        if exc.transient:
            raise ApiError(
                503, "face_provider_unavailable", "核身服务暂时不可用，请稍后再试"
            ) from exc
        raise ApiError(
            422, "face_check_refused", "核身服务拒绝了该请求，请核对姓名和身份证号"
        ) from exc


async def _open(
    request: Request,
    body: VerificationRequest,
    caller: CurrentCaller,
    id_number: str,
    ttl_seconds: int,
) -> dict[str, Any]:
    async with _runtime(request).engine.begin() as conn:
        opened = await verifications.open_verification(
            conn,
            request.app.state.face_provider,
            agreement_id=str(body.agreement_id),
            party_role=body.party_role,
            action=body.action,
            account_id=caller.account_id,
            name=body.name.strip(),
            id_number=id_number,
            ttl_seconds=ttl_seconds,
        )
        session = {
            "verification_id": opened.verification_id,
            "status": "pending",
            "provider": opened.provider,
            "url": opened.url,
            "expires_at": opened.expires_at.isoformat(),
        }
        return await idempotency.answer(conn, request, session)


async def _owned(conn: Any, verification_id: uuid.UUID, caller: CurrentCaller) -> Any:

    row = (
        await conn.execute(
            text(
                "SELECT id, status, failure_reason, action, agreement_id, party_role,"
                " expires_at, completed_at, provider, account_id"
                " FROM verifications WHERE id = :id"
            ),
            {"id": verification_id},
        )
    ).first()
    if row is None or str(row.account_id) != caller.account_id:
        raise ApiError(404, "verification_not_found", "核身记录不存在")
    return row


def _view(row: Any) -> dict[str, Any]:
    completed: datetime | None = row.completed_at
    return {
        "verification_id": str(row.id),
        "agreement_id": str(row.agreement_id),
        "party_role": row.party_role,
        "action": row.action,
        "status": row.status,
        "failure_reason": row.failure_reason,
        "provider": row.provider,
        "expires_at": row.expires_at.isoformat(),
        "completed_at": completed.isoformat() if completed else None,
    }


@router.get("/verifications/{verification_id}")
async def get_verification(
    verification_id: uuid.UUID, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """A session's status, for the person it belongs to."""
    async with _runtime(request).engine.connect() as conn:
        return _view(await _owned(conn, verification_id, caller))


@router.post("/verifications/{verification_id}/complete")
async def complete(
    verification_id: uuid.UUID, caller: CurrentCaller, request: Request
) -> dict[str, Any]:
    """Ask the provider for the result after the person finished the check."""
    async with _runtime(request).engine.begin() as conn:
        await _owned(conn, verification_id, caller)
        await verifications.complete_verification(
            conn, request.app.state.face_provider, str(verification_id), caller.phone
        )
        return await idempotency.answer(
            conn, request, _view(await _owned(conn, verification_id, caller))
        )


@router.post("/verifications/{verification_id}/local-check")
async def local_check(
    verification_id: uuid.UUID,
    body: LocalFaceOutcome,
    caller: CurrentCaller,
    request: Request,
) -> dict[str, Any]:
    """The local provider's check page: record what the camera "saw", then decide."""
    provider = request.app.state.face_provider
    if not isinstance(provider, LocalFaceProvider):
        raise ApiError(404, "not_found", "本地核身未启用")
    async with _runtime(request).engine.begin() as conn:
        row = await _owned(conn, verification_id, caller)

        expected = (
            await conn.execute(
                text("SELECT expected_name, expected_id_sha256 FROM verifications WHERE id = :id"),
                {"id": verification_id},
            )
        ).one()
        seen_name = body.seen_name.strip() if body.seen_name else expected.expected_name
        seen_id = (
            id_number_sha256(normalise_id_number(body.seen_id_number))
            if body.seen_id_number
            else expected.expected_id_sha256
        )
        if row.status == "pending":
            await provider.record(
                conn,
                str(verification_id),
                outcome=body.outcome,
                seen_name=seen_name,
                seen_id_sha256=seen_id,
            )
        await verifications.complete_verification(
            conn, provider, str(verification_id), caller.phone
        )
        return await idempotency.answer(
            conn, request, _view(await _owned(conn, verification_id, caller))
        )
