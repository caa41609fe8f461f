"""Share links: renewal by the rightful party, and the QR code of a live link."""

import secrets
import uuid
from datetime import datetime
from typing import Any

import pytest
from jietiao_shared.contracts import CloseFlow, IssueShareLink, Subject
from notify import qr

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _issue(bus: Any, agreement: str, holder: str, owner: str) -> None:
    ack = await bus.send(
        Subject.ISSUE_SHARE_LINK,
        IssueShareLink(
            agreement_id=agreement, party_role="borrower", holder_phone=holder, owner_phones=[owner]
        ),
    )
    await bus.handled("share-link-issue", ack)


async def _links(http: Any, issuer: Any, agreement: str, who: str) -> list[Any]:
    answer = await http.get(
        "/share-links",
        params={"agreement_id": agreement},
        headers={"authorization": f"Bearer {issuer.token(who)}"},
    )
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def _renew(http: Any, issuer: Any, agreement: str, who: str) -> Any:
    return await http.post(
        "/share-links/renew",
        json={"agreement_id": agreement},
        headers={"authorization": f"Bearer {issuer.token(who)}"},
    )


@pytest.mark.parametrize("renewer", ["holder", "owner"])
async def test_the_rightful_party_gets_a_fresh_token_with_the_same_expiry(
    bus: Any, http: Any, issuer: Any, phone: Any, renewer: str
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await _issue(bus, agreement, holder=borrower, owner=lender)
    [old] = await _links(http, issuer, agreement, lender)

    answer = await _renew(http, issuer, agreement, borrower if renewer == "holder" else lender)

    assert answer.status_code == 201, answer.text
    fresh = answer.json()
    assert fresh["token"] != old["token"]
    assert len(fresh["token"]) == 32
    assert fresh["url"].endswith("/s/" + fresh["token"])
    assert datetime.fromisoformat(fresh["expires_at"]) == datetime.fromisoformat(old["expires_at"])
    assert (await http.get(f"/share-links/{fresh['token']}")).status_code == 200
    revoked = await http.get(f"/share-links/{old['token']}")
    forged = await http.get(f"/share-links/{secrets.token_urlsafe(24)}")
    assert revoked.status_code == forged.status_code == 404
    assert revoked.json() == forged.json()
    assert [link["token"] for link in await _links(http, issuer, agreement, lender)] == [
        fresh["token"]
    ]


async def test_nobody_else_can_renew_and_a_closed_flow_has_nothing_to_renew(
    bus: Any, http: Any, issuer: Any, phone: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await _issue(bus, agreement, holder=borrower, owner=lender)

    stranger = await _renew(http, issuer, agreement, phone())
    unknown = await _renew(http, issuer, str(uuid.uuid4()), lender)
    anonymous = await http.post("/share-links/renew", json={"agreement_id": agreement})
    ack = await bus.send(Subject.CLOSE_FLOW, CloseFlow(agreement_id=agreement, ending="withdrawn"))
    await bus.handled("flow-close", ack)
    closed = await _renew(http, issuer, agreement, borrower)

    assert stranger.status_code == unknown.status_code == closed.status_code == 404
    assert stranger.json() == unknown.json() == closed.json()
    assert anonymous.status_code == 401


async def test_a_live_link_has_a_qr_code_and_a_dead_one_does_not(
    bus: Any, http: Any, issuer: Any, phone: Any, notify: Any
) -> None:
    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await _issue(bus, agreement, holder=borrower, owner=lender)
    [link] = await _links(http, issuer, agreement, lender)

    image = await http.get(f"/share-links/{link['token']}/qr.png")
    forged = await http.get(f"/share-links/{secrets.token_urlsafe(24)}/qr.png")

    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.content == qr.png(link["url"])
    assert forged.status_code == 404
    assert forged.json()["error"] == "share_link_invalid"


async def test_with_wechat_configured_the_qr_is_a_mini_program_code(
    bus: Any, http: Any, issuer: Any, phone: Any, database: Any
) -> None:
    from types import SimpleNamespace

    from fake_wechat import FakeWeChat
    from jietiao_shared.wechat import WeChatClient
    from notify.api import share_link_qr
    from notify.settings import NotifySettings

    agreement, lender, borrower = str(uuid.uuid4()), phone(), phone()
    await _issue(bus, agreement, holder=borrower, owner=lender)
    [link] = await _links(http, issuer, agreement, lender)
    fake = FakeWeChat("wxfake", "fake-secret").start()
    client = WeChatClient("wxfake", "fake-secret", api_url=fake.url)
    state = SimpleNamespace(
        runtime=SimpleNamespace(engine=database), settings=NotifySettings(), wechat=client
    )
    request: Any = SimpleNamespace(app=SimpleNamespace(state=state))
    try:
        image = await share_link_qr(link["token"], request)
        fake.qr_error = 45009
        with pytest.raises(Exception) as unavailable:
            await share_link_qr(link["token"], request)
    finally:
        await client.aclose()
        fake.stop()

    assert image.body.startswith(b"\x89PNG")
    path, sent = fake.calls[-2]
    assert (path, sent["scene"], sent["page"]) == (
        "/wxa/getwxacodeunlimit",
        link["token"],
        "pages/share/index",
    )
    assert getattr(unavailable.value, "status", None) == 503
