"""The web server: health, metrics, dashboard, and the local chat in a real browser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.app import Gateway
from gateway.clock import FakeClock
from gateway.settings import Settings
from tests.browser import CHROMIUM_FLAGS, chromium_path

# 08:59 in Shanghai.
START = datetime(2026, 11, 23, 0, 59, tzinfo=UTC)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = Settings(
        db=tmp_path / "web.db", config=tmp_path / "absent.yaml", web_port=0, _env_file=None
    )  # type: ignore[call-arg]
    gw = await Gateway.create(settings, clock=FakeClock(START))
    await gw.start()
    yield gw
    await gw.stop()


async def test_healthz_metrics_and_dashboard_answer(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}/healthz") as response:
            assert response.status == 200
            assert await response.text() == "ok\n"
        async with http.get(f"{gateway.url}/metrics") as response:
            body = await response.text()
        assert 'carecheck_checkins{state="sent"} 3.0' in body
        assert "carecheck_open_alerts 0.0" in body
        assert "carecheck_deadline_lag_seconds" in body
        async with http.get(f"{gateway.url}/") as response:
            page = await response.text()
        assert "幸福里1号网格" in page


async def test_healthz_fails_when_the_timer_loop_is_dead(gateway: Gateway) -> None:
    for task in gateway.engine._tasks:
        if task.get_name() == "timers":
            task.cancel()
    await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/healthz") as response:
        assert response.status == 503
        assert "timers: the timer loop is not running" in await response.text()


async def test_the_whole_flow_in_the_local_chat(gateway: Gateway, tmp_path: Path) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    async with gateway.store.read() as tx:
        people = {p.name: p.id for p in await tx.people()}
    clock = gateway.clock
    assert isinstance(clock, FakeClock)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        resident = await browser.new_page()
        await resident.goto(f"{gateway.url}/chat")
        await resident.click("text=王秀英")
        prompt = resident.locator(".msg", has_text="今天身体还好吗")
        await prompt.wait_for(timeout=30_000)
        await prompt.locator("button", has_text="我很好").click()
        await resident.locator(".msg", has_text="已记录：您很好").wait_for(timeout=30_000)
        assert await prompt.locator("button").count() == 0  # the answered prompt has no buttons
        await resident.screenshot(path=str(tmp_path / "resident.png"))

        # 陈德福 stays silent: a reminder, then the window closes and the leader is told.
        leader = await browser.new_page()
        await leader.goto(f"{gateway.url}/chat/{people['李建国']}")
        clock.advance(timedelta(minutes=61))
        gateway.engine.wake()
        alert = leader.locator(".msg", has_text="陈德福")
        await alert.first.wait_for(timeout=30_000)
        assert await leader.locator(".msg", has_text="13800000012").count() >= 1
        await alert.first.locator("button", has_text="我来处理").click()
        await leader.locator(".msg", has_text="李建国 已确认").first.wait_for(timeout=30_000)
        await leader.screenshot(path=str(tmp_path / "leader.png"))

        # A typed late answer from 刘桂兰 calls off her alert for everyone told.
        late = await browser.new_page()
        await late.goto(f"{gateway.url}/chat/{people['刘桂兰']}")
        await late.fill("#text", "我没事")
        await late.click("form.send button")
        await leader.locator(".msg", has_text="刘桂兰 已在").first.wait_for(timeout=30_000)
        await browser.close()


async def test_the_dashboard_lists_open_alerts_in_local_time_and_words(
    gateway: Gateway,
) -> None:
    clock = gateway.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(minutes=61))
    gateway.engine.wake()
    async with aiohttp.ClientSession() as http:
        for _ in range(200):  # bounded: the loops run in the background
            async with http.get(f"{gateway.url}/") as response:
                page = await response.text()
            if "提醒 #" in page:
                break
            await asyncio.sleep(0.05)
    # The Today page: problems first, each with its open alert and in words.
    assert "陈德福" in page and "已报警" in page and 'href="/alerts/' in page
    assert "今天 08:59" in page  # the check-in, in Shanghai time
