"""``Idempotency-Key`` for POSTs: a retried request gets the first answer again.

The key is scoped by the caller's credentials (a hash of the Authorization header),
the method and the path, so one person's key never answers another's request.
The first request claims the key; a concurrent duplicate gets 409 while the first
is running; a later one with the same body gets the stored answer, with a different
body a 422. Answers of 5xx are not kept, so a failed request can be retried.

A handler whose effect is a database transaction records its answer inside that
same transaction with :func:`answer`, so the effect and the answer commit together:
a process killed right after the commit still leaves the answer for the retry,
which therefore never runs the effect a second time (and never meets the 409 the
first run's new state would give it). For handlers that do not, the middleware
stores the answer after the request, and a retry after a crash between the two
runs the request again once the claim goes stale.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .errors import ApiError

HEADER = "idempotency-key"
STALE_CLAIM_SECONDS = 30.0
"""A claim without an answer this old belongs to a process that died: take it over."""
MAX_KEY_LENGTH = 200

T = TypeVar("T")

CallNext = Callable[[Request], Awaitable[Response]]


def _scope(request: Request, key: str) -> str:
    credentials = request.headers.get("authorization", "")
    raw = "\n".join([credentials, request.method, request.url.path, key])
    return hashlib.sha256(raw.encode()).hexdigest()


async def _claim(engine: AsyncEngine, scope: str, request_hash: str) -> Any:
    async with engine.begin() as conn:
        claimed = await conn.execute(
            text(
                "INSERT INTO idempotency_keys (scope, request_hash) VALUES (:s, :h)"
                " ON CONFLICT (scope) DO UPDATE SET created_at = now()"
                " WHERE idempotency_keys.status_code IS NULL"
                " AND idempotency_keys.request_hash = EXCLUDED.request_hash"
                " AND idempotency_keys.created_at < now() - make_interval(secs => :stale)"
            ),
            {"s": scope, "h": request_hash, "stale": STALE_CLAIM_SECONDS},
        )
        if claimed.rowcount == 1:
            return None
        return (
            await conn.execute(
                text(
                    "SELECT request_hash, status_code, body, content_type"
                    " FROM idempotency_keys WHERE scope = :s"
                ),
                {"s": scope},
            )
        ).one()


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def _replay(previous: Any, request_hash: str) -> Response:
    if previous.request_hash != request_hash:
        return _error(
            ApiError(422, "idempotency_key_reused", "同一个请求标识不能用于不同的请求内容")
        )
    if previous.status_code is None:
        return _error(ApiError(409, "request_in_progress", "相同的请求正在处理中，请稍候"))
    return Response(
        bytes(previous.body),
        status_code=previous.status_code,
        media_type=previous.content_type,
        headers={"idempotent-replayed": "true"},
    )


_RECORD = text(
    "UPDATE idempotency_keys SET status_code = :c, body = :b, content_type = :t,"
    " completed_at = now() WHERE scope = :s AND status_code IS NULL"
)


async def _store(engine: AsyncEngine, scope: str, response: Response, body: bytes) -> None:
    """Keep the answer unless the handler already recorded it with its effect."""
    async with engine.begin() as conn:
        if response.status_code >= 500:
            await conn.execute(
                text("DELETE FROM idempotency_keys WHERE scope = :s AND status_code IS NULL"),
                {"s": scope},
            )
            return
        await conn.execute(
            _RECORD,
            {
                "c": response.status_code,
                "b": body,
                "t": response.headers.get("content-type"),
                "s": scope,
            },
        )


async def answer(conn: AsyncConnection, request: Request, result: T) -> T:
    """Record ``result`` as the answer to this request inside the effect's transaction.

    Call it as the last step in the handler's transaction, with what the handler
    returns; it does nothing when the request carries no ``Idempotency-Key``. The
    answer is rendered as FastAPI renders a JSON return value, with the route's
    status code.
    """
    scope: str | None = getattr(request.state, "idempotency_scope", None)
    if scope is None:
        return result
    route = request.scope.get("route")
    status = getattr(route, "status_code", None) or 200
    rendered = JSONResponse(jsonable_encoder(result), status_code=status)
    await conn.execute(
        _RECORD,
        {
            "c": status,
            "b": bytes(rendered.body),
            "t": rendered.headers.get("content-type"),
            "s": scope,
        },
    )
    return result


async def middleware(request: Request, call_next: CallNext) -> Response:
    """Apply ``Idempotency-Key`` to POST requests that carry one."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return await call_next(request)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        return _error(ApiError(400, "idempotency_key_invalid", "请求标识无效"))
    engine: AsyncEngine = request.app.state.runtime.engine
    scope = _scope(request, key)
    request_hash = hashlib.sha256(await request.body()).hexdigest()
    previous = await _claim(engine, scope, request_hash)
    if previous is not None:
        return _replay(previous, request_hash)
    request.state.idempotency_scope = scope
    try:
        response = await call_next(request)
    except BaseException:
        await _store(engine, scope, Response(status_code=500), b"")
        raise
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    await _store(engine, scope, response, body)
    return Response(
        body,
        status_code=response.status_code,
        headers=dict(response.headers),
        media_type=response.media_type,
    )
