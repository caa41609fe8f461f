"""Idempotency-Key on a real service: one effect per key, the same answer on retry."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Request
from jietiao_shared import idempotency
from jietiao_shared.bus import provision
from jietiao_shared.db import migrate
from jietiao_shared.outbox import OutboxRelay
from jietiao_shared.service import ServiceSpec, create_app
from jietiao_shared.settings import ServiceSettings
from jietiao_stack.testing import BackingServers, TestTokenIssuer, free_port, serving
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")


def counting_router(effects: list[dict[str, Any]]) -> APIRouter:
    router = APIRouter()

    @router.post("/things", status_code=201)
    async def create_thing(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.2)
        effects.append(body)
        return {"number": len(effects)}

    @router.post("/ledger", status_code=201)
    async def write_then_die(request: Request) -> dict[str, Any]:
        """Commits its effect with its answer, then fails as a killed process would."""
        async with request.app.state.runtime.engine.begin() as conn:
            await conn.execute(text("INSERT INTO ledger DEFAULT VALUES"))
            count = (await conn.execute(text("SELECT count(*) FROM ledger"))).scalar_one()
            await idempotency.answer(conn, request, {"entries": count})
        raise RuntimeError("the process died after the commit")

    @router.post("/sessions", status_code=201)
    async def issue_token(body: dict[str, Any]) -> dict[str, Any]:
        return {"access_token": f"token-{uuid.uuid4().hex}"}

    @router.post("/broken")
    async def broken() -> dict[str, Any]:
        effects.append({"broken": True})
        raise RuntimeError("boom")

    return router


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    url = backing_servers.database_url("shared_idempotency")
    await migrate(url, ["jietiao_shared"])
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS ledger (id serial PRIMARY KEY)"))
    await engine.dispose()
    await provision(backing_servers.nats_url)
    effects: list[dict[str, Any]] = []
    settings = ServiceSettings(
        database_url=url, nats_url=backing_servers.nats_url, jwks_url=token_issuer.jwks_url
    )
    for who, phone in (("a", "+8613800000001"), ("b", "+8613800000002")):
        account = str(uuid.uuid5(uuid.NAMESPACE_OID, who))
        TOKENS[who] = f"Bearer {token_issuer.token(phone, account_id=account)}"
        # the same account after logging in again: another token, the same person
        TOKENS[who + "-again"] = f"Bearer {token_issuer.token(phone, account_id=account, ttl=7200)}"
    spec = ServiceSpec(
        name="things", title="things", settings=settings, routers=[counting_router(effects)]
    )
    port = free_port()
    async with (
        serving(create_app(spec), port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client, effects


TOKENS: dict[str, str] = {}
"""Authorization headers of the test's two people, "a" and "b", set up with the service."""


def headers(key: str, who: str = "a") -> dict[str, str]:
    """Headers with a key of a real client's length, named ``key`` for the reader, as
    person ``who`` ("" for nobody logged in)."""
    long_key = f"{key}-{uuid.uuid5(uuid.NAMESPACE_OID, key)}"
    return {"idempotency-key": long_key, "authorization": TOKENS[who] if who else ""}


async def test_a_retried_post_has_one_effect_and_the_same_answer(service: Any) -> None:
    client, effects = service
    before = len(effects)
    first = await client.post("/things", json={"n": 1}, headers=headers("k-1"))
    again = await client.post("/things", json={"n": 1}, headers=headers("k-1"))

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(effects) == before + 1


