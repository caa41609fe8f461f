"""Signing over real HTTP, PostgreSQL and NATS: capture, announce, show the PNG."""

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import nats
import pytest
import pytest_asyncio
from jietiao_shared.bus import provision
from jietiao_shared.contracts import EVENTS_STREAM, Subject
from jietiao_shared.db import asyncpg_dsn, make_engine, migrate
from jietiao_shared.outbox import pending_count
from jietiao_shared.service import create_app
from jietiao_stack.client import synthetic_signature
from jietiao_stack.testing import (
    BackingServers,
    TestTokenIssuer,
    free_port,
    serving,
    wait_until,
)
from nats.js.errors import NotFoundError
from signing.app import build_spec
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.asyncio(loop_scope="module")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Signing:
    """The signing service as a signer's app and its peers see it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        issuer: TestTokenIssuer,
        engine: AsyncEngine,
        nats_url: str,
    ) -> None:
        self.http = http
        self.issuer = issuer
        self.engine = engine
        self.nats_url = nats_url

    def auth(self, phone: str, account_id: str) -> dict[str, str]:
        token = self.issuer.token(phone, account_id=account_id)
        return {"authorization": f"Bearer {token}", "user-agent": "pad/1"}

    async def post(self, body: dict[str, Any], headers: dict[str, str] | None) -> httpx.Response:
        return await self.http.post("/signatures", json=body, headers=headers or {})

    @contextlib.asynccontextmanager
    async def inserts_held(self) -> AsyncIterator[Callable[[int], Awaitable[bool]]]:
        """Hold back inserts into signatures (reads go on) until the block ends.

        Yields a check: are at least ``n`` sessions waiting for the lock?
        """
        dsn = asyncpg_dsn(self.engine.url.render_as_string(hide_password=False))
        holder = await asyncpg.connect(dsn)
        watcher = await asyncpg.connect(dsn)

        async def waiting(n: int) -> bool:
            count = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            return int(count) >= n

        try:
            async with holder.transaction():
                await holder.execute("LOCK TABLE signatures IN SHARE MODE")
                yield waiting
        finally:
            await holder.close()
            await watcher.close()

    async def captured(self, signature_id: str) -> list[dict[str, Any]]:
        """SignatureCaptured envelopes for one signature, once all are published."""

        async def drained() -> bool:
            return bool(await pending_count(self.engine) == 0)

        await wait_until(drained)
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(EVENTS_STREAM)
            found = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(EVENTS_STREAM, seq)
                except NotFoundError:
                    continue
                envelope = json.loads(msg.data or b"{}")
                if (
                    msg.subject == Subject.SIGNATURE_CAPTURED
                    and envelope["data"]["signature_id"] == signature_id
                ):
                    assert msg.headers is not None
                    assert msg.headers["Nats-Msg-Id"] == envelope["message_id"]
                    found.append(envelope)
            return found
        finally:
            await nc.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def signing(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer
) -> AsyncIterator[Signing]:
    """The signing service, served for real on its own database."""
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url("test_signing"))
    mp.setenv("JIETIAO_JWKS_URL", token_issuer.jwks_url)
    mp.setenv("JIETIAO_OUTBOX_POLL_SECONDS", "0.2")
    spec = build_spec()
    await migrate(spec.settings.database_url, spec.migration_packages)
    await provision(backing_servers.nats_url)
    engine = make_engine(spec.settings.database_url, pool_size=2)
    try:
        async with (
            serving(create_app(spec), port),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            yield Signing(http, token_issuer, engine, backing_servers.nats_url)
    finally:
        await engine.dispose()
        mp.undo()


def a_signer() -> tuple[str, str]:
    """A phone number and an account id."""
    return f"+86139{uuid.uuid4().int % 10**8:08d}", str(uuid.uuid4())


def capture(seed: int | None = None, **changes: Any) -> dict[str, Any]:
    """A signature on a fresh agreement's document."""
    body: dict[str, Any] = {
        "agreement_id": str(uuid.uuid4()),
        "party_role": "borrower",
        "document_sha256": hashlib.sha256(b"preview").hexdigest(),
        "signature": synthetic_signature(seed),
    }
    body.update(changes)
    return body


