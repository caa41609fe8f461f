"""Mini-program login against a local stand-in for WeChat's jscode2session."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from identity.app import build_spec
from identity.tokens import issue_token
from jietiao_shared.bus import provision
from jietiao_shared.db import migrate
from jietiao_shared.service import create_app
from jietiao_stack.testing import (
    BackingServers,
    free_port,
    serve_json_gets,
    serving,
    stop_server,
)
from sqlalchemy import text

pytestmark = pytest.mark.asyncio(loop_scope="module")

OPENIDS = {"code-ann-1": "o-ann", "code-ann-2": "o-ann", "code-bob-1": "o-bob"}


class FakeWeChat:
    """Answers jscode2session like WeChat: an openid per code, each code usable once."""

    used: ClassVar[set[str]] = set()

    @classmethod
    def answer(cls, path: str) -> tuple[int, bytes]:
        query = parse_qs(urlsplit(path).query)
        code = query.get("js_code", [""])[0]
        if query.get("secret") != ["app-secret"] or code not in OPENIDS:
            answer: dict[str, Any] = {"errcode": 40029, "errmsg": "invalid code"}
        elif code in cls.used:
            answer = {"errcode": 40163, "errmsg": "code been used"}
        else:
            cls.used.add(code)
            answer = {"openid": OPENIDS[code], "session_key": "never-leaves-the-server"}
        return 200, json.dumps(answer).encode()


@pytest.fixture(scope="module")
def wechat() -> Iterator[str]:
    server = serve_json_gets(FakeWeChat.answer)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop_server(server)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def identity(backing_servers: BackingServers, wechat: str) -> AsyncIterator[Any]:
    port = free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("JIETIAO_NATS_URL", backing_servers.nats_url)
    mp.setenv("JIETIAO_DATABASE_URL", backing_servers.database_url("test_identity_wechat"))
    mp.setenv("JIETIAO_JWKS_URL", f"http://127.0.0.1:{port}/.well-known/jwks.json")
    mp.setenv("JIETIAO_WECHAT_APP_ID", "wx-app")
    mp.setenv("JIETIAO_WECHAT_APP_SECRET", "app-secret")
    mp.setenv("JIETIAO_WECHAT_API_URL", wechat)
    spec = build_spec()
    await migrate(spec.settings.database_url, spec.migration_packages)
    await provision(backing_servers.nats_url)
    app = create_app(spec)
    async with (
        serving(app, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield app, client
    mp.undo()


async def phone_session(app: Any, phone: str) -> tuple[str, str]:
    """An account verified by phone, and its session token."""
    account_id = str(uuid.uuid4())
    async with app.state.runtime.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO accounts (id, phone) VALUES (:id, :p)"),
            {"id": account_id, "p": phone},
        )
    return account_id, issue_token(
        app.state.keys, account_id=account_id, phone=phone, ttl_seconds=600
    )


async def test_a_bound_mini_program_user_logs_in_with_a_fresh_code(identity: Any) -> None:
    app, client = identity
    account_id, token = await phone_session(app, "+8613700000001")

    before = await client.post("/auth/wechat/sessions", json={"code": "code-ann-1"})
    bound = await client.post(
        "/auth/wechat/bind",
        json={"code": "code-ann-2"},
        headers={"authorization": f"Bearer {token}"},
    )
    FakeWeChat.used.discard("code-ann-1")
    session = await client.post("/auth/wechat/sessions", json={"code": "code-ann-1"})
    reused = await client.post("/auth/wechat/sessions", json={"code": "code-ann-1"})

    assert before.status_code == 404 and before.json()["error"] == "wechat_not_bound"
    assert bound.status_code == 200
    assert session.status_code == 200, session.text
    assert session.json()["account_id"] == account_id
    assert "never-leaves-the-server" not in session.text
    me = await client.get(
        "/me", headers={"authorization": f"Bearer {session.json()['access_token']}"}
    )
    assert me.json()["phone"] == "+8613700000001"
    assert reused.status_code == 400 and reused.json()["error"] == "wechat_code_invalid"


async def test_one_wechat_user_cannot_be_bound_to_two_accounts(identity: Any) -> None:
    app, client = identity
    _, first = await phone_session(app, "+8613700000002")
    _, second = await phone_session(app, "+8613700000003")

    ok = await client.post(
        "/auth/wechat/bind",
        json={"code": "code-bob-1"},
        headers={"authorization": f"Bearer {first}"},
    )
    FakeWeChat.used.discard("code-bob-1")
    taken = await client.post(
        "/auth/wechat/bind",
        json={"code": "code-bob-1"},
        headers={"authorization": f"Bearer {second}"},
    )
    anonymous = await client.post("/auth/wechat/bind", json={"code": "code-bob-1"})

    assert ok.status_code == 200
    assert taken.status_code == 409 and taken.json()["error"] == "wechat_bound_elsewhere"
    assert anonymous.status_code == 401
