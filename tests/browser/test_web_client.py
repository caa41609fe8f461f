"""The web client in headless Chromium: two people, two browser contexts.

Each test drives the pages as a person would (typing, drawing a signature with the
mouse, going through the local face-check page), saves a screenshot of every screen
at phone width into ``artifacts/screenshots/`` and checks the final state through
the API. The platform is the session's ``stack`` (tests/conftest.py).
"""

import asyncio
import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import Stack

pw = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.asyncio]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking"]  # fmt: skip
SHOTS = Path("artifacts") / "screenshots"
PHONE = {"width": 390, "height": 844}
WAIT = 30_000


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium (never a downloaded one), headless, driven by Playwright."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed: run 'make system-deps' as root")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    async with pw.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


class Actor:
    """One person in a browser context of their own."""

    def __init__(self, page: Any, person: Person, api: JietiaoApi, base: str, tag: str) -> None:
        self.page, self.person, self.api, self.base, self.tag = page, person, api, base, tag
        self.shots = 0
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # An answered error status is logged by the browser itself; scripts must not fail.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    async def shot(self, name: str) -> None:
        """A full-page screenshot, numbered in the order of this person's flow."""
        self.shots += 1
        path = SHOTS / f"{self.tag}-{self.shots:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)

    async def login(
        self, url: str | None = None, home: bool = False, keyboard: bool = False
    ) -> None:
        """Log in with the phone number and the code the SMS carried.

        With ``keyboard`` the whole login is typed: Tab, Enter, no clicks.
        """
        page = self.page
        await page.goto(url or self.base + "/")
        if url is None:
            await page.get_by_role("heading", name="电子借条").wait_for()
            if home:
                await self.shot("home")
            await page.get_by_role("link", name="手机号登录").click()
        await page.get_by_role("heading", name="登录").wait_for()
        known = {
            m["id"] for m in await self.api.recorded_sms(phone=self.person.phone, kind="login_code")
        }
        if keyboard:
            await page.keyboard.press("Tab")
            await pw.expect(page.get_by_label("手机号")).to_be_focused()
            await page.keyboard.type(self.person.phone)
            await page.keyboard.press("Tab")
            await pw.expect(page.get_by_role("button", name="获取验证码")).to_be_focused()
            await page.keyboard.press("Enter")
            await page.keyboard.press("Tab")
            await pw.expect(page.get_by_label("验证码")).to_be_focused()
            await page.keyboard.type(await self._code(known))
            await self.shot("login-by-keyboard")
            await page.keyboard.press("Enter")
        else:
            await page.get_by_label("手机号").fill(self.person.phone)
            await page.get_by_role("button", name="获取验证码").click()
            await page.get_by_label("验证码").fill(await self._code(known))
            await self.shot("login")
            await page.get_by_role("button", name="登录", exact=True).click()
        await page.wait_for_url(lambda url: "#/folder" in url or "#/iou/" in url)

    async def _code(self, known: set[str]) -> str:
        for _ in range(300):
            for m in await self.api.recorded_sms(phone=self.person.phone, kind="login_code"):
                if m["id"] not in known:
                    return "".join(ch for ch in m["text"] if ch.isdigit())[:6]
            await asyncio.sleep(0.1)
        raise TimeoutError("no login code")

    async def open(self, iou_id: str) -> None:
        await self.page.goto(f"{self.base}/#/iou/{iou_id}")

    async def status(self, name: str) -> None:
        await pw.expect(self.page.locator("#status")).to_have_text(name, timeout=WAIT)

    async def banner(self, text: str) -> None:
        await pw.expect(self.page.locator("#banner")).to_contain_text(text, timeout=WAIT)

    async def draw(self) -> None:
        """Three strokes with the mouse: pointer events, as a finger would make them."""
        pad = self.page.locator("#pad")
        await pad.scroll_into_view_if_needed()
        box = await pad.bounding_box()
        assert box is not None
        for stroke in range(3):
            x0, y0 = box["x"] + 40 + stroke * 100, box["y"] + 50
            await self.page.mouse.move(x0, y0)
            await self.page.mouse.down()
            for i in range(20):
                await self.page.mouse.move(x0 + i * 3, y0 + (i % 7) * 12)
            await self.page.mouse.up()

    async def sign(self, outcome: str = "pass") -> None:
        """Draw, clear, draw again, then pass (or fail) the face check."""
        await self.page.get_by_role("button", name="签署", exact=True).click()
        await self.draw()
        await self.page.get_by_role("button", name="清除重写").click()
        await self.draw()
        await self.shot("signature")
        async with self.page.expect_request("**/signatures") as sent:
            await self.page.get_by_role("button", name="确认签名").click()
        check_strokes((await sent.value).post_data_json["signature"])
        await self.face("sign", outcome)

    async def face(self, what: str, outcome: str = "pass") -> None:
        """The face-check step, then the local provider's page, then back."""
        start = self.page.get_by_role("button", name="开始人脸核身")
        await start.wait_for(timeout=WAIT)
        await self.shot(f"face-check-{what}")
        await start.click()
        await self.page.wait_for_url("**/face/local/**", timeout=WAIT)
        await self.shot(f"face-provider-{what}")
        answer = "核身通过" if outcome == "pass" else "核身不通过"
        await self.page.get_by_role("button", name=answer).click()
        await self.page.wait_for_url("**/#/iou/*", timeout=WAIT)

    async def reason(self, text: str, submit: str) -> None:
        await self.page.locator("#reason").fill(text)
        await self.page.get_by_role("button", name=submit).click()


