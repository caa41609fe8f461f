"""Session tokens: only identity's key, algorithm, audience and lifetime are accepted."""

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jietiao_shared.auth import JwksVerifier
from jietiao_shared.errors import ApiError
from jietiao_stack.testing import TestTokenIssuer

pytestmark = pytest.mark.asyncio(loop_scope="module")


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": "jietiao-identity", "aud": "jietiao", "sub": str(uuid.uuid4()),
        "phone": "+8613800138000", "iat": now, "exp": now + 600,
    }  # fmt: skip
    base.update(changes)
    return base


async def refused(verifier: JwksVerifier, token: str) -> str:
    with pytest.raises(ApiError) as error:
        await verifier.verify(token)
    assert error.value.status == 401
    return error.value.code


async def test_a_token_from_identity_names_its_account(token_issuer: TestTokenIssuer) -> None:
    caller = await JwksVerifier(token_issuer.jwks_url).verify(token_issuer.token("+8613800138000"))
    assert caller.phone == "+8613800138000"


async def test_a_token_signed_with_another_key_under_the_same_kid_is_refused(
    token_issuer: TestTokenIssuer,
) -> None:
    forged = jwt.encode(
        claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA",
        headers={"kid": token_issuer.kid},
    )  # fmt: skip
    assert await refused(JwksVerifier(token_issuer.jwks_url), forged) == "invalid_token"


async def test_an_unsigned_token_is_refused(token_issuer: TestTokenIssuer) -> None:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'kid': token_issuer.kid})}.{part(claims())}."
    assert await refused(JwksVerifier(token_issuer.jwks_url), unsigned) == "invalid_token"


async def test_an_expired_token_or_one_for_another_audience_is_refused(
    token_issuer: TestTokenIssuer,
) -> None:
    verifier = JwksVerifier(token_issuer.jwks_url)
    sign = lambda c: jwt.encode(  # noqa: E731
        c, token_issuer.key, algorithm="EdDSA", headers={"kid": token_issuer.kid}
    )
    assert await refused(verifier, sign(claims(exp=int(time.time()) - 5))) == "token_expired"
    assert await refused(verifier, sign(claims(aud="someone-else"))) == "invalid_token"
    assert await refused(verifier, "not-a-token") == "invalid_token"
