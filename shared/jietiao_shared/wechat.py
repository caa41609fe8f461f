"""WeChat mini-program server APIs: stable access token, QR code, subscribe message, login.

The access token comes from ``stable_token`` (the same token until shortly before it
expires, whoever asks), cached in the process until five minutes before expiry;
a call answered with 40001/42001 refreshes it once and is retried once. The app
secret and the users' session keys never appear in a repr or a log line.
"""

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import Field

from .settings import ServiceSettings

log = logging.getLogger(__name__)

TOKEN_INVALID = frozenset({40001, 42001})
EARLY_REFRESH_SECONDS = 300
SCENE_CHARACTERS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~"
)


_SECRET_QUERY = re.compile(r"((?:secret|access_token|js_code)=)[^&\s\"]+")


class _RedactQuerySecrets(logging.Filter):
    """Blank the app secret, tokens and login codes in httpx's request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        return True


def _redact(value: object) -> object:
    if isinstance(value, int | float):
        return value
    return _SECRET_QUERY.sub(r"\1***", str(value))


_HTTPX_LOG = logging.getLogger("httpx")
if not any(isinstance(f, _RedactQuerySecrets) for f in _HTTPX_LOG.filters):
    _HTTPX_LOG.addFilter(_RedactQuerySecrets())


class WeChatError(Exception):
    """WeChat refused a call (``errcode``) or could not be reached (``errcode`` -1)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class WeChatSession:
    """What ``jscode2session`` returns; the session key stays on the server."""

    openid: str
    unionid: str = ""
    session_key: str = field(default="", repr=False)


class WeChatClient:
    """The mini-program server APIs the platform uses, for one app id."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        api_url: str = "https://api.weixin.qq.com",
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self.api_url = api_url.rstrip("/")
        self.clock = clock
        self._http = httpx.AsyncClient(timeout=timeout_seconds)
        self._token = ""
        self._token_until = 0.0

    def __repr__(self) -> str:
        return f"WeChatClient(app_id={self.app_id!r}, api_url={self.api_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def access_token(self, *, refresh: bool = False) -> str:
        """The cached stable access token, fetched again when near expiry or asked to."""
        if not refresh and self._token and self.clock() < self._token_until:
            return self._token
        answer = await self._json(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret,
                "force_refresh": False,
            },
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatError(-1, "no access_token in answer")
        expires_in = int(answer.get("expires_in", 7200))
        self._token = token
        self._token_until = self.clock() + max(expires_in - EARLY_REFRESH_SECONDS, 0)
        return token

    async def qr_code(self, scene: str, page: str, *, env_version: str = "release") -> bytes:
        """A mini-program code (PNG) opening ``page`` with ``scene`` (getwxacodeunlimit)."""
        if not 1 <= len(scene) <= 32 or not set(scene) <= SCENE_CHARACTERS:
            raise ValueError("scene must be 1-32 characters of the allowed set")
        body = {
            "scene": scene,
            "page": page.lstrip("/"),
            "check_path": False,
            "env_version": env_version,
        }
        answer = await self._with_token("/wxa/getwxacodeunlimit", body)
        if answer.headers.get("content-type", "").startswith("image/"):
            return answer.content
        _raise_if_error(_decode(answer))
        raise WeChatError(-1, "neither an image nor an error")

    async def send_subscribe_message(
        self, openid: str, template_id: str, page: str, data: Mapping[str, str]
    ) -> None:
        """Send one subscription message (consumes one authorisation of the user)."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": page.lstrip("/"),
            "data": {key: {"value": value} for key, value in data.items()},
        }
        _raise_if_error(_decode(await self._with_token("/cgi-bin/message/subscribe/send", body)))

    async def code_to_session(self, js_code: str) -> WeChatSession:
        """Exchange a client's one-use login code for its openid (jscode2session)."""
        answer = await self._json(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.app_id,
                "secret": self._secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
            },
        )
        openid = answer.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatError(-1, "no openid in answer")
        return WeChatSession(
            openid=openid,
            unionid=str(answer.get("unionid", "")),
            session_key=str(answer.get("session_key", "")),
        )

    # --- plumbing ----------------------------------------------------------------

    async def _with_token(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST with the access token; refresh it once and retry once if it was refused."""
        for attempt in (1, 2):
            token = await self.access_token(refresh=attempt == 2)
            answer = await self._send("POST", path, params={"access_token": token}, json=body)
            if attempt == 1 and _errcode(answer) in TOKEN_INVALID:
                log.warning("wechat access token refused on %s; refreshing once", path)
                continue
            return answer
        raise AssertionError("unreachable")

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        document = _decode(await self._send(method, path, **kwargs))
        _raise_if_error(document)
        return document

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = await self._http.request(method, self.api_url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise WeChatError(-1, f"unreachable: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise WeChatError(-1, f"HTTP {answer.status_code}")
        return answer


def _decode(answer: httpx.Response) -> dict[str, Any]:
    try:
        document = answer.json()
    except ValueError:
        raise WeChatError(-1, "malformed answer") from None
    if not isinstance(document, dict):
        raise WeChatError(-1, "malformed answer")
    return document


def _errcode(answer: httpx.Response) -> int:
    if answer.headers.get("content-type", "").startswith("image/"):
        return 0
    try:
        return int(answer.json().get("errcode", 0))
    except (ValueError, AttributeError, TypeError):
        return 0


def _raise_if_error(document: Mapping[str, Any]) -> None:
    errcode = int(document.get("errcode", 0) or 0)
    if errcode:
        raise WeChatError(errcode, str(document.get("errmsg", ""))[:200])


class WeChatSettings(ServiceSettings):
    """A service that talks to WeChat's mini-program APIs; off while the app id is
    empty. The API URL is overridable for tests only."""

    wechat_app_id: str = ""
    wechat_app_secret: str = Field(default="", repr=False)
    wechat_api_url: str = "https://api.weixin.qq.com"
    wechat_timeout_seconds: float = 5.0

    def wechat_client(self) -> WeChatClient | None:
        """The client for the configured app, or None when WeChat is not set up."""
        if not self.wechat_app_id:
            return None
        return WeChatClient(
            self.wechat_app_id,
            self.wechat_app_secret,
            api_url=self.wechat_api_url,
            timeout_seconds=self.wechat_timeout_seconds,
        )
