"""A FAKE Tencent Cloud FaceID server for tests: never the real provider.

It listens on 127.0.0.1, checks the TC3-HMAC-SHA256 signature of every request,
and answers ``DetectAuth`` (a BizToken and an H5 URL) and
``GetDetectInfoEnhanced`` (a ``Text`` with ``ErrCode``, ``Name``, ``IdCard``,
``Extra``). A test decides what the person "did" with :meth:`FakeFaceId.finish`,
or makes the next answers slow, 5xx or malformed with ``fault``.
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

HOST = "faceid.tencentcloudapi.com"


@dataclass
class Session:
    """One DetectAuth session as the fake keeps it."""

    rule_id: str
    name: str
    id_card: str
    extra: str
    err_code: int | None = None
    seen_name: str = ""
    seen_id_card: str = ""


@dataclass
class FakeFaceId:
    """The fake server."""

    credentials: TencentCredentials
    slow_seconds: float = 1.0
    sessions: dict[str, Session] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The endpoint, on 127.0.0.1."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> "FakeFaceId":
        """Serve from a background thread on a free port."""
        self.server = serve_json_posts(self.answer)
        return self

    def stop(self) -> None:
        """Stop serving."""
        stop_server(self.server)

    def finish(self, biz_token: str, err_code: int, *, name: str = "", id_card: str = "") -> None:
        """Record the person's check: ``ErrCode`` and who was seen (default: as sent)."""
        session = self.sessions[biz_token]
        session.err_code = err_code
        session.seen_name = name or session.name
        session.seen_id_card = id_card or session.id_card

    # --- the protocol ----------------------------------------------------------

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        """The HTTP status and body for one request."""
        headers = {k.lower(): v for k, v in headers.items()}
        action = headers.get("x-tc-action", "")
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        ok = self._signature_ok(headers, raw)
        with self.lock:
            self.requests.append((action, body, ok))
            fault = self.faults.pop(0) if self.faults else ""
        if not ok:
            return _error("AuthFailure.SignatureFailure")
        if fault == "5xx":
            return 502, b"<html>502 Bad Gateway</html>"
        if fault == "malformed":
            return 200, b'{"Response": {"Text": '
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault.startswith("error:"):
            return _error(fault.removeprefix("error:"))
        if headers.get("x-tc-version") != "2018-03-01":
            return _error("InvalidParameter.Version")
        if action == "DetectAuth":
            return self._detect_auth(body)
        if action == "GetDetectInfoEnhanced":
            return self._detect_info(body)
        return _error("InvalidAction")

    def _detect_auth(self, body: dict[str, Any]) -> tuple[int, bytes]:
        if not body.get("RuleId"):
            return _error("InvalidParameter.RuleId")
        extra = str(body.get("Extra", ""))
        if len(extra) > 1024:
            return _error("InvalidParameterValue.Extra")
        token = str(uuid.uuid4()).upper()
        with self.lock:
            self.sessions[token] = Session(
                body["RuleId"], str(body.get("Name", "")), str(body.get("IdCard", "")), extra
            )
        return _ok({"BizToken": token, "Url": f"https://h5.fake.invalid/{token}"})

    def _detect_info(self, body: dict[str, Any]) -> tuple[int, bytes]:
        session = self.sessions.get(str(body.get("BizToken", "")))
        if session is None or body.get("RuleId") != session.rule_id:
            return _error("InvalidParameterValue.BizTokenIllegal")
        text: dict[str, Any] = {
            "ErrCode": 17 if session.err_code is None else session.err_code,
            "ErrMsg": "",
            "IdCard": session.seen_id_card,
            "Name": session.seen_name,
            "Sim": "92.1" if session.err_code == 0 else "0",
            "LiveStatus": 0 if session.err_code == 0 else -1,
            "Extra": session.extra,
        }
        document: dict[str, Any] = {"Text": text}
        if body.get("InfoType") in ("0", "3"):
            document["BestFrame"] = {"BestFrame": "aW1hZ2U="}
        return _ok(document)

    def _signature_ok(self, headers: dict[str, str], raw: bytes) -> bool:
        try:
            timestamp = int(headers["x-tc-timestamp"])
            expected = sign_tc3(
                credentials=self.credentials,
                host=headers["host"],
                service="faceid",
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
        signed = headers["authorization"] == expected.headers["Authorization"]
        return fresh and headers["host"] == HOST and signed


def _ok(response: dict[str, Any]) -> tuple[int, bytes]:
    response["RequestId"] = str(uuid.uuid4())
    return 200, json.dumps({"Response": response}, ensure_ascii=False).encode()


def _error(code: str) -> tuple[int, bytes]:
    document = {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "x"}}
    return 200, json.dumps(document).encode()
