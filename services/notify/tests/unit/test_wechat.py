"""The WeChat mini-program adapter against a local fake WeChat server."""

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fake_wechat import FakeWeChat
from jietiao_shared.wechat import WeChatClient, WeChatError

SECRET = "fake-app-secret-abcdef"
PNG = b"\x89PNG\r\n\x1a\n"


class Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def wechat() -> AsyncIterator[tuple[FakeWeChat, WeChatClient, Ticking]]:
    """The fake server and a client on it."""
    fake = FakeWeChat("wxfake0001", SECRET).start()
    clock = Ticking()
    client = WeChatClient("wxfake0001", SECRET, api_url=fake.url, clock=clock)
    yield fake, client, clock
    await client.aclose()
    fake.stop()


Setup = tuple[FakeWeChat, WeChatClient, Ticking]


@pytest.mark.asyncio
async def test_the_token_is_cached_until_near_its_expiry(wechat: Setup) -> None:
    fake, client, clock = wechat

    first = await client.access_token()
    assert await client.access_token() == first
    clock.now += 7200 - 301
    await client.access_token()
    assert fake.token_requests == 1
    clock.now += 2
    await client.access_token()

    assert fake.token_requests == 2


@pytest.mark.asyncio
async def test_a_qr_code_is_png_bytes(wechat: Setup) -> None:
    fake, client, _ = wechat

    png = await client.qr_code("Abc-123_xyz", "/pages/share/index")

    assert png.startswith(PNG)
    path, sent = fake.calls[-1]
    assert path == "/wxa/getwxacodeunlimit"
    assert sent["page"] == "pages/share/index"
    assert sent["scene"] == "Abc-123_xyz"


@pytest.mark.asyncio
@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_refused_token_is_refreshed_once_and_the_call_retried(
    wechat: Setup, errcode: int
) -> None:
    fake, client, _ = wechat
    await client.access_token()
    fake.invalidate_tokens(errcode)

    png = await client.qr_code("scene1", "pages/share/index")

    assert png.startswith(PNG)
    assert fake.token_requests == 2


@pytest.mark.asyncio
async def test_a_token_refused_twice_is_an_error_not_a_loop(wechat: Setup) -> None:
    fake, client, _ = wechat
    await client.access_token()
    fake.invalidate_tokens()
    real = fake._check_token
    fake._check_token = lambda token: {"errcode": 40001, "errmsg": "invalid"}  # type: ignore[method-assign]

    with pytest.raises(WeChatError) as failed:
        await client.qr_code("scene1", "pages/share/index")

    fake._check_token = real  # type: ignore[method-assign]
    assert failed.value.errcode == 40001
    assert fake.token_requests == 2


@pytest.mark.asyncio
async def test_a_qr_code_error_comes_back_as_json(wechat: Setup) -> None:
    fake, client, _ = wechat
    fake.qr_error = 45009

    with pytest.raises(WeChatError) as failed:
        await client.qr_code("scene1", "pages/share/index")

    assert failed.value.errcode == 45009


@pytest.mark.asyncio
async def test_a_bad_scene_is_refused_before_calling(wechat: Setup) -> None:
    _, client, _ = wechat

    for scene in ("x" * 33, "", "含中文"):
        with pytest.raises(ValueError):
            await client.qr_code(scene, "pages/share/index")


@pytest.mark.asyncio
async def test_a_subscribe_message_uses_one_authorisation(wechat: Setup) -> None:
    fake, client, _ = wechat
    fake.subscriptions["openid-1"] = 1

    await client.send_subscribe_message(
        "openid-1", "tmpl-1", "pages/iou/index", {"thing1": "电子文件待签署"}
    )
    with pytest.raises(WeChatError) as failed:
        await client.send_subscribe_message("openid-1", "tmpl-1", "pages/iou/index", {})

    assert failed.value.errcode == 43101
    _, first = fake.calls[-2]
    assert first["data"] == {"thing1": {"value": "电子文件待签署"}}


@pytest.mark.asyncio
async def test_a_login_code_gives_the_openid_once(
    wechat: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    fake, client, _ = wechat
    fake.login_codes["code-1"] = "openid-9"
    caplog.set_level(logging.DEBUG)

    session = await client.code_to_session("code-1")
    with pytest.raises(WeChatError) as reused:
        await client.code_to_session("code-1")

    assert session.openid == "openid-9"
    assert reused.value.errcode == 40029
    assert "sk-openid-9" not in repr(session)
    assert SECRET not in repr(client) + caplog.text


@pytest.mark.asyncio
async def test_an_unreachable_server_is_an_error() -> None:
    client = WeChatClient("wx", "s", api_url="http://127.0.0.1:9", timeout_seconds=0.5)

    with pytest.raises(WeChatError) as failed:
        await client.access_token()
    await client.aclose()

    assert failed.value.errcode == -1
