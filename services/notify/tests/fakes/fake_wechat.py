"""A FAKE WeChat mini-program API server for tests: never the real one.

It listens on 127.0.0.1 and speaks the shapes of ``stable_token``,
``getwxacodeunlimit`` (PNG bytes, or JSON ``errcode``), ``subscribe/send`` and
``jscode2session``. Tests can invalidate every issued token (40001) or let them
expire (42001), grant subscription authorisations and hand out login codes.
"""

import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import segno

SCENE_CHARACTERS = set(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~"
)


@dataclass
class FakeWeChat:
    """The fake server and what it has seen."""

    app_id: str
    app_secret: str
    valid_tokens: set[str] = field(default_factory=set)
    expired_tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    subscriptions: dict[str, int] = field(default_factory=dict)
    login_codes: dict[str, str] = field(default_factory=dict)
    qr_error: int = 0
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """Base URL on 127.0.0.1."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeWeChat":
        """Serve from a background thread on a free port."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(*fake.handle("GET", self.path, b""))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                self._reply(*fake.handle("POST", self.path, raw))

            def log_message(self, *args: Any) -> None:
                return

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def invalidate_tokens(self, errcode: int = 40001) -> None:
        """Make every issued token fail: 40001 (invalid) or 42001 (expired)."""
        with self.lock:
            if errcode == 42001:
                self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()

    # --- the protocol ----------------------------------------------------------

    def handle(self, method: str, target: str, raw: bytes) -> tuple[int, str, bytes]:
        """Status, content type and body for one request."""
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _json({"errcode": 47001, "errmsg": "data format error"})
        with self.lock:
            self.calls.append((parts.path, {**query, **body}))
            if parts.path == "/cgi-bin/stable_token" and method == "POST":
                return self._stable_token(body)
            if parts.path == "/sns/jscode2session" and method == "GET":
                return self._code_to_session(query)
            refused = self._check_token(query.get("access_token", ""))
            if refused:
                return _json(refused)
            if parts.path == "/wxa/getwxacodeunlimit":
                return self._qr_code(body)
            if parts.path == "/cgi-bin/message/subscribe/send":
                return self._subscribe_send(body)
        return 404, "text/plain", b"not found"

    def _stable_token(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        if (body.get("appid"), body.get("secret")) != (self.app_id, self.app_secret):
            return _json({"errcode": 40013, "errmsg": "invalid appid"})
        self.token_requests += 1
        if not self.valid_tokens:
            self.valid_tokens.add(f"token-{self.token_requests}")
        return _json({"access_token": sorted(self.valid_tokens)[0], "expires_in": 7200})

    def _check_token(self, token: str) -> dict[str, Any] | None:
        if token in self.valid_tokens:
            return None
        if token in self.expired_tokens:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}

    def _qr_code(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        scene, page = str(body.get("scene", "")), str(body.get("page", ""))
        if self.qr_error:
            return _json({"errcode": self.qr_error, "errmsg": "refused"})
        if not 1 <= len(scene) <= 32 or not set(scene) <= SCENE_CHARACTERS:
            return _json({"errcode": 40169, "errmsg": "invalid length for scene"})
        if page.startswith("/"):
            return _json({"errcode": 41030, "errmsg": "invalid page"})
        buffer = io.BytesIO()
        segno.make(f"{page}?scene={scene}").save(buffer, kind="png", scale=4)
        return 200, "image/png", buffer.getvalue()

    def _subscribe_send(self, body: dict[str, Any]) -> tuple[int, str, bytes]:
        openid = str(body.get("touser", ""))
        if self.subscriptions.get(openid, 0) <= 0:
            return _json({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        self.subscriptions[openid] -= 1
        return _json({"errcode": 0, "errmsg": "ok", "msgid": 1})

    def _code_to_session(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if (query.get("appid"), query.get("secret")) != (self.app_id, self.app_secret):
            return _json({"errcode": 40013, "errmsg": "invalid appid"})
        openid = self.login_codes.pop(query.get("js_code", ""), None)
        if openid is None:
            return _json({"errcode": 40029, "errmsg": "invalid code"})
        return _json({"openid": openid, "session_key": f"sk-{openid}", "unionid": ""})


def _json(document: dict[str, Any]) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(document).encode()


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client gave up waiting (the slow answers do that on purpose)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return
