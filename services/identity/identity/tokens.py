"""Session tokens: short EdDSA JWTs naming the account and its verified phone."""

import time

import jwt
from jietiao_shared.auth import AUDIENCE, ISSUER

from .keys import Keys


def issue_token(keys: Keys, *, account_id: str, phone: str, ttl_seconds: int) -> str:
    """A signed session token for one account."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": account_id,
        "phone": phone,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, keys.signing_key, algorithm="EdDSA", headers={"kid": keys.kid})