async def test_a_double_tap_runs_once_and_the_second_is_told(service: Any) -> None:
    client, effects = service
    before = len(effects)
    answers = await asyncio.gather(
        *(client.post("/things", json={"n": 2}, headers=headers("k-2")) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert len(effects) == before + 1


async def test_the_same_key_with_another_body_is_refused(service: Any) -> None:
    client, _ = service
    await client.post("/things", json={"n": 3}, headers=headers("k-3"))
    other = await client.post("/things", json={"n": 4}, headers=headers("k-3"))
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"


async def test_keys_are_scoped_by_caller(service: Any) -> None:
    client, effects = service
    before = len(effects)
    await client.post("/things", json={"n": 5}, headers=headers("k-5", "a"))
    await client.post("/things", json={"n": 5}, headers=headers("k-5", "b"))
    assert len(effects) == before + 2


async def test_a_failed_request_can_be_retried(service: Any) -> None:
    client, effects = service
    before = len(effects)
    for _ in range(2):
        answer = await client.post("/broken", json={}, headers=headers("k-6"))
        assert answer.status_code == 500
    assert len(effects) == before + 2


async def test_an_answer_recorded_with_the_effect_survives_a_crash_after_commit(
    service: Any,
) -> None:
    client, _ = service
    first = await client.post("/ledger", json={}, headers=headers("k-7"))
    assert first.status_code == 500
    again = await client.post("/ledger", json={}, headers=headers("k-7"))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    entries = again.json()["entries"]
    third = await client.post("/ledger", json={}, headers=headers("k-7"))
    assert third.json() == {"entries": entries}
    fresh = await client.post("/ledger", json={}, headers=headers("k-8"))
    assert fresh.status_code == 500
    after = await client.post("/ledger", json={}, headers=headers("k-8"))
    assert after.json() == {"entries": entries + 1}


async def test_a_stored_answer_cannot_be_read_from_the_table(
    service: Any, backing_servers: BackingServers
) -> None:
    client, _ = service
    login = headers("k-9", who="")
    first = await client.post("/sessions", json={"phone": "x"}, headers=login)
    again = await client.post("/sessions", json={"phone": "x"}, headers=login)
    token = first.json()["access_token"]

    assert again.json()["access_token"] == token  # the retry still gets it
    engine = create_async_engine(backing_servers.database_url("shared_idempotency"))
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT body, sealed_body FROM idempotency_keys"))
            ).all()
    finally:
        await engine.dispose()
    assert rows and all(body is None and sealed is not None for body, sealed in rows)
    assert not any(token.encode() in bytes(sealed) for _, sealed in rows)


async def test_old_answers_are_purged_and_recent_ones_kept(
    service: Any, backing_servers: BackingServers
) -> None:
    client, _ = service
    for key in ("k-old", "k-new"):
        await client.post("/sessions", json={"phone": key}, headers=headers(key, who=""))
    engine = create_async_engine(backing_servers.database_url("shared_idempotency"))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                    " WHERE request_hash = :h"
                ),
                {"h": hashlib.sha256(b'{"phone":"k-old"}').hexdigest()},
            )
            before = (await conn.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar()
        relay = OutboxRelay(engine, "", publish=None, idempotency_retention_hours=24)  # type: ignore[arg-type]
        _, _, purged = await relay.purge()
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar()
    finally:
        await engine.dispose()
    assert purged == 1 and after == before - 1
    again = await client.post("/sessions", json={"phone": "k-new"}, headers=headers("k-new", ""))
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_short_key_is_refused(service: Any) -> None:
    client, effects = service
    before = len(effects)
    answer = await client.post(
        "/things", json={"n": 5}, headers={"idempotency-key": "123", "authorization": "a"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "idempotency_key_invalid"
    assert len(effects) == before


async def test_a_retry_after_logging_in_again_still_finds_its_answer(service: Any) -> None:
    client, effects = service
    before = len(effects)
    first = await client.post("/things", json={"n": 10}, headers=headers("k-10", "a"))
    relogged = await client.post("/things", json={"n": 10}, headers=headers("k-10", "a-again"))
    lower = headers("k-10", "a")
    lower["authorization"] = lower["authorization"].replace("Bearer ", "bearer ")
    spelled = await client.post("/things", json={"n": 10}, headers=lower)

    assert first.json() == relogged.json() == spelled.json()
    assert relogged.headers["idempotent-replayed"] == spelled.headers["idempotent-replayed"]
    assert len(effects) == before + 1