async def test_a_valid_signature_is_stored_and_announced_with_its_png(
    signing: Signing,
) -> None:
    phone, account = a_signer()
    body = capture(seed=1)

    response = await signing.post(body, signing.auth(phone, account))

    assert response.status_code == 201, response.text
    answer = response.json()
    [event] = await signing.captured(answer["signature_id"])
    assert event["type"] == "SignatureCaptured"
    assert event["correlation_id"] == body["agreement_id"]
    data = event["data"]
    png = base64.b64decode(data["png_base64"])
    assert png.startswith(PNG_MAGIC)
    assert hashlib.sha256(png).hexdigest() == data["png_sha256"] == answer["png_sha256"]
    assert data["strokes_sha256"] == answer["strokes_sha256"]
    assert (data["agreement_id"], data["party_role"]) == (
        body["agreement_id"],
        "borrower",
    )
    assert data["document_sha256"] == body["document_sha256"]
    assert (data["account_id"], data["account_phone"]) == (account, phone)
    assert data["user_agent"] == "pad/1"


async def test_the_same_strokes_posted_twice_are_one_signature_and_one_event(
    signing: Signing,
) -> None:
    phone, account = a_signer()
    body = capture(seed=2)

    first = await signing.post(body, signing.auth(phone, account))
    second = await signing.post(body, signing.auth(phone, account))

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert len(await signing.captured(first.json()["signature_id"])) == 1

    other_document = capture(
        seed=2,
        agreement_id=body["agreement_id"],
        document_sha256=hashlib.sha256(b"another").hexdigest(),
    )
    third = await signing.post(other_document, signing.auth(phone, account))
    assert third.status_code == 201
    assert third.json()["signature_id"] != first.json()["signature_id"]


async def test_a_double_tap_gives_one_signature_to_both_taps(
    signing: Signing,
) -> None:
    """Both taps read "not stored yet" before either inserts (held by a table lock)."""
    phone, account = a_signer()
    body = capture(seed=3)

    async with signing.inserts_held() as waiting:
        taps = [
            asyncio.create_task(signing.post(body, signing.auth(phone, account))) for _ in range(2)
        ]
        await wait_until(lambda: waiting(2))
    answers = await asyncio.gather(*taps)

    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["signature_id"] == answers[1].json()["signature_id"]
    assert len(await signing.captured(answers[0].json()["signature_id"])) == 1


@pytest.mark.parametrize(
    ("spoil", "field", "code"),
    [
        (lambda s: s.update(strokes=[]), "signature.strokes", "no_strokes"),
        (
            lambda s: s["strokes"][1]["points"][3].update(x=5000),
            "signature.strokes[1].points[3].x",
            "outside_canvas",
        ),
        (
            lambda s: s["strokes"][0]["points"][2].update(pressure=1.5),
            "signature.strokes[0].points[2].pressure",
            "invalid_pressure",
        ),
        (lambda s: s.update(canvas_width=10), "signature.canvas_width", None),
        (
            lambda s: s["strokes"][0]["points"][0].update(x="12"),
            "signature.strokes.0.points.0.x",
            None,
        ),
    ],
    ids=["no_strokes", "outside_canvas", "pressure", "tiny_canvas", "text_for_x"],
)
async def test_invalid_strokes_are_refused_naming_the_field(
    signing: Signing, spoil: Any, field: str, code: str | None
) -> None:
    phone, account = a_signer()
    body = capture(seed=4)
    spoil(body["signature"])

    response = await signing.post(body, signing.auth(phone, account))

    assert response.status_code == 422, response.text
    [problem] = response.json()["fields"]
    assert problem["field"] == field
    assert problem["message"]
    if code is not None:
        assert problem["code"] == code


async def test_a_signature_without_a_login_is_refused(signing: Signing) -> None:
    response = await signing.post(capture(seed=5), None)
    assert response.status_code == 401
    assert response.json()["error"] == "not_logged_in"

    forged = await signing.post(capture(seed=5), {"authorization": "Bearer x.y.z"})
    assert forged.status_code == 401


async def test_only_the_signer_can_see_the_signature_image(signing: Signing) -> None:
    phone, account = a_signer()
    created = await signing.post(capture(seed=6), signing.auth(phone, account))
    answer = created.json()
    path = f"/signatures/{answer['signature_id']}.png"

    mine = await signing.http.get(path, headers=signing.auth(phone, account))
    assert mine.status_code == 200
    assert mine.headers["content-type"] == "image/png"
    assert mine.content.startswith(PNG_MAGIC)
    assert hashlib.sha256(mine.content).hexdigest() == answer["png_sha256"]

    other_phone, other_account = a_signer()
    theirs = await signing.http.get(path, headers=signing.auth(other_phone, other_account))
    assert theirs.status_code == 404
    unknown = await signing.http.get(
        f"/signatures/{uuid.uuid4()}.png", headers=signing.auth(phone, account)
    )
    assert unknown.status_code == 404
    assert (await signing.http.get(path)).status_code == 401
