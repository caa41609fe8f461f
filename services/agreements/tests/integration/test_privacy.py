"""Personal data: encrypted at rest, masked for the other party, never in logs or metrics.

One IOU goes through its whole life over agreements' HTTP API (the facts other
services would announce are published on the bus by the test), with every log
record captured; then logs, metric labels and the database are searched for the
phone and ID numbers used.
"""

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import nats
import pytest
import pytest_asyncio
from agreements.app import build_spec
from agreements.settings import get_settings
from jietiao_shared.bus import provision
from jietiao_shared.contracts import (
    Contract,
    DocumentRendered,
    Envelope,
    SignatureCaptured,
    Subject,
    VerificationPassed,
)
from jietiao_shared.crypto import new_data_key, new_lookup_key
from jietiao_shared.db import migrate
from jietiao_shared.personal import id_check_character, id_number_sha256
from jietiao_shared.service import create_app
from jietiao_stack.testing import BackingServers, TestTokenIssuer, free_port, serving, wait_until
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATABASE = "agreements_privacy"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    backing_servers: BackingServers, token_issuer: TestTokenIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """Agreements served for real with configured keys, and its database."""
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url(DATABASE))
    mp.setenv("JIETIAO_JWKS_URL", token_issuer.jwks_url)
    mp.setenv("JIETIAO_DATA_KEYS", new_data_key("test2") + "," + new_data_key("test1"))
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


def person(name: str) -> dict[str, str]:
    first17 = f"3301061985{uuid.uuid4().int % 10**4:04d}{uuid.uuid4().int % 1000:03d}"
    first17 = first17[:10] + "0315" + first17[14:]  # a real birth date: 1985-03-15
    return {
        "name": name,
        "id_number": first17 + id_check_character(first17),
        "phone": f"+86137{uuid.uuid4().int % 10**8:08d}",
    }


async def publish(nats_url: str, subject: str, payload: Contract) -> None:
    """Announce a fact as the owning service would."""
    envelope = Envelope(type=type(payload).__name__, data=payload.model_dump(mode="json"))
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            subject,
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": envelope.message_id},
        )
    finally:
        await nc.close()


