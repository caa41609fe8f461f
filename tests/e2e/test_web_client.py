"""The web client in headless Chromium: two people, two browser contexts.

Each test drives the pages as a person would (typing, drawing a signature with
the mouse, pressing buttons), saves a screenshot of every screen at phone width
into ``artifacts/screenshots/``, and checks the final state through the API.
"""

import asyncio
import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from jietiao_stack.client import JietiaoApi, Session
from jietiao_stack.personas import Person, make_person
from jietiao_stack.stack import Stack

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.asyncio]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path("artifacts") / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (make test installs it)")
    async with playwright_api.async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking"],
        )  # fmt: skip
        yield launched
        await launched.close()


class Person_:
    """One person in one browser context."""

    def __init__(self, page: Any, person: Person, api: JietiaoApi, base: str, tag: str) -> None:
        self.page, self.person, self.api, self.base, self.tag = page, person, api, base, tag

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SHOTS / f"{self.tag}-{name}.png"), full_page=True)

    async def login(self, url: str | None = None) -> None:
        await self.page.goto(url or self.base + "/")
        await self.page.get_by_label("手机号").fill(self.person.phone)
        known = {
            m["id"] for m in await self.api.recorded_sms(phone=self.person.phone, kind="login_code")
        }
        await self.page.get_by_role("button", name="获取验证码").click()
        code = await self._code(known)
        await self.page.get_by_label("验证码").fill(code)
        await self.shot("login")
        await self.page.get_by_role("button", name="登录").click()
        await self.page.wait_for_function(
            "location.hash.startsWith('#/folder') || location.hash.startsWith('#/iou/')"
        )

    async def _code(self, known: set[str]) -> str:
        for _ in range(100):
            for m in await self.api.recorded_sms(phone=self.person.phone, kind="login_code"):
                if m["id"] not in known:
                    return "".join(ch for ch in m["text"] if ch.isdigit())[:6]
            await asyncio.sleep(0.1)
        raise TimeoutError("no login code")

    async def status(self, name: str) -> None:
        await playwright_api.expect(self.page.locator("#status")).to_have_text(name, timeout=30_000)

    async def sign(self) -> None:
        await self.page.get_by_role("button", name="签署", exact=True).click()
        pad = self.page.locator("#pad")
        box = await pad.bounding_box()
        assert box is not None
        for stroke in range(3):
            x0, y0 = box["x"] + 40 + stroke * 100, box["y"] + 60
            await self.page.mouse.move(x0, y0)
            await self.page.mouse.down()
            for i in range(25):
                await self.page.mouse.move(x0 + i * 3, y0 + (i % 7) * 9, steps=1)
            await self.page.mouse.up()
        await self.shot("signature")
        await self.page.get_by_role("button", name="确认签署").click()
        await self.face("signed")

    async def face(self, what: str) -> None:
        button = self.page.get_by_role("button", name="开始人脸核身（本地模拟）")
        await button.wait_for(timeout=15_000)
        await self.shot(f"face-check-{what}")
        await button.click()

    async def reason(self, text: str) -> None:
        await self.page.get_by_label("原因").or_(self.page.get_by_label("作废理由")).fill(text)
        await self.page.get_by_role("button", name="提交").click()


async def people(browser: Any, stack: Stack, api: JietiaoApi, tag: str) -> tuple[Person_, Person_]:
    rng = random.Random()
    base = stack.config.url("gateway")
    pair = []
    for who in ("a", "b"):
        context = await browser.new_context(viewport=PHONE, locale="zh-CN")
        pair.append(Person_(await context.new_page(), make_person(rng), api, base, f"{tag}-{who}"))
    return pair[0], pair[1]


async def create_in_page(a: Person_, b: Person, role: str) -> str:
    page = a.page
    await page.get_by_role("button", name="发起借条").click()
    await a.shot("notice")
    await page.get_by_label("我已阅读并同意《借条告知书》").check()
    await page.get_by_role("button", name="我借款" if role == "borrower" else "我出借").click()
    for prefix, p in (("me", a.person), ("counterparty", b)):
        await page.locator(f"#{prefix}-name").fill(p.name)
        await page.locator(f"#{prefix}-id").fill(p.id_number)
        await page.locator(f"#{prefix}-phone").fill(p.phone)
    await page.get_by_label("借款金额（元）").fill("12000")
    await page.get_by_label("借款事由").fill("装修房屋")
    await page.get_by_label("约定年利率（%）").fill("6")
    await page.get_by_label("还款方式").select_option("equal_instalments")
    await playwright_api.expect(page.locator("#words")).to_have_text("人民币壹万贰仟元整")
    await a.shot("create-form")
    await page.get_by_label("约定年利率（%）").fill("30")
    await playwright_api.expect(page.locator('.error[data-for="annual_rate"]')).to_contain_text("4")
    await a.shot("create-rate-cap")
    await page.get_by_label("约定年利率（%）").fill("6")
    await page.get_by_role("button", name="创建并预览").click()
    await a.status("待发起人签署")
    await a.shot("details-new")
    return page.url.rsplit("/", 1)[-1]


