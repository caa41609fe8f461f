"""Face verification providers behind one interface.

A provider starts a session (returning where the person goes to be checked) and
later reports what it saw: pass or fail, and the name and ID number of the person
it verified. Deciding whether that person is the party is identity's job, not the
provider's (see :mod:`identity.verifications`).
"""

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jietiao_shared.personal import id_number_sha256
from jietiao_shared.tencent import TencentClient, TencentCredentials, TencentError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .settings import IdentitySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceSession:
    """What identity asks a provider to check."""

    verification_id: str
    expected_name: str
    expected_id_number: str


@dataclass(frozen=True)
class StartedCheck:
    """Where the person completes the check, and the provider's own reference."""

    provider_ref: str
    url: str


@dataclass(frozen=True)
class FaceResult:
    """What the provider reports once the person has been checked."""

    status: Literal["pending", "passed", "failed"]
    seen_name: str = ""
    seen_id_sha256: str = ""
    reason: str = ""


class FaceProvider(Protocol):
    """A face verification provider."""

    name: str

    async def start(self, conn: AsyncConnection, session: FaceSession) -> StartedCheck:
        """Open a check for one session."""
        ...

    async def result(self, conn: AsyncConnection, verification_id: str) -> FaceResult:
        """What the provider saw for a session so far."""
        ...


class LocalFaceProvider:
    """The embedded stack's provider: its page records pass or fail on request.

    It stands where a real provider's H5 page would; what the page records (the
    outcome and the person "seen") is read back through :meth:`result` exactly as a
    real provider's result would be, so the matching rules still apply.
    """

    name = "local"

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    async def start(self, conn: AsyncConnection, session: FaceSession) -> StartedCheck:
        """The local check page for this session."""
        return StartedCheck(
            provider_ref=session.verification_id,
            url=f"{self.public_url}/face/local/{session.verification_id}",
        )

    async def result(self, conn: AsyncConnection, verification_id: str) -> FaceResult:
        """What the local page recorded, or pending."""
        row = (
            await conn.execute(
                text(
                    "SELECT outcome, seen_name, seen_id_sha256 FROM local_face_results"
                    " WHERE verification_id = :id"
                ),
                {"id": verification_id},
            )
        ).first()
        if row is None:
            return FaceResult(status="pending")
        if row.outcome == "fail":
            return FaceResult(status="failed", reason="face_not_matched")
        return FaceResult(
            status="passed", seen_name=row.seen_name, seen_id_sha256=row.seen_id_sha256
        )

    @staticmethod
    async def record(
        conn: AsyncConnection,
        verification_id: str,
        *,
        outcome: str,
        seen_name: str,
        seen_id_sha256: str,
    ) -> None:
        """Record what the local page's user chose; once per session."""
        await conn.execute(
            text(
                "INSERT INTO local_face_results (verification_id, outcome, seen_name,"
                " seen_id_sha256) VALUES (:id, :o, :n, :h)"
                " ON CONFLICT (verification_id) DO NOTHING"
            ),
            {"id": verification_id, "o": outcome, "n": seen_name, "h": seen_id_sha256},
        )


class FaceProviderError(Exception):
    """A provider could not open a check; ``transient`` says whether to try again later."""

    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient


# GetDetectInfoEnhanced ``Text.ErrCode``: what each means for the session.
PENDING_CODES = frozenset({17, 4, 8, 10, 12, 13})  # not finished, or a transient fault
FAILED_CODES = {
    15: "face_session_expired",
    16: "face_retry_limit",
    301: "id_number_differs",
    1002: "liveness_failed",
    2006: "name_id_mismatch",
    2016: "face_not_matched",
}