class Lifecycle:
    """Drives one IOU: HTTP calls as the parties, bus facts as the other services."""

    def __init__(self, client: httpx.AsyncClient, issuer: TestTokenIssuer, nats_url: str) -> None:
        self.client, self.issuer, self.nats_url = client, issuer, nats_url
        self.lender, self.borrower = person("张三"), person("李四")
        self.accounts = {"lender": str(uuid.uuid4()), "borrower": str(uuid.uuid4())}
        self.iou_id = ""
        self.preview_sha = hashlib.sha256(uuid.uuid4().bytes).hexdigest()

    def auth(self, role: str) -> dict[str, str]:
        phone = (self.lender if role == "lender" else self.borrower)["phone"]
        return {"authorization": f"Bearer {self.issuer.token(phone, self.accounts[role])}"}

    async def status(self, role: str = "lender") -> str:
        answer = await self.client.get(f"/ious/{self.iou_id}", headers=self.auth(role))
        status: str = answer.json()["status"]
        return status

    async def reach(self, status: str) -> None:
        await wait_until(lambda: self._is(status), seconds=20)

    async def _is(self, status: str) -> bool:
        return await self.status() == status

    async def create(self) -> dict[str, Any]:
        answer = await self.client.post(
            "/ious",
            headers=self.auth("lender"),
            json={
                "notice": {"version": "2026-01", "accepted": True},
                "role": "lender",
                "me": self.lender,
                "counterparty": self.borrower,
                "principal": "12000",
                "purpose": "装修",
                "loan_date": date.today().isoformat(),
                "term_months": 6,
                "annual_rate": "6",
                "overdue_rate": "9",
                "payment_method": "bank_transfer",
                "repayment_method": "equal_instalments",
                "reminders_enabled": True,
            },
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        self.iou_id = body["id"]
        return body

    async def preview_rendered(self) -> None:
        await publish(
            self.nats_url,
            Subject.DOCUMENT_RENDERED,
            DocumentRendered(
                agreement_id=self.iou_id,
                kind="preview",
                version=1,
                sha256=self.preview_sha,
                size=1000,
                rendered_at=datetime.now(UTC),
            ),
        )

    async def passes(self, role: str, action: str) -> None:
        who = self.lender if role == "lender" else self.borrower
        await publish(
            self.nats_url,
            Subject.VERIFICATION_PASSED,
            VerificationPassed(
                verification_id=str(uuid.uuid4()),
                agreement_id=self.iou_id,
                party_role=role,  # type: ignore[arg-type]
                action=action,  # type: ignore[arg-type]
                account_id=self.accounts[role],
                account_phone=who["phone"],
                verified_name=who["name"],
                id_number_sha256=id_number_sha256(who["id_number"]),
                provider="local",
                passed_at=datetime.now(UTC),
            ),
        )

    async def signs(self, role: str) -> None:
        who = self.lender if role == "lender" else self.borrower
        await publish(
            self.nats_url,
            Subject.SIGNATURE_CAPTURED,
            SignatureCaptured(
                signature_id=str(uuid.uuid4()),
                agreement_id=self.iou_id,
                party_role=role,  # type: ignore[arg-type]
                account_id=self.accounts[role],
                account_phone=who["phone"],
                document_sha256=self.preview_sha,
                strokes_sha256="0" * 64,
                png_sha256="1" * 64,
                png_base64="",
                signed_at=datetime.now(UTC),
                user_agent="test",
                client_ip="127.0.0.1",
            ),
        )
        await self.passes(role, "sign")


async def test_a_whole_lifecycle_leaves_no_phone_or_id_number_in_logs_metrics_or_rows(
    served: tuple[httpx.AsyncClient, AsyncEngine],
    token_issuer: TestTokenIssuer,
    backing_servers: BackingServers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, engine = served
    caplog.set_level(logging.DEBUG)
    life = Lifecycle(client, token_issuer, backing_servers.nats_url)

    created = await life.create()
    mine, theirs = created["parties"]["lender"], created["parties"]["borrower"]
    assert mine["phone"] == life.lender["phone"] and mine["id_number"] == life.lender["id_number"]
    assert theirs["phone"] == life.borrower["phone"][3:6] + "****" + life.borrower["phone"][-4:]
    assert (
        theirs["id_number"]
        == life.borrower["id_number"][:3] + "*" * 11 + (life.borrower["id_number"][-4:])
    )
    await life.preview_rendered()
    await life.reach("awaiting_initiator")
    await life.signs("lender")
    await life.reach("awaiting_counterparty")
    seen = await client.get(f"/ious/{life.iou_id}", headers=life.auth("borrower"))
    assert seen.json()["parties"]["lender"]["id_number"].count("*") == 11
    party = await client.get(f"/ious/{life.iou_id}/party", headers=life.auth("borrower"))
    assert party.json()["id_number"] == life.borrower["id_number"]
    await life.signs("borrower")
    await life.reach("effective")

    folder = await client.get("/ious", headers=life.auth("borrower"))
    assert [i["id"] for i in folder.json()["items"]] == [life.iou_id]
    void = await client.post(
        f"/ious/{life.iou_id}/void-requests", json={"reason": "写错了"}, headers=life.auth("lender")
    )
    assert void.status_code == 201, void.text
    await life.passes("lender", "request_void")
    await life.reach("void_requested")
    void_id = (await client.get(f"/ious/{life.iou_id}", headers=life.auth("borrower"))).json()[
        "void_request"
    ]["id"]
    confirm = await client.post(
        f"/ious/{life.iou_id}/void-requests/{void_id}/confirm", headers=life.auth("borrower")
    )
    assert confirm.status_code == 200, confirm.text
    await life.passes("borrower", "confirm_void")
    await life.reach("voided")
    await client.get(f"/ious/{life.iou_id}/audit", headers=life.auth("lender"))

    secrets = [
        p[key].removeprefix("+86")
        for p in (life.lender, life.borrower)
        for key in ("phone", "id_number")
    ]
    records = [r for r in caplog.records]
    assert records, "no log record was captured"
    for record in records:
        texts = [record.getMessage(), str(record.args), record.exc_text or ""]
        texts += [str(v) for v in vars(record).get("fields", {}).values()]
        for secret in secrets:
            assert all(secret not in t for t in texts), (record.name, record.getMessage())

    metrics = (await client.get("/metrics")).text
    assert all(secret not in metrics for secret in secrets)

    async with engine.connect() as conn:
        dumps = [
            str((await conn.execute(text(f"SELECT * FROM {table}"))).all())
            for table in (
                "ious",
                "parties",
                "verifications_received",
                "verified_identities",
                "audit_log",
                "void_requests",
            )
        ]
        sealed = (
            await conn.execute(
                text(
                    "SELECT phone, id_number, phone_enc, id_number_enc FROM parties"
                    " WHERE iou_id = :id"
                ),
                {"id": life.iou_id},
            )
        ).all()
    for dump in dumps:
        assert all(secret not in dump for secret in secrets)
    assert all(row.phone is None and row.id_number is None for row in sealed)
    assert all(row.phone_enc.startswith("test2:") for row in sealed)


async def test_rows_sealed_under_an_older_key_or_in_plaintext_are_read_and_resealed(
    served: tuple[httpx.AsyncClient, AsyncEngine],
    token_issuer: TestTokenIssuer,
    backing_servers: BackingServers,
) -> None:
    from agreements import store
    from agreements.settings import get_cipher
    from jietiao_shared.crypto import FieldCipher

    client, engine = served
    life = Lifecycle(client, token_issuer, backing_servers.nats_url)
    await life.create()
    keys = get_settings().data_keys.split(",")
    older = FieldCipher.from_config(keys[1], get_settings().lookup_key)
    async with engine.begin() as conn:
        # the lender's row as an older key wrote it, the borrower's as before 0002
        await conn.execute(
            text(
                "UPDATE parties SET phone_enc = :p, id_number_enc = :i WHERE iou_id = :id"
                " AND role = 'lender'"
            ),
            {
                "p": older.encrypt(
                    life.lender["phone"], context=f"parties.phone/{life.iou_id}/lender"
                ),
                "i": older.encrypt(
                    life.lender["id_number"], context=f"parties.id_number/{life.iou_id}/lender"
                ),
                "id": life.iou_id,
            },
        )
        await conn.execute(
            text(
                "UPDATE parties SET phone = :p, id_number = :i, phone_enc = NULL,"
                " id_number_enc = NULL WHERE iou_id = :id AND role = 'borrower'"
            ),
            {"p": life.borrower["phone"], "i": life.borrower["id_number"], "id": life.iou_id},
        )
    seen = await client.get(f"/ious/{life.iou_id}", headers=life.auth("lender"))
    assert seen.json()["parties"]["lender"]["id_number"] == life.lender["id_number"]
    assert seen.json()["parties"]["borrower"]["phone"].endswith(life.borrower["phone"][-4:])

    async with engine.begin() as conn:
        assert await store.seal_plaintext(conn, get_cipher()) >= 2
        rows = (
            await conn.execute(
                text("SELECT * FROM parties WHERE iou_id = :id ORDER BY role"),
                {"id": life.iou_id},
            )
        ).all()
    assert all(r.phone is None and r.phone_enc.startswith("test2:") for r in rows)
    again = await client.get(f"/ious/{life.iou_id}", headers=life.auth("borrower"))
    assert again.json()["parties"]["borrower"]["id_number"] == life.borrower["id_number"]
