"""HTTP entrypoints of the signing service."""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from jietiao_shared import idempotency, outbox
from jietiao_shared.auth import CurrentCaller
from jietiao_shared.contracts import SignatureCaptured, Subject
from jietiao_shared.errors import ApiError
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .strokes import (
    SignatureInput,
    SignatureRejected,
    render_png,
    strokes_sha256,
    validate_signature,
)

router = APIRouter(tags=["signatures"])

SHA256_HEX = r"^[0-9a-f]{64}$"


class CaptureSignature(BaseModel):
    """A handwritten signature on one version of one agreement's document."""

    agreement_id: uuid.UUID
    party_role: Literal["lender", "borrower"]
    document_sha256: str = Field(pattern=SHA256_HEX)
    signature: SignatureInput


class CapturedSignature(BaseModel):
    """What the signer gets back: ids and hashes to check the evidence later."""

    signature_id: str
    strokes_sha256: str
    png_sha256: str
    signed_at: datetime


@router.post("/signatures", status_code=201, response_model=CapturedSignature)
async def capture_signature(
    body: CaptureSignature,
    caller: CurrentCaller,
    request: Request,
    user_agent: Annotated[str, Header()] = "",
    x_client_ip: Annotated[str | None, Header()] = None,
) -> CapturedSignature:
    """Validate the strokes, render the PNG here, store both and announce them."""
    raw_size = len(json.dumps(body.signature.model_dump(mode="json")))
    if raw_size > 256 * 1024:
        raise ApiError(413, "signature_too_large", "签名数据过大")
    try:
        validate_signature(body.signature)
    except SignatureRejected as exc:
        raise ApiError(
            422,
            "signature_rejected",
            exc.message,
            fields=[
                {
                    "field": f"signature.{exc.field}",
                    "code": exc.code,
                    "message": exc.message,
                }
            ],
        ) from exc
    png = render_png(body.signature)
    png_sha = hashlib.sha256(png).hexdigest()
    strokes_sha = strokes_sha256(body.signature)
    client_ip = x_client_ip or (request.client.host if request.client else "")

    engine = request.app.state.runtime.engine
    async with engine.begin() as conn:
        signature_id = uuid.uuid4()
        signed_at = datetime.now(UTC)
        inserted = await conn.execute(
            text(
                "INSERT INTO signatures (id, agreement_id, party_role, account_id,"
                " document_sha256, strokes, strokes_sha256, png, png_sha256,"
                " user_agent, client_ip, signed_at) VALUES (:id, :a, :p, :acc, :d,"
                " CAST(:strokes AS jsonb), :ss, :png, :ps, :ua, :ip, :at)"
                " ON CONFLICT (agreement_id, party_role, document_sha256, strokes_sha256)"
                " DO NOTHING"
            ),
            {
                "id": signature_id,
                "a": body.agreement_id,
                "p": body.party_role,
                "acc": caller.account_id,
                "d": body.document_sha256,
                "strokes": body.signature.model_dump_json(),
                "ss": strokes_sha,
                "png": png,
                "ps": png_sha,
                "ua": user_agent[:500],
                "ip": client_ip,
                "at": signed_at,
            },
        )
        if inserted.rowcount == 0:
            return await _already_captured(conn, body, strokes_sha, png_sha)
        await outbox.add(
            conn,
            Subject.SIGNATURE_CAPTURED,
            SignatureCaptured(
                signature_id=str(signature_id),
                agreement_id=str(body.agreement_id),
                party_role=body.party_role,
                account_id=caller.account_id,
                account_phone=caller.phone,
                document_sha256=body.document_sha256,
                strokes_sha256=strokes_sha,
                png_sha256=png_sha,
                png_base64=base64.b64encode(png).decode(),
                signed_at=signed_at,
                user_agent=user_agent[:500],
                client_ip=client_ip,
            ),
            correlation_id=str(body.agreement_id),
        )
        captured = CapturedSignature(
            signature_id=str(signature_id),
            strokes_sha256=strokes_sha,
            png_sha256=png_sha,
            signed_at=signed_at,
        )
        return await idempotency.answer(conn, request, captured)


async def _already_captured(
    conn: AsyncConnection, body: CaptureSignature, strokes_sha: str, png_sha: str
) -> CapturedSignature:
    """The signature stored for the same strokes on the same document (a double tap)."""
    existing = (
        await conn.execute(
            text(
                "SELECT id, signed_at FROM signatures WHERE agreement_id = :a"
                " AND party_role = :p AND document_sha256 = :d AND strokes_sha256 = :s"
            ),
            {
                "a": body.agreement_id,
                "p": body.party_role,
                "d": body.document_sha256,
                "s": strokes_sha,
            },
        )
    ).one()
    return CapturedSignature(
        signature_id=str(existing.id),
        strokes_sha256=strokes_sha,
        png_sha256=png_sha,
        signed_at=existing.signed_at,
    )


@router.get("/signatures/{signature_id}.png")
async def signature_png(
    signature_id: uuid.UUID, caller: CurrentCaller, request: Request
) -> Response:
    """The rendered PNG, for the person who signed it."""
    engine = request.app.state.runtime.engine
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT png, account_id FROM signatures WHERE id = :id"),
                {"id": signature_id},
            )
        ).first()
    if row is None or row.account_id != caller.account_id:
        raise ApiError(404, "not_found", "签名不存在")
    return Response(bytes(row.png), media_type="image/png")
