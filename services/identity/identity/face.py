"""Face verification providers behind one interface.

A provider starts a session (returning where the person goes to be checked) and
later reports what it saw: pass or fail, and the name and ID number of the person
it verified. Deciding whether that person is the party is identity's job, not the
provider's (see :mod:`identity.verifications`).
"""

from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


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


def make_provider(name: str, public_url: str) -> FaceProvider:
    """The provider chosen by configuration."""
    if name == "local":
        return LocalFaceProvider(public_url)
    raise ValueError(f"unknown face provider {name!r}")
