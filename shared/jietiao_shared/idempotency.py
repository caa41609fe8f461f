"""``Idempotency-Key`` for POSTs: a retried request gets the first answer again.

The key is scoped by the caller (the account its verified token names, so a retry
after logging in again or with the header written differently still finds it; no
account for a request without ``Authorization``), the method and the path, so one
person's key never answers another's request. A request whose token does not
verify is passed on untouched, for the route to answer 401.
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

Stored answers are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from
the same caller, path and key as the scope; the table holds only the scope's
SHA-256, so an answer that carries a session token (a login) cannot be read from
the database without the key the client chose.
"""

import hashlib
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .auth import bearer_token
from .errors import ApiError

HEADER = "idempotency-key"
STALE_CLAIM_SECONDS = 30.0
"""A claim without an answer this old belongs to a process that died: take it over."""
MAX_KEY_LENGTH = 200
MIN_KEY_LENGTH = 16
"""Shorter keys are refused: the key is part of what seals the answer (a UUID is fine)."""

T = TypeVar("T")

CallNext = Callable[[Request], Awaitable[Response]]


async def _principal(request: Request) -> str | None:
    """Whose request this is: ``account:<id>`` of a verified token, ``""`` without
    an Authorization header, None when the header is there but does not verify."""
    header = request.headers.get("authorization")
    if not header:
        return ""
    try:
        caller = await request.app.state.verifier.verify(bearer_token(header))
    except ApiError:
        return None
    request.state.caller = caller  # the route's current_caller takes it from here
    return f"account:{caller.account_id}"


def _scope(request: Request, principal: str, key: str) -> tuple[str, bytes]:
    """The row's key, and the key that seals its answer (never stored)."""
    raw = "\n".join([principal, request.method, request.url.path, key]).encode()
    sealing_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"jietiao idempotency answer", info=b"v1"
    ).derive(raw)
    return hashlib.sha256(raw).hexdigest(), sealing_key


def _seal(sealing_key: bytes, scope: str, body: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(sealing_key).encrypt(nonce, body, scope.encode())


def _unseal(sealing_key: bytes, scope: str, blob: bytes) -> bytes:
    return AESGCM(sealing_key).decrypt(blob[:12], blob[12:], scope.encode())


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
                    "SELECT request_hash, status_code, body, sealed_body, content_type"
                    " FROM idempotency_keys WHERE scope = :s"
                ),
                {"s": scope},
            )
        ).one()


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def _replay(previous: Any, request_hash: str, scope: str, sealing_key: bytes) -> Response:
    if previous.request_hash != request_hash:
        return _error(
            ApiError(422, "idempotency_key_reused", "同一个请求标识不能用于不同的请求内容")
        )
    if previous.status_code is None:
        return _error(ApiError(409, "request_in_progress", "相同的请求正在处理中，请稍候"))
    if previous.sealed_body is not None:
        body = _unseal(sealing_key, scope, bytes(previous.sealed_body))
    else:  # written before answers were sealed
        body = bytes(previous.body or b"")
    return Response(
        body,
        status_code=previous.status_code,
        media_type=previous.content_type,
        headers={"idempotent-replayed": "true"},
    )


_RECORD = text(
    "UPDATE idempotency_keys SET status_code = :c, sealed_body = :b, content_type = :t,"
    " completed_at = now() WHERE scope = :s AND status_code IS NULL"
)


async def _store(
    engine: AsyncEngine, scope: str, sealing_key: bytes, response: Response, body: bytes
) -> None:
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
                "b": _seal(sealing_key, scope, body),
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
    sealing_key: bytes | None = getattr(request.state, "idempotency_sealing_key", None)
    if scope is None or sealing_key is None:
        return result
    route = request.scope.get("route")
    status = getattr(route, "status_code", None) or 200
    rendered = JSONResponse(jsonable_encoder(result), status_code=status)
    await conn.execute(
        _RECORD,
        {
            "c": status,
            "b": _seal(sealing_key, scope, bytes(rendered.body)),
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
    if len(key.strip()) < MIN_KEY_LENGTH or len(key) > MAX_KEY_LENGTH:
        return _error(ApiError(400, "idempotency_key_invalid", "请求标识无效（16 至 200 个字符）"))
    principal = await _principal(request)
    if principal is None:
        return await call_next(request)
    engine: AsyncEngine = request.app.state.runtime.engine
    scope, sealing_key = _scope(request, principal, key)
    request_hash = hashlib.sha256(await request.body()).hexdigest()
    previous = await _claim(engine, scope, request_hash)
    if previous is not None:
        return _replay(previous, request_hash, scope, sealing_key)
    request.state.idempotency_scope = scope
    request.state.idempotency_sealing_key = sealing_key
    try:
        response = await call_next(request)
    except BaseException:
        await _store(engine, scope, sealing_key, Response(status_code=500), b"")
        raise
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    await _store(engine, scope, sealing_key, response, body)
    return Response(
        body,
        status_code=response.status_code,
        headers=dict(response.headers),
        media_type=response.media_type,
    )
