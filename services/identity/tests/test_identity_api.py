"""Identity over real HTTP, PostgreSQL and NATS: codes, tokens, face checks."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from identity import workers
from identity.app import build_spec
from identity.settings import IdentitySettings
from jietiao_shared.auth import JwksVerifier
from jietiao_shared.bus import provision
from jietiao_shared.db import make_engine, migrate
from jietiao_shared.personal import id_number_sha256
from jietiao_shared.service import Runtime, create_app
from jietiao_stack.testing import BackingServers, free_port, serving, wait_until
from sqlalchemy import text

pytestmark = pytest.mark.asyncio(loop_scope="module")

LENDER_ID = "11010519491231002X"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def identity(backing_servers: BackingServers) -> AsyncIterator[httpx.AsyncClient]:
    """The identity service, served for real, with its own database."""
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url("test_identity"))
    mp.setenv("JIETIAO_JWKS_URL", f"http://127.0.0.1:{port}/.well-known/jwks.json")
    mp.setenv("JIETIAO_CODE_MIN_INTERVAL_SECONDS", "0")
    mp.setenv("JIETIAO_CODES_PER_PHONE_PER_HOUR", "3")
    spec = build_spec()
    await migrate(spec.settings.database_url, spec.migration_packages)
    await provision(backing_servers.nats_url)
    async with (
        serving(create_app(spec), port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client
    mp.undo()


async def _sms_codes(nats_url: str, phone: str) -> list[str]:
    """Login codes identity asked notify to send (read from the command stream)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("JIETIAO_COMMANDS")
        codes: list[str] = []
        if not info.state.messages:
            return codes
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg("JIETIAO_COMMANDS", seq)
            except nats.js.errors.NotFoundError:
                continue
            body = json.loads(msg.data)
            if body["data"].get("phone") == phone and body["data"]["kind"] == "login_code":
                codes.append(body["data"]["params"]["code"])
        return codes
    finally:
        await nc.close()


