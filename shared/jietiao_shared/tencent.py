"""Tencent Cloud API 3.0: TC3-HMAC-SHA256 request signing and a small async client.

The signer is a pure function of the request (checked against the public worked
example in ``shared/design/PROVIDERS.md``). The client posts JSON to
``https://{host}/`` unless an endpoint is configured (tests use a local fake).
Secrets never appear in a repr, a log line or an exception message.
"""

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

ALGORITHM = "TC3-HMAC-SHA256"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host;x-tc-action"


@dataclass(frozen=True)
class TencentCredentials:
    """A SecretId/SecretKey pair; the key never shows in a repr."""

    secret_id: str
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:
        shown = self.secret_id[:4] + "***" if self.secret_id else ""
        return f"TencentCredentials(secret_id={shown!r})"

    def __bool__(self) -> bool:
        return bool(self.secret_id and self.secret_key)


@dataclass(frozen=True)
class Tc3Signature:
    """Every intermediate value of one signature, and the headers to send."""

    payload_hash: str
    canonical_request: str
    canonical_request_hash: str
    string_to_sign: str
    signature: str
    headers: dict[str, str]


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign_tc3(
    *,
    credentials: TencentCredentials,
    host: str,
    service: str,
    action: str,
    version: str,
    timestamp: int,
    body: bytes,
    region: str = "",
    content_type: str = JSON_CONTENT_TYPE,
    method: str = "POST",
) -> Tc3Signature:
    """Sign one request with TC3-HMAC-SHA256; the date is the UTC date of ``timestamp``."""
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_headers = (
        f"content-type:{content_type.lower()}\nhost:{host.lower()}\nx-tc-action:{action.lower()}\n"
    )
    canonical_request = "\n".join(
        [method.upper(), "/", "", canonical_headers, SIGNED_HEADERS, payload_hash]
    )
    canonical_request_hash = hashlib.sha256(canonical_request.encode()).hexdigest()
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join([ALGORITHM, str(timestamp), scope, canonical_request_hash])
    key = _hmac(("TC3" + credentials.secret_key).encode(), day)
    key = _hmac(_hmac(key, service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Authorization": (
            f"{ALGORITHM} Credential={credentials.secret_id}/{scope},"
            f" SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
        ),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
    }
    if region:
        headers["X-TC-Region"] = region
    return Tc3Signature(
        payload_hash,
        canonical_request,
        canonical_request_hash,
        string_to_sign,
        signature,
        headers,
    )


class TencentError(Exception):
    """A call did not produce a usable answer; ``transient`` says whether to try again."""

    def __init__(self, code: str, message: str = "", *, transient: bool) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.transient = transient


class TencentApiError(TencentError):
    """The API answered with ``Response.Error`` (for example ``AuthFailure.*``)."""

    def __init__(self, code: str, message: str, request_id: str) -> None:
        super().__init__(code, message, transient=is_transient_api_error(code))
        self.request_id = request_id


def is_transient_api_error(code: str) -> bool:
    """Whether an API-level error code may go away on its own."""
    return code.startswith("InternalError") or code in {
        "RequestLimitExceeded",
        "ResourceUnavailable",
        "ServiceUnavailable",
    }


class TencentClient:
    """Posts signed JSON calls of one service; one instance per service and version."""

    def __init__(
        self,
        credentials: TencentCredentials,
        *,
        service: str,
        host: str,
        version: str,
        region: str = "",
        endpoint: str = "",
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        self.service = service
        self.host = host
        self.version = version
        self.region = region
        self.endpoint = endpoint or f"https://{host}/"
        self.clock = clock
        self._http = httpx.AsyncClient(timeout=timeout_seconds, transport=transport)

    def __repr__(self) -> str:
        return f"TencentClient(service={self.service!r}, endpoint={self.endpoint!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call ``action`` and return its ``Response`` object; raise :class:`TencentError`."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        signed = sign_tc3(
            credentials=self.credentials,
            host=self.host,
            service=self.service,
            action=action,
            version=self.version,
            region=self.region,
            timestamp=int(self.clock()),
            body=body,
        )
        try:
            answer = await self._http.post(self.endpoint, content=body, headers=signed.headers)
        except httpx.TimeoutException:
            raise TencentError("Timeout", action, transient=True) from None
        except httpx.TransportError as exc:
            raise TencentError("NetworkError", type(exc).__name__, transient=True) from None
        if answer.status_code >= 500:
            raise TencentError(f"HTTP{answer.status_code}", action, transient=True)
        return _response(answer, action)


def _response(answer: httpx.Response, action: str) -> dict[str, Any]:
    """The ``Response`` object of an answer, or the error it carries."""
    try:
        document = answer.json()
        response = document["Response"]
        if not isinstance(response, dict):
            raise TypeError("Response is not an object")
    except (ValueError, KeyError, TypeError):
        raise TencentError(
            "MalformedResponse", f"{action} HTTP {answer.status_code}", transient=True
        ) from None
    error = response.get("Error")
    if isinstance(error, dict):
        raise TencentApiError(
            str(error.get("Code", "UnknownError")),
            str(error.get("Message", ""))[:200],
            str(response.get("RequestId", "")),
        )
    if answer.status_code != 200:
        raise TencentError(f"HTTP{answer.status_code}", action, transient=False)
    return response
