"""HTTP entrypoints of the documents service: list and download an IOU's documents.

Only a reader of a document (a phone the render command named) learns anything
about it. Everyone else gets the same 404 as when nothing is rendered yet.
Every download is recorded (account, time, kind, version, SHA-256) in the same
transaction that reads the PDF, and the parties can list those records.
"""

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from jietiao_shared.auth import CurrentCaller
from jietiao_shared.contracts import DocumentKind
from jietiao_shared.errors import ApiError
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

router = APIRouter(prefix="/documents", tags=["documents"])

AgreementId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class DocumentSummary(BaseModel):
    """One stored document version, as a reader sees it."""

    kind: DocumentKind
    version: int
    sha256: str
    size: int
    rendered_at: datetime
    superseded: bool


class DownloadRecord(BaseModel):
    """One recorded download of a document version."""

    account_id: str
    by_me: bool
    downloaded_at: datetime
    kind: DocumentKind
    version: int
    sha256: str


def not_ready() -> ApiError:
    """The one answer for 'not rendered yet' and 'not yours'."""
    return ApiError(404, "document_not_ready", "文件尚未生成")


def _engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.runtime.engine
    return engine


def attachment_name(agreement_id: str, kind: str) -> str:
    """An ASCII file name such as ``iou-<id>-signed.pdf``."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "", agreement_id)
    return f"iou-{safe}-{kind}.pdf"


@router.get("/{agreement_id}", response_model=list[DocumentSummary])
async def list_documents(
    agreement_id: AgreementId, caller: CurrentCaller, request: Request
) -> list[DocumentSummary]:
    """Every document version of an agreement the caller may read; 404 if none."""
    async with _engine(request).connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT kind, version, sha256, size, rendered_at,"
                " superseded_at IS NOT NULL AS superseded FROM documents"
                " WHERE agreement_id = :a AND :phone = ANY(readers)"
                " ORDER BY kind, version"
            ),
            {"a": agreement_id, "phone": caller.phone},
        )
        documents = [DocumentSummary.model_validate(row._mapping) for row in rows]
    if not documents:
        raise not_ready()
    return documents


@router.get("/{agreement_id}/downloads", response_model=list[DownloadRecord])
async def list_downloads(
    agreement_id: AgreementId, caller: CurrentCaller, request: Request
) -> list[DownloadRecord]:
    """Who downloaded which document version of an agreement, oldest first.

    Only for a reader of one of the agreement's documents; 404 otherwise.
    """
    async with _engine(request).connect() as conn:
        reader = (
            await conn.execute(
                text(
                    "SELECT 1 FROM documents WHERE agreement_id = :a"
                    " AND :phone = ANY(readers) LIMIT 1"
                ),
                {"a": agreement_id, "phone": caller.phone},
            )
        ).first()
        if reader is None:
            raise not_ready()
        rows = await conn.execute(
            text(
                "SELECT account_id, account_id = :me AS by_me, downloaded_at, kind,"
                " version, sha256 FROM document_downloads WHERE agreement_id = :a"
                " ORDER BY downloaded_at, id"
            ),
            {"a": agreement_id, "me": caller.account_id},
        )
        return [DownloadRecord.model_validate(row._mapping) for row in rows]


@router.get("/{agreement_id}/{kind}", response_class=Response)
async def download_document(
    agreement_id: AgreementId,
    kind: DocumentKind,
    caller: CurrentCaller,
    request: Request,
) -> Response:
    """The latest version of one kind as a PDF attachment, for its readers only."""
    async with _engine(request).begin() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT version, sha256, pdf, superseded FROM ("
                    " SELECT version, sha256, pdf, readers,"
                    "  superseded_at IS NOT NULL AS superseded FROM documents"
                    "  WHERE agreement_id = :a AND kind = :k"
                    "  ORDER BY version DESC LIMIT 1) latest"
                    " WHERE :phone = ANY(readers)"
                ),
                {"a": agreement_id, "k": kind, "phone": caller.phone},
            )
        ).first()
        if row is None:
            raise not_ready()
        await conn.execute(
            text(
                "INSERT INTO document_downloads (agreement_id, kind, version, sha256,"
                " account_id) VALUES (:a, :k, :v, :sha, :who)"
            ),
            {
                "a": agreement_id,
                "k": kind,
                "v": row.version,
                "sha": row.sha256,
                "who": caller.account_id,
            },
        )
    headers = {
        "Content-Disposition": (f'attachment; filename="{attachment_name(agreement_id, kind)}"'),
        "X-Document-SHA256": row.sha256,
        "X-Document-Version": str(row.version),
        "X-Document-Superseded": "true" if row.superseded else "false",
        "Cache-Control": "private, no-store",
    }
    return Response(bytes(row.pdf), media_type="application/pdf", headers=headers)