async def fits(page: Any, width: int) -> None:
    """Nothing sticks out sideways at this width (wide tables scroll inside their box)."""
    await page.set_viewport_size({"width": width, "height": 800})
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px wider than a {width}px screen"


def check_strokes(signature: dict[str, Any]) -> None:
    """The strokes are sent in signature-pad format, not as a picture."""
    assert 300 <= signature["canvas_width"] <= 390 and signature["canvas_height"] == 200
    assert len(signature["strokes"]) == 3  # the first attempt was cleared
    times = []
    for stroke in signature["strokes"]:
        for point in stroke["points"]:
            assert set(point) == {"x", "y", "time", "pressure"}
            assert isinstance(point["time"], int)
            times.append(point["time"])
    assert times == sorted(times) and times[0] == 0


async def pair(browser: Any, stack: Stack, api: JietiaoApi, tag: str) -> tuple[Actor, Actor]:
    rng = random.Random()
    base = stack.config.url("gateway")
    actors = []
    for who in ("a", "b"):
        context = await browser.new_context(viewport=PHONE, locale="zh-CN")
        page = await context.new_page()
        actors.append(Actor(page, make_person(rng), api, base, f"{tag}-{who}"))
    return actors[0], actors[1]


async def create_in_page(a: Actor, b: Person, role: str, shots: bool = True) -> str:
    """The create screen: template, notice, role, the form with live answers."""
    page = a.page

    async def shot(name: str) -> None:
        if shots:
            await a.shot(name)

    await page.get_by_role("link", name="发起借条").last.click()
    await page.get_by_role("heading", name="小借条告知书").wait_for()
    await shot("template-and-notice")
    await pw.expect(page.locator("#create")).to_be_hidden()
    await page.get_by_label("我已阅读并同意《小借条告知书》").check()
    await page.get_by_role("radio", name="我借款" if role == "borrower" else "我出借").click()
    for prefix, p in (("me", a.person), ("counterparty", b)):
        await page.locator(f"#{prefix}-name").fill(p.name)
        await page.locator(f"#{prefix}-id").fill(p.id_number)
        await page.locator(f"#{prefix}-phone").fill(p.phone)
    await page.get_by_label("借款金额（元）").fill("12000.5x")
    await pw.expect(page.locator("#principal-err")).not_to_be_empty(timeout=WAIT)
    await shot("create-field-error")
    await page.get_by_label("借款金额（元）").fill("12000")
    await page.get_by_label("借款事由").fill("装修房屋")
    await page.get_by_label("约定年利率（%）").fill("6")
    await page.get_by_label("还款方式").select_option("equal_instalments")
    await pw.expect(page.locator("#words")).to_have_text("大写金额：人民币壹万贰仟元整")
    await pw.expect(page.locator("#plan tbody tr")).to_have_count(12)
    await shot("create-form-with-plan")
    await page.get_by_label("约定年利率（%）").fill("30")
    await pw.expect(page.locator("#cap")).to_contain_text("利率超过法定上限", timeout=WAIT)
    await pw.expect(page.locator("#rate-err")).to_contain_text("4")
    await shot("create-rate-cap")
    await page.get_by_label("约定年利率（%）").fill("6")
    await pw.expect(page.locator("#cap")).to_be_hidden(timeout=WAIT)
    await page.get_by_role("button", name="生成借条并预览").click()
    await a.status("待发起人签署")
    await pw.expect(page.locator("#doc-view")).to_contain_text("借条预览（PDF）", timeout=WAIT)
    await a.shot("document-preview")
    return str(page.url.rsplit("/", 1)[-1])