async def login(
    client: httpx.AsyncClient, nats_url: str, phone: str, typed: str | None = None
) -> dict[str, Any]:
    before = len(await _sms_codes(nats_url, phone))
    sent = await client.post("/auth/codes", json={"phone": typed or phone})
    assert sent.status_code == 202, sent.text
    codes = await wait_until(lambda: _codes_after(nats_url, phone, before))
    response = await client.post("/auth/sessions", json={"phone": phone, "code": codes[-1]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _codes_after(nats_url: str, phone: str, before: int) -> list[str] | None:
    codes = await _sms_codes(nats_url, phone)
    return codes if len(codes) > before else None


def a_phone() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


async def test_a_code_logs_in_once_and_the_token_verifies_with_the_published_keys(
    identity: httpx.AsyncClient, backing_servers: BackingServers
) -> None:
    phone = a_phone()
    typed = " " + phone[3:6] + "-" + phone[6:10] + " " + phone[10:]
    session = await login(identity, backing_servers.nats_url, phone, typed)

    verifier = JwksVerifier(str(identity.base_url) + "/.well-known/jwks.json")
    caller = await verifier.verify(session["access_token"])
    assert caller.phone == phone and caller.account_id == session["account_id"]

    codes = await _sms_codes(backing_servers.nats_url, phone)
    reused = await identity.post("/auth/sessions", json={"phone": phone, "code": codes[-1]})
    assert reused.status_code == 400 and reused.json()["error"] == "code_invalid"


async def test_wrong_codes_lock_the_code_and_sending_is_limited(
    identity: httpx.AsyncClient, backing_servers: BackingServers
) -> None:
    phone = a_phone()
    assert (await identity.post("/auth/codes", json={"phone": phone})).status_code == 202
    answers = [
        (await identity.post("/auth/sessions", json={"phone": phone, "code": "000000"})).status_code
        for _ in range(6)
    ]
    assert answers[:5] == [400] * 5 and answers[5] == 429

    for _ in range(2):
        assert (await identity.post("/auth/codes", json={"phone": phone})).status_code == 202
    limited = await identity.post("/auth/codes", json={"phone": phone})
    assert limited.status_code == 429 and limited.json()["error"] == "code_limit_reached"


async def test_a_bad_phone_number_is_refused_by_field(
    identity: httpx.AsyncClient,
) -> None:
    response = await identity.post("/auth/codes", json={"phone": "+1 415 555 0100"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "phone"


async def _verification_events(nats_url: str, verification_id: str) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("JIETIAO_EVENTS")
        found: list[dict[str, Any]] = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            body = json.loads((await js.get_msg("JIETIAO_EVENTS", seq)).data)
            if body["data"].get("verification_id") == verification_id:
                found.append(body)
        return found
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("seen", "status", "event"),
    [
        ({}, "passed", "VerificationPassed"),
        ({"seen_name": "王五"}, "failed", "VerificationFailed"),
        ({"seen_id_number": "440524188001010014"}, "failed", "VerificationFailed"),
    ],
)
async def test_a_face_check_passes_only_for_the_person_entered(
    identity: httpx.AsyncClient,
    backing_servers: BackingServers,
    seen: dict[str, str],
    status: str,
    event: str,
) -> None:
    session = await login(identity, backing_servers.nats_url, a_phone())
    auth = {"authorization": f"Bearer {session['access_token']}"}
    opened = await identity.post(
        "/verifications",
        headers=auth,
        json={
            "agreement_id": str(uuid.uuid4()),
            "party_role": "lender",
            "action": "sign",
            "name": "张三",
            "id_number": LENDER_ID.lower(),
        },
    )
    assert opened.status_code == 201, opened.text
    vid = opened.json()["verification_id"]

    result = await identity.post(
        f"/verifications/{vid}/local-check",
        headers=auth,
        json={"outcome": "pass", **seen},
    )
    again = await identity.post(
        f"/verifications/{vid}/local-check", headers=auth, json={"outcome": "pass"}
    )

    assert result.json()["status"] == status
    assert again.json()["status"] == status, "a decided check never changes"
    events = await wait_until(lambda: _verification_events(backing_servers.nats_url, vid))
    assert [e["type"] for e in events] == [event]
    if status == "passed":
        assert events[0]["data"]["id_number_sha256"] == id_number_sha256(LENDER_ID)
    else:
        assert events[0]["data"]["reason"] == "identity_mismatch"


async def test_someone_else_cannot_see_or_complete_my_check(
    identity: httpx.AsyncClient, backing_servers: BackingServers
) -> None:
    mine = await login(identity, backing_servers.nats_url, a_phone())
    theirs = await login(identity, backing_servers.nats_url, a_phone())
    opened = await identity.post(
        "/verifications",
        headers={"authorization": f"Bearer {mine['access_token']}"},
        json={
            "agreement_id": str(uuid.uuid4()),
            "party_role": "borrower",
            "action": "confirm_void",
            "name": "李四",
            "id_number": "440524188001010014",
        },
    )
    vid = opened.json()["verification_id"]
    other = {"authorization": f"Bearer {theirs['access_token']}"}
    assert (await identity.get(f"/verifications/{vid}", headers=other)).status_code == 404
    forged = await identity.post(
        f"/verifications/{vid}/local-check", headers=other, json={"outcome": "pass"}
    )
    assert forged.status_code == 404
    no_token = await identity.post(f"/verifications/{vid}/local-check", json={"outcome": "pass"})
    assert no_token.status_code == 401


async def test_a_session_past_its_deadline_is_closed_as_expired_by_the_sweep(
    identity: httpx.AsyncClient, backing_servers: BackingServers
) -> None:
    session = await login(identity, backing_servers.nats_url, a_phone())
    opened = await identity.post(
        "/verifications",
        headers={"authorization": f"Bearer {session['access_token']}"},
        json={"agreement_id": str(uuid.uuid4()), "party_role": "lender", "action": "sign",
              "name": "张三", "id_number": LENDER_ID},
    )  # fmt: skip
    vid = opened.json()["verification_id"]
    settings = IdentitySettings(database_url=backing_servers.database_url("test_identity"))
    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE verifications SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": vid},
        )
    runtime = Runtime(settings=settings, engine=engine, consumers=None)  # type: ignore[arg-type]

    assert await workers.expire_due(runtime) >= 1

    await engine.dispose()
    events = await wait_until(lambda: _verification_events(backing_servers.nats_url, vid))
    assert events[0]["type"] == "VerificationFailed"
    assert events[0]["data"]["reason"] == "session_expired"
