"""The identity service's keys, made on first start and kept in its database."""

import base64
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Keys:
    """The active token-signing key and the pepper for code hashes."""

    kid: str
    signing_key: Ed25519PrivateKey
    pepper: bytes

    def jwks(self) -> dict[str, Any]:
        """The public key set other services verify tokens with."""
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": x,
                    "kid": self.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                }
            ]
        }


async def _active(engine: AsyncEngine, purpose: str) -> tuple[str, bytes] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT kid, secret FROM keys WHERE purpose = :p AND retired_at IS NULL"
                    " ORDER BY created_at DESC LIMIT 1"
                ),
                {"p": purpose},
            )
        ).first()
    return (row.kid, bytes(row.secret)) if row else None


async def _create(engine: AsyncEngine, purpose: str, secret: bytes) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        exists = await conn.scalar(
            text("SELECT 1 FROM keys WHERE purpose = :p AND retired_at IS NULL"),
            {"p": purpose},
        )
        if not exists:
            await conn.execute(
                text("INSERT INTO keys (kid, purpose, secret) VALUES (:k, :p, :s)"),
                {"k": uuid.uuid4().hex[:16], "p": purpose, "s": secret},
            )


async def load_keys(engine: AsyncEngine) -> Keys:
    """The service's keys; created once, shared by every replica."""
    if await _active(engine, "token_signing") is None:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        await _create(engine, "token_signing", pem)
    if await _active(engine, "code_pepper") is None:
        await _create(engine, "code_pepper", secrets.token_bytes(32))
    signing = await _active(engine, "token_signing")
    pepper = await _active(engine, "code_pepper")
    assert signing is not None and pepper is not None
    key = serialization.load_pem_private_key(signing[1], password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return Keys(kid=signing[0], signing_key=key, pepper=pepper[1])
