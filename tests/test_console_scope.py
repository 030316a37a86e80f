"""A grid leader reaches nothing of another grid, URL by URL; care leads see their
grids, operators everything, viewers read only. Plain HTTP requests, as a script
would send them, not only what the pages link to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.console import WebRole
from tests.console_harness import Console, Visitor, running


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        await c.add_user("zhang", WebRole.CARE_LEAD, grids=("G1",), person="张组长")
        await c.add_user("watch", WebRole.VIEWER)
        await c.add_user("other", WebRole.GRID_LEADER, person="Leader Other")
        yield c


async def logged_in(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    answer = await visitor.login(username)
    assert answer.status == 303, answer.text
    return visitor


async def test_the_today_page_lists_only_the_grids_an_account_covers(console: Console) -> None:
    li, other, ops = [await logged_in(console, n) for n in ("li", "other", "ops")]
    mine = await li.get("/")
    assert "王秀英" in mine.text and "陈德福" in mine.text and "Zhao Other" not in mine.text
    assert "Zhao Other" in (await other.get("/")).text
    assert "王秀英" not in (await other.get("/")).text
    everyone = await ops.get("/")
    assert "王秀英" in everyone.text and "Zhao Other" in everyone.text
    # Naming the other grid in the URL filters to nothing, it does not widen the view.
    assert "Zhao Other" not in (await li.get("/?grid=G2")).text
    assert "Zhao Other" not in (await li.get("/?q=Zhao")).text
    fragment = await li.get("/?state=problems", **{"HX-Request": "true"})
    assert fragment.status == 200 and "Zhao Other" not in fragment.text
    # The live part alone, with the page's title (its count of open alerts) for htmx.
    assert fragment.text.startswith("<title>") and "<header" not in fragment.text


async def test_the_live_stream_says_only_that_something_changed(console: Console) -> None:
    li = await logged_in(console, "li")
    async with li.http.get(li.base + "/events") as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        assert b"event: ready" in first
        await console.say("Zhao Other", "hello from G2")
        changed = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        assert b"event: changed" in changed
        assert b"Zhao" not in changed and b"hello" not in changed


async def test_a_viewer_reads_but_cannot_start_a_round(console: Console) -> None:
    watch = await logged_in(console, "watch")
    page = await watch.get("/")
    assert page.status == 200 and "Zhao Other" in page.text
    assert 'action="/rounds"' not in page.text
    assert (await watch.post("/rounds")).status == 403


async def test_a_grid_leader_starts_a_round_for_their_own_grid_only(console: Console) -> None:
    li = await logged_in(console, "li")
    answer = await li.post("/rounds")
    assert answer.status == 303
    await console.settle()
    leader_other = await console.person("Zhao Other")
    wang = await console.person("王秀英")
    asked = {d.chat for d in console.adapter.sent}
    assert f"test:{wang.id}" in asked and f"test:{leader_other.id}" not in asked


async def test_a_grid_leader_reaches_nothing_of_another_grid_by_any_url(
    console: Console,
) -> None:
    await console.engine.start_round()
    await console.say("Zhao Other", "/need medicine out of insulin")
    await console.advance(timedelta(minutes=61))  # Zhao Other does not answer
    zhao = await console.person("Zhao Other")
    leader = await console.person("Leader Other")
    async with console.store.read() as tx:
        alert = await tx.unresolved_alert_of(zhao.id)
        needs = await tx.needs_in(["G2"], console.clock.now())
    assert alert is not None and len(needs) == 1
    need = needs[0]
    li = await logged_in(console, "li")
    for path in (
        f"/people/{zhao.id}",
        f"/people/{zhao.id}/edit",
        f"/people/{leader.id}",
        f"/alerts/{alert.id}",
    ):
        answer = await li.get(path)
        assert answer.status in (403, 404), path
        assert "Zhao" not in answer.text, path
    for path, form in (
        (f"/alerts/{alert.id}/ack", {}),
        (f"/alerts/{alert.id}/note", {"text": "x"}),
        (f"/alerts/{alert.id}/resolve", {"outcome": "ok"}),
        (f"/people/{zhao.id}/pause", {"on": "1"}),
        (f"/people/{zhao.id}/deactivate", {"on": "1"}),
        (f"/people/{zhao.id}/edit", {"name": "Zhao Other", "role": "resident"}),
        (f"/needs/{need.id}/claim", {}),
        (f"/needs/{need.id}/done", {}),
        ("/invitations/sheet", {"grid": "G2"}),
        ("/invitations/sheet", {"person": str(zhao.id)}),
    ):
        answer = await li.post(path, form)
        assert answer.status in (403, 404), path
    for path in ("/", "/?grid=G2", "/needs", "/people", "/week", "/invitations"):
        page = await li.get(path)
        assert page.status == 200, path
        assert "Zhao Other" not in page.text and "insulin" not in page.text, path
    exported = await li.get("/people/export.csv")
    assert "Zhao Other" not in exported.text and "Leader Other" not in exported.text
    # Nothing of it changed.
    async with console.store.read() as tx:
        after = await tx.alert(alert.id)
        need_after = await tx.need(need.id)
    assert after is not None and after.state.value == "open"
    assert need_after is not None and need_after.state == "open"
    assert (await console.person("Zhao Other")).active


async def test_a_page_that_goes_away_ends_its_stream_without_an_error(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    li = await logged_in(console, "li")
    async with li.http.get(li.base + "/events") as stream:
        await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        stream.close()  # the browser moved on to another page
    for _ in range(3):  # changes to say to a page that is no longer there
        await console.say("王秀英", "我很好")
        await asyncio.sleep(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_early_warning_flags_show_on_today_for_the_grids_an_account_covers(
    console: Console,
) -> None:
    # 陈德福 (G1) and Zhao Other (G2) miss two mornings running; 王秀英 answers.
    for _ in range(2):
        console.clock.set(console.clock.now() + timedelta(minutes=30))  # the 09:00 round
        await console.settle()
        await console.say("王秀英", "好")
        console.clock.set(console.clock.now() + timedelta(hours=23, minutes=30))
        await console.settle()
    li, other, ops = [await logged_in(console, n) for n in ("li", "other", "ops")]
    mine = (await li.get("/")).text
    assert "早期预警" in mine and "陈德福 7 天内 2 次未回复" in mine
    assert "Zhao Other" not in mine and "王秀英 7 天内" not in mine
    theirs = (await other.get("/")).text
    assert "Zhao Other: 2 missed check-ins in 7 days" in theirs and "陈德福" not in theirs
    everyone = (await ops.get("/", **{"HX-Request": "true"})).text
    assert "陈德福 7 天内 2 次未回复" in everyone and "Zhao Other 7 天内 2 次未回复" in everyone
