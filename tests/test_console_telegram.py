"""The console beside a running gateway on Telegram (the Bot API test server): a
resident's answer shows on the Today page within two seconds, without a reload, and
acting on an alert from the page edits the copies in the responders' chats exactly as
their own buttons would."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno

from core.config import WorkflowConfig
from core.console import WebRole
from core.records import Person
from gateway.app import Gateway
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.people import import_people
from gateway.settings import Settings
from gateway.users import add_user
from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.console_harness import PASSWORD, START, Visitor
from tests.telegram_server import SentMessage, TelegramTestServer

pytestmark = [pytest.mark.telegram, pytest.mark.browser]

LEADER, OTHER_LEADER, WANG, CHEN, ZHAO = 9100001, 9100009, 9200001, 9200002, 9200003
PEOPLE = f"""name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,en,,1380001,,,{LEADER},
Leader Other,grid_leader,G2,B9,en,,1380009,,,{OTHER_LEADER},
王秀英,resident,G1,3栋,zh,,1380011,3栋402,,{WANG},
陈德福,resident,G1,3栋,zh,,1380012,3栋201,,{CHEN},
Zhao Other,resident,G2,9栋,en,,1380013,9-101,,{ZHAO},
"""
WITHIN = 10.0  # bounded waits for HTTP round trips (real seconds)


@dataclass
class Live:
    gateway: Gateway
    server: TelegramTestServer
    clock: FakeClock
    config: WorkflowConfig

    async def person(self, name: str) -> Person:
        async with self.gateway.store.read() as tx:
            found = await tx.person_by_name(name)
        assert found is not None
        return found

    async def until(self, what: str, done: Any) -> None:
        deadline = time.monotonic() + WITHIN
        while not await done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"still waiting for {what}")
            await asyncio.sleep(0.02)

    async def prompt(self, chat_id: int) -> SentMessage:
        async def sent() -> bool:
            return bool(self.server.messages(chat_id))

        await self.until(f"a prompt in chat {chat_id}", sent)
        return self.server.messages(chat_id)[0]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with TelegramTestServer() as server:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            db=str(tmp_path / "live.db"),
            web_host="127.0.0.1",
            web_port=0,
            local_chat=False,
            demo_seed=False,
            telegram_token=server.token,  # type: ignore[arg-type]
            telegram_api_base=server.base_url,
        )
        clock = FakeClock(START)
        config = parse_config(builtin_config_text())
        gateway = await Gateway.create(settings, clock=clock, config=config)
        await import_people(gateway.store, config, PEOPLE, START)
        await add_user(
            gateway.store, START, "li", PASSWORD, WebRole.GRID_LEADER, grids=[], person="Leader Li"
        )
        try:
            await gateway.start()
            yield Live(gateway, server, clock, config)
        finally:
            await gateway.stop()


async def log_in(page: Any, url: str, username: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('form[action="/login"] button')
    await page.wait_for_url(f"{url}/")


async def test_a_residents_answer_on_telegram_changes_their_row_within_two_seconds(
    live: Live,
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    await live.gateway.engine.start_round()
    prompt = await live.prompt(WANG)
    wang = await live.person("王秀英")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await log_in(page, live.gateway.url, "li")
        row = page.locator(f"#r{wang.id}")
        assert await row.get_attribute("data-state") == "pending"
        assert await page.locator("text=Zhao Other").count() == 0  # another grid
        await page.wait_for_selector('html[data-live="stream"]', timeout=WITHIN * 1000)
        started = time.monotonic()
        data = str(prompt.button("✅ 我很好")["callback_data"])
        live.server.press(WANG, prompt.message_id, data, user_id=WANG)
        await page.wait_for_selector(f'#r{wang.id}[data-state="answered"]', timeout=2000)
        elapsed = time.monotonic() - started
        print(f"row changed {elapsed:.2f} s after the tap")
        assert elapsed < 2.0
        # The account speaks the language of the person it is linked to (Leader Li: en).
        assert "Answered" in await row.inner_text()
        assert await page.locator("header.top").count() == 1  # only the list was replaced
        await browser.close()


async def test_acknowledging_on_the_page_edits_the_leaders_telegram_copy(live: Live) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    await live.gateway.engine.start_round()
    await live.prompt(CHEN)
    live.clock.advance(timedelta(minutes=61))  # 陈德福 does not answer
    live.gateway.engine.wake()
    chen = await live.person("陈德福")

    def leaders_copy() -> SentMessage | None:
        found = [m for m in live.server.messages(LEADER) if "\n陈德福 (" in m.text]
        return found[-1] if found else None

    async def told() -> bool:
        return leaders_copy() is not None

    await live.until("the leader's copy of the alert", told)
    async with live.gateway.store.read() as tx:
        alert = await tx.unresolved_alert_of(chen.id)
    assert alert is not None
    copy = leaders_copy()
    assert copy is not None and copy.edits == 0
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await log_in(page, live.gateway.url, "li")
        await page.goto(f"{live.gateway.url}/alerts/{alert.id}")
        await page.click(f'form[action="/alerts/{alert.id}/ack"] button')
        await page.wait_for_url(f"**/alerts/{alert.id}?notice=*")
        assert "Leader Li acknowledged" in await page.inner_text(".timeline")
        await browser.close()

    async def edited() -> bool:
        now = leaders_copy()
        return now is not None and now.edits > 0

    await live.until("the leader's copy to be edited", edited)
    copy = leaders_copy()
    assert copy is not None
    footer = live.gateway.engine.texts.render("en", "alert_footer_acked", who="Leader Li", time="")
    assert footer.split("(")[0] in copy.text
    # As after a tap on its own button: "acknowledge" is gone, "close" is left.
    assert "👀" not in " ".join(copy.labels)


async def test_with_telegram_each_invitation_card_has_a_qr_code_of_its_deep_link(
    live: Live,
) -> None:
    visitor = Visitor(live.gateway.url)
    asked = len(live.server.calls_of("getMe"))  # the adapter's own, at its start
    try:
        assert (await visitor.login("li")).status == 303
        sheet = await visitor.post("/invitations/sheet", {"grid": "G1"})
        again = await visitor.post("/invitations/sheet", {"grid": "G1"})
    finally:
        await visitor.close()
    assert sheet.status == 200 and again.status == 200
    # The bot's username is asked for once, for both sheets and both languages' cards.
    assert len(live.server.calls_of("getMe")) == asked + 1
    assert sheet.text.count('class="qr"') == 3  # Leader Li, 王秀英, 陈德福
    assert "用手机扫码" in sheet.text and "Scan" in sheet.text  # each in their language
    # The QR code holds the deep link for the card's own code (segno draws the same).
    code = re.findall(r'<div class="code">([A-Z0-9]+)</div>', sheet.text)[0]
    link = f"https://t.me/{live.server.username}?start={code}"
    expected = segno.make(link, error="m").svg_inline(scale=1, border=2, omitsize=True)
    assert expected in sheet.text


async def test_web_sent_to_the_bot_on_telegram_answers_with_a_one_tap_login(live: Live) -> None:
    live.server.send_text(LEADER, "/web")

    def link() -> str | None:
        for message in live.server.messages(LEADER):
            found = re.search(r"(http://\S+/login/link/[A-Za-z0-9_-]+)", message.text)
            if found:
                return found.group(1)
        return None

    async def answered() -> bool:
        return link() is not None

    await live.until("the login link in the leader's chat", answered)
    url = link()
    assert url is not None and url.startswith(live.gateway.url)
    path = url[len(live.gateway.url) :]
    visitor = Visitor(live.gateway.url)
    try:
        assert (await visitor.get(path)).status == 200  # a link preview spends nothing
        assert (await visitor.post(path)).status == 303
        page = await visitor.get("/")
        assert page.status == 200 and "王秀英" in page.text and "Zhao Other" not in page.text
        other = Visitor(live.gateway.url)
        try:
            await other.get(path)
            assert (await other.post(path)).status == 410  # used once
        finally:
            await other.close()
    finally:
        await visitor.close()
