"""The console's doors and its live list in a real browser (Chromium, through
Playwright): a page of another site cannot act through the browser of someone who has
the console open, a form without its CSRF token is refused, and without server-sent
events the Today page still follows changes by polling."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.console import WebRole
from gateway.app import Gateway
from gateway.clock import FakeClock
from gateway.settings import Settings
from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.console_harness import PASSWORD, START, Console, running

pytestmark = pytest.mark.browser

PHONE: Any = {"width": 390, "height": 844}


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def elsewhere(html: str) -> tuple[web.AppRunner, str]:
    """Another site (another port is another origin), serving one page."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = getattr(site, "_server", None)
    port = server.sockets[0].getsockname()[1] if server else 0
    return runner, f"http://127.0.0.1:{port}/"


async def test_a_page_of_another_site_cannot_act_through_an_open_console(
    tmp_path: Path, browser: Any
) -> None:
    # `make run`: no account, loopback, the local chat on; the console opens to anyone
    # on this machine, and so to any page this machine's browser shows.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=str(tmp_path / "open.db"),
        config=tmp_path / "absent.yaml",
        web_port=0,
        local_chat=True,
    )
    gateway = await Gateway.create(settings, clock=FakeClock(START))
    await gateway.start()  # the demo community, with its first round
    target = gateway.url
    attack = f"""<!doctype html><html><body>
<form id="round" method="post" action="{target}/rounds"><input name="emergency" value="1"></form>
<script>
  // What the report found accepted: a text/plain POST needs no CORS preflight.
  fetch("{target}/chat/1/send", {{method: "POST", mode: "no-cors",
    headers: {{"Content-Type": "text/plain"}}, body: '{{"text": "forged"}}'}})
    .finally(() => document.getElementById("round").submit());
</script></body></html>"""
    runner, url = await elsewhere(attack)
    async with gateway.store.read() as tx:
        rounds = await tx.audit_kinds("round.started_by_hand")  # the demo's first
    try:
        page = await browser.new_page()
        async with page.expect_response(f"{target}/rounds") as sent:
            await page.goto(url)
        answer = await sent.value
        assert answer.status == 403
        assert "another site" in await answer.text()
        assert gateway.local is not None
        said = [m.text for m in gateway.local.history("1")]
        assert not any("forged" in text for text in said), said
        async with gateway.store.read() as tx:
            assert await tx.audit_kinds("round.started_by_hand") == rounds
    finally:
        await runner.cleanup()
        await gateway.stop()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        yield c


async def log_in(page: Any, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill('input[name="username"]', "li")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('form[action="/login"] button')
    await page.wait_for_url(f"{base}/")


async def test_a_form_sent_without_its_csrf_token_is_refused(
    console: Console, browser: Any
) -> None:
    page = await browser.new_page(viewport=PHONE)
    await log_in(page, console.base)
    # The page's own form, its token taken out (as a form made by another page would be).
    await page.evaluate(
        """() => document.querySelector('form[action="/rounds"] input[name="csrf"]').remove()"""
    )
    async with page.expect_response(f"{console.base}/rounds") as sent:
        await page.click('form[action="/rounds"] >> nth=0 >> button')
    answer = await sent.value
    assert answer.status == 403 and "reload" in await answer.text()
    assert console.adapter.sent == []  # no round was started


async def test_without_server_sent_events_the_today_page_follows_by_polling(
    console: Console, browser: Any
) -> None:
    await console.engine.start_round()
    await console.settle()
    wang = await console.person("王秀英")
    context = await browser.new_context(viewport=PHONE)
    # A browser (or a proxy in between) without event streams.
    await context.add_init_script("delete window.EventSource;")
    page = await context.new_page()
    await log_in(page, console.base)
    await page.wait_for_selector('html[data-live="polling"]')
    assert await page.get_attribute(f"#r{wang.id}", "data-state") == "pending"
    started = time.monotonic()
    await console.say("王秀英", "我很好")
    await page.wait_for_selector(f'#r{wang.id}[data-state="answered"]', timeout=4000)
    elapsed = time.monotonic() - started
    print(f"row changed {elapsed:.2f} s after the answer, by polling")
    assert elapsed < 3.0
    await context.close()
