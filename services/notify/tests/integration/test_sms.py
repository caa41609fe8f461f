"""SendSms against real NATS and PostgreSQL: one SMS per event, sent by the worker."""

import json
import uuid
from typing import Any

import pytest
from jietiao_shared.contracts import EVENTS_STREAM, SendSms, Subject

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_same_event_published_twice_makes_one_sms(
    bus: Any, ops: Any, phone: Any, wait_for: Any, notify: Any
) -> None:
    to = phone()
    body = bus.envelope(SendSms(kind="login_code", phone=to, params={"code": "246810"}))

    await bus.publish(Subject.SEND_SMS, body)
    again = await bus.publish(Subject.SEND_SMS, body, msg_id=str(uuid.uuid4()))
    await bus.handled("sms-send", again)

    assert not again.duplicate, "JetStream took both: only the inbox can dedupe"
    sent = await wait_for(lambda: _with_status(ops, to, "sent"))
    assert len(await ops("/ops/sms", phone=to)) == 1
    assert sent["text"] == "您的登录验证码为246810，5分钟内有效。"
    assert sent["kind"] == "login_code"
    assert sent["provider"] == "local"
    assert sent["phone"] == f"{to[3:6]}****{to[-4:]}"
    assert sent["sent_at"] is not None


async def test_a_sent_sms_is_announced_on_the_bus(
    bus: Any, ops: Any, phone: Any, wait_for: Any
) -> None:
    to = phone()
    await bus.send(Subject.SEND_SMS, SendSms(kind="expired", phone=to))

    sent = await wait_for(lambda: _with_status(ops, to, "sent"))

    async def announced() -> dict[str, Any] | None:
        last = await bus.js.get_last_msg(EVENTS_STREAM, Subject.SMS_DELIVERED)
        data: dict[str, Any] = json.loads(last.data)["data"]
        return data if data["sms_id"] == sent["id"] else None

    event = await wait_for(announced)
    assert event == {
        "sms_id": sent["id"],
        "kind": "expired",
        "agreement_id": None,
        "provider": "local",
    }


async def test_bad_template_variables_are_recorded_as_rejected(
    bus: Any, ops: Any, phone: Any
) -> None:
    to = phone()
    ack = await bus.send(
        Subject.SEND_SMS,
        SendSms(kind="invitation", phone=to, params={}),
    )
    await bus.handled("sms-send", ack)

    [recorded] = await ops("/ops/sms", phone=to)
    assert recorded["status"] == "rejected"
    assert recorded["error"] == "variable_missing"
    assert recorded["text"] == ""


async def test_filters_narrow_the_operator_listing(
    bus: Any, ops: Any, phone: Any, wait_for: Any
) -> None:
    to, agreement = phone(), str(uuid.uuid4())
    for kind in ("void_cancelled", "voided"):
        await bus.send(Subject.SEND_SMS, SendSms(kind=kind, phone=to, agreement_id=agreement))

    await wait_for(lambda: _count(ops, 2, agreement_id=agreement))
    [voided] = await ops("/ops/sms", agreement_id=agreement, kind="voided")
    assert voided["agreement_id"] == agreement
    newest_first = await ops("/ops/sms", phone=to, limit="1")
    assert len(newest_first) == 1


async def test_operator_endpoints_need_the_operator_token(http: Any) -> None:
    missing = await http.get("/ops/sms")
    wrong = await http.get("/ops/reminders", headers={"x-operator-token": "nope"})

    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["error"] == "operator_only"


async def test_a_bad_phone_filter_is_a_field_error(http: Any, notify: Any) -> None:
    response = await http.get(
        "/ops/sms",
        params={"phone": "12345"},
        headers={"x-operator-token": notify.operator_token},
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "phone"


async def test_logs_carry_no_code_and_no_phone(
    bus: Any, ops: Any, phone: Any, wait_for: Any, notify: Any
) -> None:
    to = phone()
    await bus.send(Subject.SEND_SMS, SendSms(kind="login_code", phone=to, params={"code": "97531"}))
    await wait_for(lambda: _with_status(ops, to, "sent"))

    log = notify.log_path.read_text("utf-8")
    assert "97531" not in log
    assert to[-8:] not in log


async def _with_status(ops: Any, to: str, status: str) -> dict[str, Any] | None:
    found = [m for m in await ops("/ops/sms", phone=to) if m["status"] == status]
    return found[0] if found else None


async def _count(ops: Any, n: int, **filters: str) -> bool:
    return len(await ops("/ops/sms", **filters)) >= n
