"""The public HTTP API for the mini-program and web clients, under ``/api``.

The gateway holds no state of its own: it passes each call to the service that
owns the data, with the caller's token, and each service checks the token itself.
Where one client action needs two services (signing, face checks) the gateway
asks agreements first which party the caller is, so a client cannot choose it.
"""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jietiao_shared.errors import ApiError
from pydantic import BaseModel

from .upstream import Upstreams, relay

router = APIRouter(prefix="/api")


class VerificationStart(BaseModel):
    """Which action the face check is for."""

    action: Literal["sign", "request_void", "confirm_void"]


def _up(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


def _url(request: Request, service: str, path: str) -> str:
    return _up(request).url(service, path)


async def _pass(request: Request, method: str, service: str, path: str) -> Response:
    body = await request.body()
    response = await _up(request).call(
        request,
        method,
        _url(request, service, path),
        content=body or None,
        params=dict(request.query_params),
    )
    return relay(response)


# --- login -----------------------------------------------------------------


@router.post("/auth/codes", tags=["auth"])
async def request_login_code(request: Request) -> Response:
    """Send a one-time login code by SMS: body ``{"phone": "..."}``."""
    return await _pass(request, "POST", "identity", "/auth/codes")


@router.post("/auth/sessions", tags=["auth"])
async def log_in(request: Request) -> Response:
    """Exchange ``{"phone", "code"}`` for a session token."""
    return await _pass(request, "POST", "identity", "/auth/sessions")


@router.post("/auth/wechat/bind", tags=["auth"])
async def bind_wechat(request: Request) -> Response:
    """Bind the mini-program user (``{"code"}`` from wx.login) to the logged-in account."""
    return await _pass(request, "POST", "identity", "/auth/wechat/bind")


@router.post("/auth/wechat/sessions", tags=["auth"])
async def log_in_with_wechat(request: Request) -> Response:
    """Log in from the mini-program with ``{"code"}``, once bound."""
    return await _pass(request, "POST", "identity", "/auth/wechat/sessions")


@router.get("/me", tags=["auth"])
async def who_am_i(request: Request) -> Response:
    """The logged-in account."""
    return await _pass(request, "GET", "identity", "/me")


# --- IOUs ------------------------------------------------------------------


@router.post("/ious", tags=["ious"], status_code=201)
async def create_iou(request: Request) -> Response:
    """Create an IOU as lender or borrower, after accepting the notice."""
    return await _pass(request, "POST", "agreements", "/ious")


@router.post("/ious/quote", tags=["ious"])
async def quote_iou(request: Request) -> Response:
    """The capital-numeral amount and repayment plan of a draft, as the form is typed."""
    return await _pass(request, "POST", "agreements", "/ious/quote")


@router.get("/ious", tags=["ious"])
async def my_folder(request: Request) -> Response:
    """The caller's folder (我的合同), filtered by ``?filter=``."""
    return await _pass(request, "GET", "agreements", "/ious")


@router.get("/ious/{iou_id}", tags=["ious"])
async def get_iou(iou_id: str, request: Request) -> Response:
    """One IOU with its parties, terms, plan, documents and allowed actions."""
    return await _pass(request, "GET", "agreements", f"/ious/{iou_id}")


@router.get("/ious/{iou_id}/audit", tags=["ious"])
async def get_audit_trail(iou_id: str, request: Request) -> Response:
    """The IOU's audit trail."""
    return await _pass(request, "GET", "agreements", f"/ious/{iou_id}/audit")


@router.post("/ious/{iou_id}/withdraw", tags=["ious"])
async def withdraw_iou(iou_id: str, request: Request) -> Response:
    """The initiator withdraws an IOU the other side has not signed."""
    return await _pass(request, "POST", "agreements", f"/ious/{iou_id}/withdraw")


@router.post("/ious/{iou_id}/refuse", tags=["ious"])
async def refuse_iou(iou_id: str, request: Request) -> Response:
    """The counterparty refuses to sign: body ``{"reason"}``."""
    return await _pass(request, "POST", "agreements", f"/ious/{iou_id}/refuse")


@router.put("/ious/{iou_id}/reminders", tags=["ious"])
async def set_reminders(iou_id: str, request: Request) -> Response:
    """Switch repayment reminders: body ``{"enabled": true}``."""
    return await _pass(request, "PUT", "agreements", f"/ious/{iou_id}/reminders")


@router.post("/ious/{iou_id}/void-requests", tags=["voiding"], status_code=201)
async def request_void(iou_id: str, request: Request) -> Response:
    """Ask to void an effective IOU: body ``{"reason"}``; then pass a face check."""
    return await _pass(request, "POST", "agreements", f"/ious/{iou_id}/void-requests")


@router.post("/ious/{iou_id}/void-requests/{void_id}/{answer}", tags=["voiding"])
async def answer_void(
    iou_id: str,
    void_id: str,
    answer: Literal["cancel", "confirm", "refuse"],
    request: Request,
) -> Response:
    """Cancel (requester), confirm or refuse (other party) a void request."""
    path = f"/ious/{iou_id}/void-requests/{void_id}/{answer}"
    return await _pass(request, "POST", "agreements", path)


# --- signatures and face checks ---------------------------------------------


async def _my_party(request: Request, iou_id: str) -> dict[str, Any]:
    up = _up(request)
    response = await up.call(request, "GET", _url(request, "agreements", f"/ious/{iou_id}/party"))
    party: dict[str, Any] = await up.json_or_raise(response)
    return party


@router.post("/ious/{iou_id}/signatures", tags=["signing"], status_code=201)
async def sign(iou_id: str, request: Request) -> Response:
    """Hand-sign the document version shown: ``{"document_sha256", "signature"}``."""
    party = await _my_party(request, iou_id)
    if "sign" not in party["actions"]:
        raise ApiError(
            409,
            "status_conflict",
            "借条当前状态不能签署",
            extra={"status": party["status"]},
        )
    body = await request.json()
    payload = {
        "agreement_id": iou_id,
        "party_role": party["role"],
        "document_sha256": body.get("document_sha256") if isinstance(body, dict) else None,
        "signature": body.get("signature") if isinstance(body, dict) else None,
    }
    response = await _up(request).call(
        request, "POST", _url(request, "signing", "/signatures"), json=payload
    )
    return relay(response)


@router.post("/ious/{iou_id}/verifications", tags=["verification"], status_code=201)
async def start_verification(iou_id: str, body: VerificationStart, request: Request) -> Response:
    """Open a face check for the caller's party and one action on this IOU."""
    party = await _my_party(request, iou_id)
    payload = {
        "agreement_id": iou_id,
        "party_role": party["role"],
        "action": body.action,
        "name": party["name"],
        "id_number": party["id_number"],
    }
    response = await _up(request).call(
        request, "POST", _url(request, "identity", "/verifications"), json=payload
    )
    return relay(response)


@router.get("/verifications/{verification_id}", tags=["verification"])
async def get_verification(verification_id: str, request: Request) -> Response:
    """A face check's status."""
    return await _pass(request, "GET", "identity", f"/verifications/{verification_id}")


@router.post("/verifications/{verification_id}/complete", tags=["verification"])
async def complete_verification(verification_id: str, request: Request) -> Response:
    """Fetch the provider's result after the person finished the check."""
    return await _pass(request, "POST", "identity", f"/verifications/{verification_id}/complete")


@router.post("/verifications/{verification_id}/local-check", tags=["verification"])
async def local_face_check(verification_id: str, request: Request) -> Response:
    """The local provider's check (embedded stack): ``{"outcome": "pass"|"fail"}``."""
    path = f"/verifications/{verification_id}/local-check"
    return await _pass(request, "POST", "identity", path)


# --- documents and links -----------------------------------------------------


@router.get("/ious/{iou_id}/documents", tags=["documents"])
async def list_documents(iou_id: str, request: Request) -> Response:
    """The IOU's rendered documents."""
    return await _pass(request, "GET", "documents", f"/documents/{iou_id}")


@router.get("/ious/{iou_id}/documents/{kind}", tags=["documents"])
async def download_document(
    iou_id: str, kind: Literal["preview", "signed", "voided"], request: Request
) -> Response:
    """Download the latest PDF of one kind."""
    return await _pass(request, "GET", "documents", f"/documents/{iou_id}/{kind}")


@router.get("/ious/{iou_id}/share-links", tags=["links"])
async def share_links(iou_id: str, request: Request) -> Response:
    """The live share links of an IOU (发送给对方)."""
    response = await _up(request).call(
        request,
        "GET",
        _url(request, "notify", "/share-links"),
        params={"agreement_id": iou_id},
    )
    return relay(response)


@router.get("/share/{token}/qr.png", tags=["links"])
async def share_link_qr(token: str, request: Request) -> Response:
    """A QR code (PNG) for a share link."""
    return await _pass(request, "GET", "notify", f"/share-links/{token}/qr.png")


@router.get("/share/{token}", tags=["links"])
async def open_share_link(token: str, request: Request) -> Response:
    """What a share link points at; nothing about the IOU itself."""
    return await _pass(request, "GET", "notify", f"/share-links/{token}")


# --- operators ---------------------------------------------------------------


@router.get("/ops/sms", tags=["operators"])
async def recorded_sms(request: Request) -> Response:
    """SMS recorded by the local provider (operator token required)."""
    return await _pass(request, "GET", "notify", "/ops/sms")


@router.get("/ops/reminders", tags=["operators"])
async def reminder_schedule(request: Request) -> Response:
    """Repayment reminders and their status (operator token required)."""
    return await _pass(request, "GET", "notify", "/ops/reminders")