async def initiated_in_page(a: Person_, b: Person_, role: str) -> tuple[str, str]:
    await a.login()
    await a.shot("folder")
    iou_id = await create_in_page(a, b.person, role)
    await a.page.get_by_role("button", name="查看预览").click()
    await a.shot("preview")
    await a.sign()
    await a.status("待对方签署")
    share = a.page.locator("#share-url")
    await share.wait_for(timeout=15_000)
    await a.shot("awaiting-other-side")
    return iou_id, await share.input_value()


async def final_status(api: JietiaoApi, person: Person, iou_id: str) -> str:
    session: Session = await api.login(person)
    return str((await session.iou(iou_id))["status"])


async def test_lender_starts_both_sign_then_both_agree_to_void(browser, stack, api) -> None:
    a, b = await people(browser, stack, api, "01-lender")
    iou_id, link = await initiated_in_page(a, b, "lender")

    await b.login(link)
    await b.status("待对方签署")
    await b.shot("counterparty-reads")
    await b.sign()
    await b.status("已生效")
    await b.shot("effective")
    await a.page.goto(f"{a.base}/#/iou/{iou_id}")
    await a.status("已生效")
    await a.page.get_by_role("button", name="申请作废").click()
    await a.reason("已经还清")
    await a.face("request-void")
    await a.status("作废申请中")
    await b.page.reload()
    await b.status("作废申请中")
    await b.shot("void-requested")
    await b.page.get_by_role("button", name="确认作废").click()
    await b.face("confirm-void")
    await b.status("已作废")
    await b.shot("voided")

    assert await final_status(api, a.person, iou_id) == "voided"


async def test_borrower_starts_and_the_lender_refuses(browser, stack, api) -> None:
    a, b = await people(browser, stack, api, "02-borrower")
    iou_id, link = await initiated_in_page(a, b, "borrower")

    await b.login(link)
    await b.status("待对方签署")
    await b.page.get_by_role("button", name="拒签").click()
    await b.reason("金额不对")
    await b.status("已拒签")
    await b.shot("refused")

    assert await final_status(api, a.person, iou_id) == "refused"


async def effective_by_api(api: JietiaoApi, a: Person_, b: Person_) -> str:
    s1, s2 = await api.login(a.person), await api.login(b.person)
    iou = await s1.create_iou(b.person)
    await s1.sign(await s1.wait_status(iou["id"], "awaiting_initiator"))
    await s2.sign(await s2.wait_status(iou["id"], "awaiting_counterparty"))
    await s2.wait_status(iou["id"], "effective")
    return str(iou["id"])


async def test_the_initiator_withdraws_in_the_page(browser, stack, api) -> None:
    a, b = await people(browser, stack, api, "03-withdraw")
    iou_id, _ = await initiated_in_page(a, b, "lender")

    await a.page.get_by_role("button", name="撤销借条").click()
    await a.status("已撤销")
    await a.shot("withdrawn")

    assert await final_status(api, a.person, iou_id) == "withdrawn"


@pytest.mark.parametrize("answer", ["cancel", "refuse"])
async def test_a_void_request_cancelled_or_refused_in_the_page(browser, stack, api, answer) -> None:
    a, b = await people(browser, stack, api, f"04-void-{answer}")
    iou_id = await effective_by_api(api, a, b)
    await a.login()
    await a.page.goto(f"{a.base}/#/iou/{iou_id}")
    await a.status("已生效")
    await a.page.get_by_role("button", name="申请作废").click()
    await a.reason("想作废")
    await a.face("request-void")
    await a.status("作废申请中")

    if answer == "cancel":
        await a.page.get_by_role("button", name="取消作废申请").click()
        await a.status("已生效")
        await a.shot("void-cancelled")
    else:
        await b.login()
        await b.page.goto(f"{b.base}/#/iou/{iou_id}")
        await b.status("作废申请中")
        await b.page.get_by_role("button", name="拒绝作废").click()
        await b.reason("还没还")
        await b.status("已生效")
        await b.shot("void-refused")

    assert await final_status(api, a.person, iou_id) == "effective"
