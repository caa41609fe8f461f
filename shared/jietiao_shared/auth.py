"""Session tokens: every service verifies EdDSA JWTs itself with identity's key set.

No secret is shared between services: identity signs with its private Ed25519 key
and publishes the public keys at ``/.well-known/jwks.json``; the others fetch and
cache that set, refetching when a token names a key they have not seen.
"""

import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Header, Request

from .errors import ApiError

ISSUER = "jietiao-identity"
AUDIENCE = "jietiao"


@dataclass(frozen=True)
class Caller:
    """The person behind a verified session token."""

    account_id: str
    phone: str
    token: str


class JwksVerifier:
    """Verifies tokens against a cached JSON Web Key Set."""

    def __init__(self, jwks_url: str, *, ttl_seconds: float = 300.0) -> None:
        self.jwks_url = jwks_url
        self.ttl_seconds = ttl_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0

    async def _refresh(self) -> None:
        body = await self._fetch()
        keys = jwt.PyJWKSet.from_dict(body).keys
        self._keys = {k.key_id: k for k in keys if k.key_id}
        self._fetched_at = time.monotonic()

    async def _fetch(self) -> Any:
        """The key set from the first replica of identity that answers."""
        urls = [u.strip() for u in self.jwks_url.split(",") if u.strip()]
        async with httpx.AsyncClient(timeout=5.0) as client:
            for url in urls:
                try:
                    response = await client.get(url)
                    response.raise_for_status()
                    return response.json()
                except httpx.HTTPError:
                    if url == urls[-1]:
                        raise
        return {"keys": []}

    async def _key_for(self, kid: str) -> Any:
        stale = time.monotonic() - self._fetched_at > self.ttl_seconds
        if stale or kid not in self._keys:
            await self._refresh()
        if kid not in self._keys:
            raise ApiError(401, "unknown_key", "登录凭证无效，请重新登录")
        return self._keys[kid]

    async def verify(self, token: str) -> Caller:
        """The caller named by a valid token; 401 otherwise."""
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
        except jwt.PyJWTError as exc:
            raise ApiError(401, "invalid_token", "登录凭证无效，请重新登录") from exc
        key = await self._key_for(str(kid))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ApiError(401, "token_expired", "登录已过期，请重新登录") from exc
        except jwt.PyJWTError as exc:
            raise ApiError(401, "invalid_token", "登录凭证无效，请重新登录") from exc
        return Caller(account_id=claims["sub"], phone=claims["phone"], token=token)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; 401 when absent."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "not_logged_in", "请先登录")
    return authorization.split(" ", 1)[1].strip()


async def current_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    """FastAPI dependency: the verified caller of this request (verified once: the
    idempotency middleware may have done it already)."""
    token = bearer_token(authorization)
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None and known.token == token:
        return known
    verifier: JwksVerifier = request.app.state.verifier
    caller = await verifier.verify(token)
    request.state.caller = caller
    return caller


async def require_operator(
    request: Request, x_operator_token: Annotated[str | None, Header()] = None
) -> None:
    """FastAPI dependency: only an operator holding the configured token passes."""
    expected: str = request.app.state.settings.operator_token
    if not expected or not x_operator_token:
        raise ApiError(403, "operator_only", "仅限运维人员")
    if not hmac.compare_digest(expected.encode(), x_operator_token.encode()):
        raise ApiError(403, "operator_only", "仅限运维人员")


CurrentCaller = Annotated[Caller, Depends(current_caller)]
Operator = Depends(require_operator)
