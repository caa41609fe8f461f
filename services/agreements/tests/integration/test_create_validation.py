"""Creating an IOU over real HTTP: each wrong field is named in a 422, nothing is stored.

Also: once the caller's account passed a face check, the initiator's name and ID
number must be the verified ones (learned from VerificationPassed on the bus).
"""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from agreements.app import build_spec
from agreements.settings import get_settings
from jietiao_shared.bus import provision
from jietiao_shared.contracts import Envelope, Subject, VerificationPassed
from jietiao_shared.crypto import new_data_key, new_lookup_key
from jietiao_shared.db import migrate
from jietiao_shared.personal import id_check_character, id_number_sha256
from jietiao_shared.service import create_app
from jietiao_stack.testing import BackingServers, TestTokenIssuer, free_port, serving, wait_until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATABASE = "agreements_validation"
TABLES = ("ious", "parties", "audit_log", "outbox")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """Agreements served for real, and a connection to its database for counting."""
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url(DATABASE))
    mp.setenv("JIETIAO_JWKS_URL", token_issuer.jwks_url)
    mp.setenv("JIETIAO_DATA_KEYS", new_data_key("v1"))
    mp.setenv("JIETIAO_LOOKUP_KEY", new_lookup_key())
    get_settings.cache_clear()
    spec = build_spec()
    await migrate(spec.settings.database_url, spec.migration_packages)
    await provision(backing_servers.nats_url)
    port = free_port()
    engine = create_async_engine(backing_servers.database_url(DATABASE))
    async with (
        serving(create_app(spec), port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client, engine
    await engine.dispose()
    mp.undo()
    get_settings.cache_clear()


def person(name: str, seq: int) -> dict[str, str]:
    first17 = f"44052419900101{seq:03d}"
    return {
        "name": name,
        "id_number": first17 + id_check_character(first17),
        "phone": f"+86135{uuid.uuid4().int % 10**8:08d}",
    }


def draft(me: dict[str, str], other: dict[str, str]) -> dict[str, Any]:
    return {
        "notice": {"version": "2026-01", "accepted": True},
        "role": "lender",
        "me": dict(me),
        "counterparty": dict(other),
        "principal": "20000",
        "purpose": "买车",
        "loan_date": date.today().isoformat(),
        "term_months": 12,
        "annual_rate": "6",
        "overdue_rate": "8",
        "payment_method": "bank_transfer",
        "repayment_method": "equal_principal",
    }


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {t: int(await conn.scalar(text(f"SELECT count(*) FROM {t}"))) for t in TABLES}


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[key]
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value

    return apply


DELETE = object()
LONG_AGO = (date.today() - timedelta(days=400)).isoformat()
SAME_DAY = date.today().isoformat()

CASES: list[tuple[str, list[Callable[[dict[str, Any]], None]], str]] = [
    ("notice not accepted", [setter("notice.accepted", False)], "notice.accepted"),
    ("notice accepted as a word", [setter("notice.accepted", "yes")], "notice.accepted"),
    ("old notice", [setter("notice.version", "2020-01")], "notice.version"),
    ("blank name", [setter("me.name", "  ")], "me.name"),
    ("control char in name", [setter("counterparty.name", "李\u202e四")], "counterparty.name"),
    ("id checksum", [setter("me.id_number", "110105194912310021")], "me.id_number"),
    (
        "id 31 February",
        [setter("counterparty.id_number", "110105194902310026")],
        "counterparty.id_number",
    ),
    ("id length", [setter("counterparty.id_number", "1101051949")], "counterparty.id_number"),
    ("not the caller's phone", [setter("me.phone", "+8613900000000")], "me.phone"),
    ("bad counterparty phone", [setter("counterparty.phone", "12345")], "counterparty.phone"),
    ("missing counterparty phone", [setter("counterparty.phone", DELETE)], "counterparty.phone"),
    ("principal 3 decimals", [setter("principal", "2.675")], "principal"),
    ("principal zero", [setter("principal", "0")], "principal"),
    ("principal negative", [setter("principal", "-5")], "principal"),
    ("principal above max", [setter("principal", "10000000.01")], "principal"),
    ("principal text", [setter("principal", "一万")], "principal"),
    ("no purpose", [setter("purpose", " ")], "purpose"),
    ("purpose too long", [setter("purpose", "长" * 201)], "purpose"),
    ("loan date long ago", [setter("loan_date", LONG_AGO)], "loan_date"),
    ("loan date not a date", [setter("loan_date", "2026-02-30")], "loan_date"),
    ("loan date in year 1", [setter("loan_date", "0001-01-01")], "loan_date"),
    ("loan date at the end of time", [setter("loan_date", "9999-12-31")], "loan_date"),
    ("loan date years ahead", [setter("loan_date", "2099-01-01")], "loan_date"),
    (
        "repayment date at the end of time",
        [setter("term_months", DELETE), setter("repayment_date", "9999-12-31")],
        "repayment_date",
    ),
    ("emoji in a name", [setter("counterparty.name", "李四😀")], "counterparty.name"),
    ("a name the document cannot print", [setter("counterparty.name", "𠀀")], "counterparty.name"),
    ("zero-width space in a name", [setter("me.name", "王\u200b五")], "me.name"),
    ("a purpose the document cannot print", [setter("purpose", "𪚥借钱")], "purpose"),
    ("format character in the purpose", [setter("purpose", "买车\u061c")], "purpose"),
    (
        "a note the document cannot print",
        [setter("payment_method", "other"), setter("payment_note", "现金ꙮ")],
        "payment_note",
    ),
    ("no period", [setter("term_months", DELETE)], "repayment_date"),
    ("both periods", [setter("repayment_date", "2099-01-01")], "repayment_date"),
    (
        "repayment before loan",
        [setter("term_months", DELETE), setter("repayment_date", SAME_DAY)],
        "repayment_date",
    ),
    ("term zero", [setter("term_months", 0)], "term_months"),
    ("term too long", [setter("term_months", 361)], "term_months"),
    (
        "monthly method over broken months",
        [
            setter("term_months", DELETE),
            setter("repayment_date", (date.today() + timedelta(days=45)).isoformat()),
        ],
        "repayment_date",
    ),
    ("rate above 4x LPR", [setter("annual_rate", "24")], "annual_rate"),
    ("rate text", [setter("annual_rate", "六")], "annual_rate"),
    ("rate in Arabic-Indic digits", [setter("annual_rate", "٦")], "annual_rate"),
    ("overdue above 4x LPR", [setter("overdue_rate", "30")], "overdue_rate"),
    ("overdue negative", [setter("overdue_rate", "-1")], "overdue_rate"),
    ("payment method", [setter("payment_method", "bitcoin")], "payment_method"),
    ("other without note", [setter("payment_method", "other")], "payment_note"),
    ("repayment method", [setter("repayment_method", "whenever")], "repayment_method"),
    ("role", [setter("role", "guarantor")], "role"),
]


@pytest.mark.parametrize(
    ("mutations", "field"), [(m, f) for _, m, f in CASES], ids=[c[0] for c in CASES]
)
async def test_each_wrong_field_is_named_and_nothing_is_stored(
    served: tuple[httpx.AsyncClient, AsyncEngine],
    token_issuer: TestTokenIssuer,
    mutations: list[Callable[[dict[str, Any]], None]],
    field: str,
) -> None:
    client, engine = served
    me, other = person("王五", 11), person("赵六", 12)
    body = draft(me, other)
    for mutate in mutations:
        mutate(body)
    before = await counts(engine)
    answer = await client.post(
        "/ious",
        json=body,
        headers={"authorization": f"Bearer {token_issuer.token(me['phone'])}"},
    )
    assert answer.status_code == 422, answer.text
    named = [f["field"] for f in answer.json()["fields"]]
    assert field in named, named
    assert all(f["message"] for f in answer.json()["fields"])
    assert await counts(engine) == before


async def test_the_same_person_on_both_sides_is_refused(
    served: tuple[httpx.AsyncClient, AsyncEngine], token_issuer: TestTokenIssuer
) -> None:
    client, engine = served
    me = person("王五", 21)
    other = {**person("王五", 22), "id_number": me["id_number"]}
    before = await counts(engine)
    answer = await client.post(
        "/ious",
        json=draft(me, other),
        headers={"authorization": f"Bearer {token_issuer.token(me['phone'])}"},
    )
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == ["counterparty"]
    assert await counts(engine) == before


async def test_every_problem_is_reported_at_once(
    served: tuple[httpx.AsyncClient, AsyncEngine], token_issuer: TestTokenIssuer
) -> None:
    client, engine = served
    before = await counts(engine)
    me, other = person("王五", 31), person("赵六", 32)
    body = draft(me, other)
    body.update(principal="0", purpose="", payment_method="x")
    body["counterparty"]["id_number"] = "110105194912310021"
    answer = await client.post(
        "/ious",
        json=body,
        headers={"authorization": f"Bearer {token_issuer.token(me['phone'])}"},
    )
    assert answer.status_code == 422
    assert {f["field"] for f in answer.json()["fields"]} >= {
        "principal",
        "purpose",
        "payment_method",
        "counterparty.id_number",
    }
    assert await counts(engine) == before


async def _verified(nats_url: str, engine: AsyncEngine, who: dict[str, str]) -> None:
    """Identity announces that the account with ``who``'s phone passed a face check."""
    event = VerificationPassed(
        verification_id=str(uuid.uuid4()),
        agreement_id=str(uuid.uuid4()),  # an IOU agreements does not know: still learned
        party_role="lender",
        action="sign",
        account_id=str(uuid.uuid4()),
        account_phone=who["phone"],
        verified_name=who["name"],
        id_number_sha256=id_number_sha256(who["id_number"]),
        provider="local",
        passed_at=datetime.now(UTC),
    )
    envelope = Envelope(type="VerificationPassed", data=event.model_dump(mode="json"))
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            Subject.VERIFICATION_PASSED,
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": envelope.message_id},
        )
    finally:
        await nc.close()

    async def learned() -> bool:
        async with engine.connect() as conn:
            row = await conn.scalar(
                text("SELECT count(*) FROM verified_identities WHERE verification_id = :v"),
                {"v": event.verification_id},
            )
        return bool(row)

    await wait_until(learned)


async def test_after_a_face_check_the_initiator_must_be_the_verified_person(
    served: tuple[httpx.AsyncClient, AsyncEngine],
    token_issuer: TestTokenIssuer,
    backing_servers: BackingServers,
) -> None:
    client, engine = served
    me, other = person("王五", 41), person("赵六", 42)
    headers = {"authorization": f"Bearer {token_issuer.token(me['phone'])}"}
    await _verified(backing_servers.nats_url, engine, me)

    before = await counts(engine)
    wrong_name = draft({**me, "name": "王六"}, other)
    answer = await client.post("/ious", json=wrong_name, headers=headers)
    assert answer.status_code == 422
    [problem] = answer.json()["fields"]
    assert problem["field"] == "me.name" and problem["code"] == "name_not_verified_identity"
    assert "实名认证" in problem["message"]

    wrong_id = draft({**me, "id_number": person("王五", 43)["id_number"]}, other)
    answer = await client.post("/ious", json=wrong_id, headers=headers)
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == ["me.id_number"]
    assert await counts(engine) == before

    created = await client.post("/ious", json=draft(me, other), headers=headers)
    assert created.status_code == 201, created.text
    # an account never verified may still start an IOU with any valid details
    fresh = person("孙七", 44)
    unverified = await client.post(
        "/ious",
        json=draft(fresh, other),
        headers={"authorization": f"Bearer {token_issuer.token(fresh['phone'])}"},
    )
    assert unverified.status_code == 201, unverified.text


async def test_a_body_that_is_not_utf8_is_a_400_in_the_usual_shape(
    served: tuple[httpx.AsyncClient, AsyncEngine], token_issuer: TestTokenIssuer
) -> None:
    client, engine = served
    before = await counts(engine)
    answer = await client.post(
        "/ious",
        content=b'{"purpose": "\xff\xfe"}',
        headers={
            "authorization": f"Bearer {token_issuer.token('+8613500000099')}",
            "content-type": "application/json",
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert await counts(engine) == before


async def test_a_rate_typed_with_full_width_digits_is_read(
    served: tuple[httpx.AsyncClient, AsyncEngine], token_issuer: TestTokenIssuer
) -> None:
    client, _ = served
    me, other = person("王五", 21), person("赵六", 22)
    body = draft(me, other) | {"annual_rate": "６．５％", "overdue_rate": "８"}
    answer = await client.post(
        "/ious/quote",
        json=body,
        headers={"authorization": f"Bearer {token_issuer.token(me['phone'])}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["annual_rate"] == "6.50" and answer.json()["overdue_rate"] == "8.00"