async def initiate_in_page(a: Actor, b: Actor, role: str, home: bool = False) -> tuple[str, str]:
    """Log in, create, sign and pass the face check: returns the IOU and the share link."""
    await a.login(home=home)
    await a.shot("folder")
    iou_id = await create_in_page(a, b.person, role)
    await a.sign()
    await a.banner("签署完成")
    await a.status("待对方签署")
    share = a.page.locator("#share-url")
    await share.wait_for(timeout=WAIT)
    qr = a.page.get_by_role("img", name="借条链接的二维码")
    await pw.expect(qr).to_be_visible()
    await pw.expect(qr).to_have_js_property("complete", True)
    assert await qr.evaluate("img => img.naturalWidth") > 0
    await a.page.get_by_role("switch").check()
    await pw.expect(a.page.locator("#toast")).to_have_text("已开启还款提醒")
    await a.shot("awaiting-other-side")
    return iou_id, await share.input_value()


async def final(api: JietiaoApi, person: Person, iou_id: str) -> dict[str, Any]:
    session = await api.login(person)
    return await session.iou(iou_id)


async def test_lender_starts_both_sign_then_both_agree_to_void(browser, stack, api) -> None:
    a, b = await pair(browser, stack, api, "01-lender-signs-void-confirmed")
    iou_id, link = await initiate_in_page(a, b, "lender", home=True)

    await b.login(link)
    await b.status("待对方签署")
    await pw.expect(b.page.locator("#next")).to_contain_text("请阅读借条后签署或拒签")
    await pw.expect(b.page.locator("table.parties")).to_contain_text("*")
    await b.shot("counterparty-reads")
    await b.sign()
    await b.status("已生效")
    await b.page.locator('[data-doc="signed"]').click()
    await pw.expect(b.page.locator("#doc-view")).to_contain_text("已签署借条（PDF）", timeout=WAIT)
    await pw.expect(b.page.locator("#audit li").first).to_be_visible()
    await b.shot("effective-details")

    await a.page.get_by_role("link", name="我的合同").click()
    await a.page.get_by_role("link", name="已生效", exact=True).click()
    await pw.expect(a.page.locator("#cards")).to_contain_text(b.person.name, timeout=WAIT)
    await a.shot("folder-effective")
    await a.open(iou_id)
    await a.status("已生效")
    await a.page.get_by_role("button", name="申请作废").click()
    await a.reason("已经还清", "下一步：人脸核身")
    await a.face("request-void")
    await a.banner("作废申请已发给对方")
    await a.status("作废申请中")
    await a.shot("void-requested")

    await b.page.reload()
    await b.status("作废申请中")
    await pw.expect(b.page.locator("#void")).to_contain_text("已经还清")
    await b.shot("void-request-received")
    await b.page.get_by_role("button", name="确认作废").click()
    await b.page.get_by_role("button", name="确认作废并核身").click()
    await b.face("confirm-void")
    await b.status("已作废")
    await pw.expect(b.page.get_by_text("作废版借条")).to_be_visible(timeout=WAIT)
    await b.shot("voided")
    for width in (360, 430, 1280):
        await fits(b.page, width)
    await a.page.goto(f"{a.base}/#/new")
    await a.page.get_by_label("我已阅读并同意《小借条告知书》").check()
    await fits(a.page, 360)

    assert a.errors == [] and b.errors == [], a.errors + b.errors
    iou = await final(api, a.person, iou_id)
    assert iou["status"] == "voided" and iou["documents"]["voided_sha256"]


