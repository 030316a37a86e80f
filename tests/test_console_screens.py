"""Every page of the console in a real browser at phone width (390 px), in Chinese:
nothing wider than the screen, body text at least 18 px, every button, field and menu
link at least 44 px high. Screenshots go to $CARECHECK_SCREENSHOTS when set (the
README's are made so, into docs/screenshots), else to the test's temporary folder."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.console import WebRole
from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.console_harness import PASSWORD, Console, running
from tests.telegram_server import TelegramTestServer

pytestmark = pytest.mark.browser

PHONE: Any = {"width": 390, "height": 844}  # playwright's ViewportSize
UPLOAD = (
    "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of\n"
    "王秀英,resident,G1,3栋,zh,,13899990000,3栋402,,,,\n"
    "赵新,resident,G1,4栋,zh,,13700000000,4栋101,,,,\n"
    "钱错,nobody,G1,,zh,,,,,,,\n"
)

# What the page must keep to at phone width (read in the page itself).
CHECK = """() => {
  const problems = [];
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth) problems.push('page is ' + width + ' px wide');
  const body = parseFloat(getComputedStyle(document.body).fontSize);
  if (body < 18) problems.push('body text ' + body + ' px');
  const targets = document.querySelectorAll(
    'button, select, input:not([type=hidden]):not([type=checkbox]), textarea, nav a, a.button');
  for (const el of targets) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < 43.5) problems.push((el.textContent || el.name || el.tagName).trim().slice(0, 30)
      + ' is ' + Math.round(r.height) + ' px high');
  }
  return problems;
}"""


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async with TelegramTestServer() as telegram:
        async for c in running(tmp_path):
            # Only for the invitation cards' links (the residents chat on the fake platform).
            c.settings.telegram_token = SecretStr(telegram.token)
            c.settings.telegram_api_base = telegram.base_url
            yield await prepared(c)


async def prepared(c: Console) -> Console:
    """A morning: a round, one answer and a need, one silence that became an alert."""
    await c.add_user("zhang", WebRole.CARE_LEAD, grids=("G1",), person="张组长")
    await c.add_user("ops", WebRole.OPERATOR)
    await c.advance(timedelta(minutes=31))  # the 09:00 round
    await c.say("王秀英", "我很好，刚买完菜")
    await c.say("王秀英", "/need 药品 降压药快吃完了")
    await c.advance(timedelta(minutes=61))  # 陈德福 stays silent: an alert
    return c


def shots() -> Path | None:
    folder = os.environ.get("CARECHECK_SCREENSHOTS")
    return Path(folder) if folder else None


async def visit(page: Any, url: str, name: str, folder: Path) -> None:
    await page.goto(url)
    await shoot(page, name, folder)


async def shoot(page: Any, name: str, folder: Path) -> None:
    await page.wait_for_load_state("networkidle")
    problems = await page.evaluate(CHECK)
    assert problems == [], f"{name}: {problems}"
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_every_page_reads_well_on_a_phone_in_chinese(
    console: Console, tmp_path: Path
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    folder = shots() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    base = console.base
    chen = await console.person("陈德福")
    async with console.store.read() as tx:
        alert = await tx.unresolved_alert_of(chen.id)
    assert alert is not None
    wang = await console.person("王秀英")
    upload = tmp_path / "人员表.csv"
    upload.write_bytes(UPLOAD.encode("gbk"))
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = await context.new_page()
        await visit(page, f"{base}/login", "01-login", folder)
        await page.fill('input[name="username"]', "zhang")
        await page.fill('input[name="password"]', PASSWORD)
        await page.click('form[action="/login"] button')
        await page.wait_for_url(f"{base}/")
        await shoot(page, "02-today", folder)
        assert await page.title() == "(1) 今日 · carecheck 关爱守护"
        await visit(page, f"{base}/alerts/{alert.id}", "03-alert", folder)
        await visit(page, f"{base}/people/{wang.id}", "04-person", folder)
        await visit(page, f"{base}/needs", "05-needs", folder)
        await visit(page, f"{base}/people", "06-people", folder)
        await page.set_input_files('input[type="file"]', str(upload))
        await page.click('form[action="/people/import"] button')
        await page.wait_for_selector("#count-problems")
        assert "按 GB18030/GBK 读取" in await page.inner_text(".notice")
        assert await page.inner_text("#count-add") == "1"
        assert await page.inner_text("#count-update") == "1"
        assert await page.inner_text("#count-problems") == "1"
        await shoot(page, "07-import-preview", folder)
        await visit(page, f"{base}/invitations", "08-invitations", folder)
        await page.uncheck('input[name="only_unenrolled"]')
        async with context.expect_page() as opened:
            await page.click('form[action="/invitations/sheet"] >> nth=0 >> button')
        sheet = await opened.value
        await sheet.wait_for_load_state()
        # With Telegram configured, each card holds its deep link as a QR code.
        assert await sheet.locator(".card .qr svg").count() == 4
        await sheet.set_viewport_size({"width": 820, "height": 1160})
        await sheet.screenshot(path=str(folder / "09-invitation-sheet.png"), full_page=True)
        await visit(page, f"{base}/week", "10-week", folder)
        ops = await browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = await ops.new_page()
        await page.goto(f"{base}/login")
        await page.fill('input[name="username"]', "ops")
        await page.fill('input[name="password"]', PASSWORD)
        await page.click('form[action="/login"] button')
        await page.wait_for_url(f"{base}/")
        await visit(page, f"{base}/settings", "11-settings", folder)
        await browser.close()
