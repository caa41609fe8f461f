"""A FAKE Tencent Cloud SMS server for tests: never a real provider.

It listens on 127.0.0.1, checks each request's TC3-HMAC-SHA256 signature with the
credentials it was given, and answers ``SendSms`` (2021-01-11) the way the
provider documents it: one ``SendStatusSet`` entry per number, ``Ok`` or a code.
Behaviour per number is scripted (``script[phone] = ["5xx", "ok"]``, consumed one
request at a time); ``ok`` also enforces the 30-second limit per number.
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from jietiao_shared.tencent import TencentCredentials, sign_tc3
from jietiao_stack.testing import serve_json_posts, stop_server

HOST = "sms.tencentcloudapi.com"
BEHAVIOURS = ("ok", "daily_limit", "invalid", "slow", "5xx", "malformed", "internal_timeout")


@dataclass
class Received:
    """One request as the fake saw it."""

    headers: dict[str, str]
    body: dict[str, Any]
    signature_ok: bool


@dataclass
class FakeTencentSms:
    """The fake server; ``url`` is what the provider's endpoint setting points at."""

    credentials: TencentCredentials
    slow_seconds: float = 1.0
    script: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    last_ok: dict[str, float] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The endpoint, on 127.0.0.1."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> "FakeTencentSms":
        """Serve from a background thread on a free port."""
        self.server = serve_json_posts(self.answer)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self.server)

    def sent_to(self, phone: str) -> list[dict[str, Any]]:
        """Correctly signed requests for ``phone``."""
        return [
            r.body
            for r in self.received
            if r.signature_ok and phone in r.body.get("PhoneNumberSet", [])
        ]

    # --- the protocol ----------------------------------------------------------

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        """The HTTP status and body for one request."""
        headers = {k.lower(): v for k, v in headers.items()}
        request_id = str(uuid.uuid4())
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        ok = self._signature_ok(headers, raw)
        with self.lock:
            self.received.append(Received(headers, body, ok))
        if not ok:
            return _error("AuthFailure.SignatureFailure", request_id)
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return _error("InvalidAction", request_id)
        if not headers.get("x-tc-region"):
            return _error("MissingParameter", request_id)
        phones = body.get("PhoneNumberSet") or []
        behaviour = self._next(phones[0] if phones else "")
        if behaviour == "5xx":
            return 503, b"<html>503 Service Temporarily Unavailable</html>"
        if behaviour == "malformed":
            return 200, b'{"Response": {"RequestId": "' + request_id.encode() + b'"'
        if behaviour == "slow":
            time.sleep(self.slow_seconds)
        statuses = [self._status(phone, behaviour, body) for phone in phones]
        document = {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}
        return 200, json.dumps(document).encode()

    def _next(self, phone: str) -> str:
        with self.lock:
            queue = self.script.get(phone) or []
            return queue.pop(0) if queue else "ok"

    def _status(self, phone: str, behaviour: str, body: dict[str, Any]) -> dict[str, Any]:
        code = {
            "daily_limit": "LimitExceeded.PhoneNumberDailyLimit",
            "invalid": "InvalidParameterValue.IncorrectPhoneNumber",
            "internal_timeout": "InternalError.Timeout",
        }.get(behaviour, "Ok")
        if not phone.startswith("+86") or len(phone) != 14:
            code = "InvalidParameterValue.IncorrectPhoneNumber"
        now = time.monotonic()
        with self.lock:
            if code == "Ok" and now - self.last_ok.get(phone, -1e9) < 30:
                code = "LimitExceeded.PhoneNumberThirtySecondLimit"
            if code == "Ok":
                self.last_ok[phone] = now
        return {
            "SerialNo": f"fake-{uuid.uuid4().hex[:12]}" if code == "Ok" else "",
            "PhoneNumber": phone,
            "Fee": 1 if code == "Ok" else 0,
            "SessionContext": body.get("SessionContext", ""),
            "Code": code,
            "Message": "send success" if code == "Ok" else code,
            "IsoCode": "CN",
        }

    def _signature_ok(self, headers: dict[str, str], raw: bytes) -> bool:
        try:
            timestamp = int(headers["x-tc-timestamp"])
            expected = sign_tc3(
                credentials=self.credentials,
                host=headers["host"],
                service="sms",
                action=headers["x-tc-action"],
                version=headers["x-tc-version"],
                region=headers.get("x-tc-region", ""),
                timestamp=timestamp,
                body=raw,
                content_type=headers["content-type"],
            )
        except (KeyError, ValueError):
            return False
        fresh = abs(time.time() - timestamp) <= 300
        right_host = headers["host"] == HOST
        return (
            fresh and right_host and headers["authorization"] == expected.headers["Authorization"]
        )


def _error(code: str, request_id: str) -> tuple[int, bytes]:
    document = {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": request_id}}
    return 200, json.dumps(document).encode()