class TencentFaceIdProvider:
    """Tencent Cloud FaceID (2018-03-01): ``DetectAuth``, then ``GetDetectInfoEnhanced``.

    Only the text part of the result is asked for (``InfoType`` 1), so no face
    image or video ever reaches us; nothing of the answer is stored but the name
    and the ID number's hash handed back in the :class:`FaceResult`.
    """

    name = "tencent"

    def __init__(self, client: TencentClient, *, rule_id: str, redirect_url: str) -> None:
        self.client = client
        self.rule_id = rule_id
        self.redirect_url = redirect_url

    async def start(self, conn: AsyncConnection, session: FaceSession) -> StartedCheck:
        """Ask for a BizToken and the H5 URL; our session id travels in ``Extra``."""
        request = {
            "RuleId": self.rule_id,
            "IdCard": session.expected_id_number.upper(),
            "Name": session.expected_name,
            "RedirectUrl": self.redirect_url.format(verification_id=session.verification_id),
            "Extra": session.verification_id,
        }
        try:
            response = await self.client.call("DetectAuth", request)
        except TencentError as exc:
            log.warning("DetectAuth refused for %s: %s", session.verification_id, exc.code)
            raise FaceProviderError(exc.code, transient=exc.transient) from None
        token, url = response.get("BizToken"), response.get("Url")
        if not isinstance(token, str) or not token or not isinstance(url, str):
            raise FaceProviderError("MalformedResponse", transient=True)
        return StartedCheck(provider_ref=token, url=url)

    async def result(self, conn: AsyncConnection, verification_id: str) -> FaceResult:
        """The session's BizToken from the database, then what FaceID reports for it."""
        token = await conn.scalar(
            text("SELECT provider_ref FROM verifications WHERE id = :id"),
            {"id": verification_id},
        )
        if not token:
            return FaceResult(status="failed", reason="provider_ref_missing")
        return await self.fetch(str(token), verification_id)

    async def fetch(self, biz_token: str, verification_id: str) -> FaceResult:
        """Map ``GetDetectInfoEnhanced`` for one BizToken to a :class:`FaceResult`."""
        request = {"BizToken": biz_token, "RuleId": self.rule_id, "InfoType": "1"}
        try:
            response = await self.client.call("GetDetectInfoEnhanced", request)
        except TencentError as exc:
            log.warning("GetDetectInfoEnhanced for %s: %s", verification_id, exc.code)
            if exc.transient or not exc.code.startswith(("FailedOperation", "InvalidParameter")):
                return FaceResult(status="pending", reason="provider_unavailable")
            return FaceResult(status="failed", reason=f"provider_{exc.code}")
        return _judge_text(response.get("Text"), verification_id)


def _judge_text(found: Any, verification_id: str) -> FaceResult:
    """What a ``Text`` object says, checked for shape and for our session."""
    if not isinstance(found, dict):
        return FaceResult(status="pending", reason="provider_malformed")
    code = found.get("ErrCode")
    if code is None or code in PENDING_CODES:
        return FaceResult(status="pending", reason=f"provider_code_{code}")
    if code in FAILED_CODES:
        return FaceResult(status="failed", reason=FAILED_CODES[code])
    if code != 0:
        return FaceResult(status="failed", reason=f"provider_code_{code}")
    name, id_number = found.get("Name"), found.get("IdCard")
    if found.get("Extra") not in (None, "", verification_id):
        return FaceResult(status="failed", reason="provider_session_mismatch")
    if not isinstance(name, str) or not isinstance(id_number, str) or not name or not id_number:
        return FaceResult(status="pending", reason="provider_malformed")
    return FaceResult(
        status="passed", seen_name=name.strip(), seen_id_sha256=id_number_sha256(id_number)
    )


def make_provider(settings: IdentitySettings) -> FaceProvider:
    """The provider chosen by ``JIETIAO_FACE_PROVIDER``."""
    if settings.face_provider == "local":
        return LocalFaceProvider(settings.public_url)
    if settings.face_provider == "tencent":
        credentials = TencentCredentials(settings.tencent_secret_id, settings.tencent_secret_key)
        if not credentials or not settings.tencent_faceid_rule_id:
            raise ValueError("Tencent FaceID needs JIETIAO_TENCENT_SECRET_ID/KEY and a rule id")
        client = TencentClient(
            credentials,
            service="faceid",
            host=settings.tencent_faceid_host,
            version="2018-03-01",
            endpoint=settings.tencent_faceid_endpoint,
            timeout_seconds=settings.tencent_timeout_seconds,
        )
        redirect = settings.tencent_faceid_redirect_url or (
            settings.public_url.rstrip("/") + "/face/tencent/{verification_id}"
        )
        return TencentFaceIdProvider(
            client, rule_id=settings.tencent_faceid_rule_id, redirect_url=redirect
        )
    raise ValueError(f"unknown face provider {settings.face_provider!r}")
