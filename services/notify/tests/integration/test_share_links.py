"""Share links: issued by command, listed for owners, resolved by anyone, revoked."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jietiao_shared.contracts import (
    CloseFlow,
    IssueShareLink,
    ReminderInstalment,
    ScheduleReminders,
    SendSms,
    Subject,
)
from sqlalchemy import text

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def issue(bus: Any, agreement: str, holder: str, owner: str) -> None:
    """Issue a signing link for the borrower and wait until notify handled it."""
    ack = await bus.send(
        Subject.ISSUE_SHARE_LINK,
        IssueShareLink(
            agreement_id=agreement,
            party_role="borrower",
            holder_phone=holder,
            owner_phones=[owner],
        ),
    )
    await bus.handled("share-link-issue", ack)


async def links(http: Any, issuer: Any, agreement: str, who: str) -> list[Any]:
    """The live links ``who`` may see."""
    response = await http.get(
        "/share-links",
        params={"agreement_id": agreement},
        headers={"authorization": f"Bearer {issuer.token(who)}"},
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_owner_and_holder_get_the_link_and_anyone_resolves_it(
    bus: Any, http: Any, issuer: Any, phone: Any, notify: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await issue(bus, agreement, holder=borrower, owner=lender)

    [link] = await links(http, issuer, agreement, lender)
    assert await links(http, issuer, agreement, borrower) == [link]
    assert link["url"] == f"{notify.public_url}/s/{link['token']}"
    assert (link["party_role"], link["purpose"]) == ("borrower", "sign")
    resolved = await http.get(f"/share-links/{link['token']}")
    assert resolved.status_code == 200
    body = resolved.json()
    assert set(body) == {"agreement_id", "party_role", "purpose", "expires_at"}
    assert body["agreement_id"] == agreement
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)


async def test_only_owners_and_the_holder_see_links(
    bus: Any, http: Any, issuer: Any, phone: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await issue(bus, agreement, holder=borrower, owner=lender)

    assert await links(http, issuer, agreement, phone()) == []
    anonymous = await http.get("/share-links", params={"agreement_id": agreement})
    assert anonymous.status_code == 401


async def test_a_forged_token_reveals_nothing(http: Any) -> None:
    forged = await http.get(f"/share-links/{secrets.token_urlsafe(32)}")
    too_long = await http.get(f"/share-links/{'a' * 500}")

    assert forged.status_code == too_long.status_code == 404
    assert forged.json() == too_long.json()
    assert forged.json()["error"] == "share_link_invalid"


async def test_an_expired_link_answers_like_a_forged_one(
    bus: Any, http: Any, issuer: Any, phone: Any, database: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await issue(bus, agreement, holder=borrower, owner=lender)
    [link] = await links(http, issuer, agreement, lender)

    async with database.begin() as conn:
        await conn.execute(
            text(
                "UPDATE share_links SET expires_at = now() - interval '1 second'"
                " WHERE agreement_id = :a"
            ),
            {"a": agreement},
        )

    expired = await http.get(f"/share-links/{link['token']}")
    forged = await http.get(f"/share-links/{secrets.token_urlsafe(32)}")
    assert expired.status_code == 404
    assert expired.json() == forged.json()
    assert await links(http, issuer, agreement, lender) == []


async def test_closing_the_flow_undoes_what_it_set_in_motion(
    bus: Any, http: Any, issuer: Any, phone: Any, ops: Any, wait_for: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await issue(bus, agreement, holder=borrower, owner=lender)
    await _schedule(bus, agreement, borrower, seqs=(1, 2))
    [link] = await links(http, issuer, agreement, lender)

    ack = await bus.send(Subject.CLOSE_FLOW, CloseFlow(agreement_id=agreement, ending="withdrawn"))
    await bus.handled("flow-close", ack)

    revoked = await http.get(f"/share-links/{link['token']}")
    forged = await http.get(f"/share-links/{secrets.token_urlsafe(32)}")
    assert revoked.status_code == 404
    assert revoked.json() == forged.json()
    assert await links(http, issuer, agreement, lender) == []
    schedule = await ops("/ops/reminders", agreement_id=agreement)
    assert [(r["status"], r["cancel_reason"]) for r in schedule] == [
        ("cancelled", "withdrawn"),
        ("cancelled", "withdrawn"),
    ]


async def test_after_closing_only_flow_ending_sms_go_out(
    bus: Any, phone: Any, ops: Any, wait_for: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    ack = await bus.send(Subject.CLOSE_FLOW, CloseFlow(agreement_id=agreement, ending="withdrawn"))
    await bus.handled("flow-close", ack)

    await bus.send(
        Subject.SEND_SMS,
        SendSms(
            kind="invitation",
            phone=borrower,
            agreement_id=agreement,
            params={"initiator": "张*"},
        ),
    )
    await bus.send(
        Subject.SEND_SMS,
        SendSms(
            kind="withdrawn",
            phone=borrower,
            agreement_id=agreement,
            params={"initiator": "张*"},
        ),
    )

    async def settled() -> dict[str, str] | None:
        found = {m["kind"]: m["status"] for m in await ops("/ops/sms", phone=borrower)}
        return found if found.get("withdrawn") == "sent" and len(found) == 2 else None

    assert await wait_for(settled) == {"invitation": "dropped", "withdrawn": "sent"}


async def test_nothing_new_starts_for_a_closed_flow(
    bus: Any, http: Any, issuer: Any, phone: Any, ops: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    ack = await bus.send(Subject.CLOSE_FLOW, CloseFlow(agreement_id=agreement, ending="expired"))
    await bus.handled("flow-close", ack)

    await issue(bus, agreement, holder=borrower, owner=lender)
    await _schedule(bus, agreement, borrower, seqs=(1,))

    assert await links(http, issuer, agreement, lender) == []
    assert await ops("/ops/reminders", agreement_id=agreement) == []


async def test_closing_drops_sms_still_queued_but_keeps_ending_ones(
    bus: Any, phone: Any, ops: Any, database: Any
) -> None:
    agreement, borrower = str(uuid.uuid4()), phone()
    async with database.begin() as conn:
        for kind in ("invitation", "withdrawn"):
            await conn.execute(
                text(
                    "INSERT INTO sms_messages (id, source_message_id, kind, phone,"
                    " text, agreement_id, status, next_attempt_at) VALUES (:id,"
                    " :src, :kind, :phone, 'x', :a, 'queued', now() + interval '1h')"
                ),
                {
                    "id": uuid.uuid4(),
                    "src": str(uuid.uuid4()),
                    "kind": kind,
                    "phone": borrower,
                    "a": agreement,
                },
            )

    ack = await bus.send(Subject.CLOSE_FLOW, CloseFlow(agreement_id=agreement, ending="withdrawn"))
    await bus.handled("flow-close", ack)

    found = {m["kind"]: m["status"] for m in await ops("/ops/sms", phone=borrower)}
    assert found == {"invitation": "dropped", "withdrawn": "queued"}


async def _schedule(bus: Any, agreement: str, borrower: str, seqs: tuple[int, ...]) -> None:
    plan = ScheduleReminders(
        agreement_id=agreement,
        borrower_phone=borrower,
        borrower_name="王小明",
        instalments=[
            ReminderInstalment(seq=s, due_date=f"2099-0{s}-04", total_fen=100_00) for s in seqs
        ],
    )
    ack = await bus.send(Subject.SCHEDULE_REMINDERS, plan)
    await bus.handled("reminders-schedule", ack)