async def test_borrower_starts_and_the_lender_refuses(browser, stack, api) -> None:
    a, b = await pair(browser, stack, api, "02-borrower-starts-lender-refuses")
    iou_id, link = await initiate_in_page(a, b, "borrower")

    await b.page.goto(f"{b.base}/s/no-such-link")
    await pw.expect(b.page.get_by_role("alert")).to_contain_text("链接无效或已过期")
    await b.shot("link-invalid")
    await b.login(link)
    await b.status("待对方签署")
    await b.page.get_by_role("button", name="拒签").click()
    await b.page.get_by_role("button", name="确认拒签").click()
    await pw.expect(b.page.locator("#reason-err")).to_have_text("请填写原因")
    await b.reason("金额不对", "确认拒签")
    await b.status("已拒签")
    await b.shot("refused")
    await a.status("已拒签")
    await pw.expect(a.page.get_by_text("拒签原因：金额不对")).to_be_visible()
    await pw.expect(a.page.locator("#audit")).to_contain_text("拒签（理由：金额不对）")
    await a.shot("refused-seen-by-initiator")

    assert a.errors == [] and b.errors == [], a.errors + b.errors
    iou = await final(api, a.person, iou_id)
    assert iou["status"] == "refused" and iou["initiator_role"] == "borrower"


async def test_the_initiator_withdraws_after_a_failed_face_check(browser, stack, api) -> None:
    a, b = await pair(browser, stack, api, "03-withdraw")
    await a.login()
    iou_id = await create_in_page(a, b.person, "lender", shots=False)
    await a.sign(outcome="fail")
    await a.banner("人脸核身未通过")
    await a.shot("face-check-failed")
    await a.page.get_by_role("button", name="继续人脸核身").click()
    await a.face("retry")
    await a.status("待对方签署")
    link = await a.page.locator("#share-url").input_value()

    # The other side starts to sign while the initiator withdraws: a conflict.
    await b.login(link)
    await b.status("待对方签署")
    await b.page.get_by_role("button", name="签署", exact=True).click()
    await b.draw()
    await a.page.get_by_role("button", name="撤销借条").click()
    await a.shot("withdraw-confirm")
    await a.page.get_by_role("button", name="确认撤销").click()
    await a.status("已撤销")
    await a.shot("withdrawn")
    await b.page.get_by_role("button", name="确认签名").click()
    await pw.expect(b.page.locator("#toast")).to_contain_text("已撤销", timeout=WAIT)
    await b.status("已撤销")
    await b.shot("conflict-withdrawn")

    assert a.errors == [] and b.errors == [], a.errors + b.errors
    iou = await final(api, b.person, iou_id)
    assert iou["status"] == "withdrawn"
    assert iou["parties"]["borrower"]["signed_at"] is None


async def effective_by_api(api: JietiaoApi, a: Actor, b: Actor) -> str:
    s1, s2 = await api.login(a.person), await api.login(b.person)
    iou = await s1.create_iou(b.person)
    await s1.sign(await s1.wait_status(iou["id"], "awaiting_initiator"))
    await s2.sign(await s2.wait_status(iou["id"], "awaiting_counterparty"))
    await s2.wait_status(iou["id"], "effective")
    return str(iou["id"])


@pytest.mark.parametrize("answer", ["cancel", "refuse"])
async def test_a_void_request_cancelled_or_refused(browser, stack, api, answer) -> None:
    a, b = await pair(browser, stack, api, f"04-void-{answer}")
    iou_id = await effective_by_api(api, a, b)
    await a.login(keyboard=answer == "cancel")
    await a.open(iou_id)
    await a.status("已生效")
    await a.page.get_by_role("button", name="申请作废").click()
    await a.reason("想作废", "下一步：人脸核身")
    await a.face("request-void")
    await a.status("作废申请中")

    if answer == "cancel":
        await a.page.get_by_role("button", name="取消作废申请").click()
        await a.page.get_by_role("button", name="确认取消").click()
        await a.status("已生效")
        await pw.expect(a.page.locator("#toast")).to_contain_text("作废申请已取消")
        await a.shot("void-cancelled")
    else:
        await b.login()
        await b.page.get_by_role("link", name="作废中", exact=True).click()
        await b.page.locator("#cards a").first.click()
        await b.status("作废申请中")
        await b.page.get_by_role("button", name="拒绝作废").click()
        await b.reason("还没还", "确认拒绝作废")
        await b.status("已生效")
        await pw.expect(b.page.locator("#toast")).to_contain_text("借条继续有效")
        await b.shot("void-refused")

    assert a.errors == [] and b.errors == [], a.errors + b.errors
    iou = await final(api, a.person, iou_id)
    assert iou["status"] == "effective" and iou["void_request"] is None
