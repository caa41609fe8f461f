"""A saga whose step never came is listed for operators and driven again."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from agreements.app import build_spec
from agreements.settings import get_settings
from jietiao_shared.bus import provision
from jietiao_shared.contracts import COMMANDS_STREAM, Subject
from jietiao_shared.db import migrate
from jietiao_shared.personal import id_check_character
from jietiao_shared.service import create_app
from jietiao_stack.testing import BackingServers, TestTokenIssuer, free_port, serving, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

OPERATOR = "operator-secret-for-tests"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agreements(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    """Agreements alone: nothing renders documents, so every preview gets stuck."""
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url("agreements_stuck"))
    mp.setenv("JIETIAO_JWKS_URL", token_issuer.jwks_url)
    mp.setenv("JIETIAO_OPERATOR_TOKEN", OPERATOR)
    mp.setenv("JIETIAO_STUCK_AFTER_SECONDS", "1")
    mp.setenv("JIETIAO_STUCK_SWEEP_SECONDS", "0.3")
    get_settings.cache_clear()
    spec = build_spec()
    await migrate(spec.settings.database_url, spec.migration_packages)
    await provision(backing_servers.nats_url)
    port = free_port()
    async with (
        serving(create_app(spec), port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client
    mp.undo()
    get_settings.cache_clear()


def person(n: int) -> dict[str, str]:
    first17 = f"11010519800101{n:03d}"
    return {
        "name": "王五" if n % 2 else "赵六",
        "id_number": first17 + id_check_character(first17),
        "phone": f"+8613{uuid.uuid4().int % 10**9:09d}",
    }


async def render_commands(nats_url: str, iou_id: str) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(COMMANDS_STREAM)
        found = []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            msg = await js.get_msg(COMMANDS_STREAM, seq)
            body = json.loads(msg.data or b"{}")
            if msg.subject == Subject.RENDER_DOCUMENT and body["data"]["agreement_id"] == iou_id:
                found.append(body)
        return found
    finally:
        await nc.close()


async def test_a_preview_never_rendered_is_listed_and_asked_for_again(
    agreements: httpx.AsyncClient, token_issuer: TestTokenIssuer, backing_servers: BackingServers
) -> None:
    me, other = person(1), person(2)
    token = token_issuer.token(me["phone"])
    created = await agreements.post(
        "/ious",
        headers={"authorization": f"Bearer {token}"},
        json={
            "notice": {"version": "2026-01", "accepted": True},
            "role": "lender",
            "me": me,
            "counterparty": other,
            "principal": "5000",
            "purpose": "周转",
            "loan_date": date.today().isoformat(),
            "term_months": 3,
            "annual_rate": "0",
            "overdue_rate": "0",
            "payment_method": "cash",
            "repayment_method": "lump_sum",
        },
    )
    assert created.status_code == 201, created.text
    iou_id = created.json()["id"]

    async def listed() -> list[dict[str, Any]]:
        answer = await agreements.get("/ops/stuck", headers={"x-operator-token": OPERATOR})
        return [i for i in answer.json()["items"] if i["agreement_id"] == iou_id and i["nudges"]]

    [entry] = await wait_until(listed, seconds=15)
    assert entry["reason"] == "preview_not_rendered" and entry["status"] == "draft"
    commands = await render_commands(backing_servers.nats_url, iou_id)
    assert len(commands) >= 2 and {c["data"]["kind"] for c in commands} == {"preview"}
    refused = await agreements.get("/ops/stuck")
    assert refused.status_code == 403
