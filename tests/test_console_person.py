"""A person's page: the 30-day calendar, messages, enrollment, contacts; pausing and
marking that someone left, each kept in the audit and reversible."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.console import WebRole
from core.ids import CheckinId
from core.records import CheckinState
from tests.console_harness import START, Console, Visitor, running

DAY = timedelta(days=1)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        await c.add_user("other", WebRole.GRID_LEADER, person="Leader Other")
        await c.add_user("watch", WebRole.VIEWER)
        yield c


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


async def test_the_calendar_shows_thirty_days_of_answers_lateness_silence_and_help(
    console: Console,
) -> None:
    wang = await console.person("王秀英")
    # Four mornings at 09:00 Shanghai (01:00 UTC), each ending differently.
    nine = START.replace(hour=1, minute=0)
    outcomes = [
        (nine - 4 * DAY, CheckinState.OK, timedelta(minutes=5)),  # answered
        (nine - 3 * DAY, CheckinState.OK, timedelta(minutes=90)),  # late: after the window
        (nine - 2 * DAY, CheckinState.MISSED, None),
        (nine - DAY, CheckinState.HELP, timedelta(minutes=3)),
    ]
    async with console.store.transaction() as tx:
        for due, state, after in outcomes:
            opened = await tx.open_checkins("daily", due, due, due + timedelta(hours=1), [wang.id])
            await tx.set_checkin_state(
                CheckinId(opened[wang.id]),
                state,
                only_if=[CheckinState.SENT],
                answered_at=None if after is None else due + after,
            )
        await tx.add_message(wang.id, nine - DAY + timedelta(minutes=3), "text", "我摔倒了", "help")
    ops = await as_user(console, "ops")
    page = (await ops.get(f"/people/{wang.id}")).text
    found = dict(re.findall(r'title="(\d{4}-\d\d-\d\d) ([^"]*)"', page))
    assert found["2026-11-19"] == "已回复"
    assert found["2026-11-20"] == "迟回复"
    assert found["2026-11-21"] == "未回复"
    assert found["2026-11-22"] == "求助"
    assert found["2026-11-23"] == ""  # today: nothing yet
    assert len(re.findall(r'role="cell"', page)) == 30
    assert "我摔倒了" in page and "13800000011" in page
    assert "已登记聊天" in page and "test: " in page


async def test_pausing_and_leaving_are_reversible_and_audited(console: Console) -> None:
    wang = await console.person("王秀英")
    li = await as_user(console, "li")
    paused = await li.post(f"/people/{wang.id}/pause", {"on": "1"})
    assert paused.status == 303
    assert not (await console.person("王秀英")).active
    today = (await li.get("/")).text
    assert re.search(rf'id="r{wang.id}" data-state="paused"', today)
    await li.post(f"/people/{wang.id}/pause", {"on": "0"})
    assert (await console.person("王秀英")).active
    # Marking someone as gone is for care leads and operators.
    assert (await li.post(f"/people/{wang.id}/deactivate", {"on": "1"})).status == 403
    ops = await as_user(console, "ops")
    assert (await ops.post(f"/people/{wang.id}/deactivate", {"on": "1"})).status == 303
    assert "王秀英" not in (await ops.get("/")).text
    page = await ops.get(f"/people/{wang.id}")
    assert page.status == 200 and "已不再关照" in page.text
    await ops.post(f"/people/{wang.id}/deactivate", {"on": "0"})
    assert "王秀英" in (await ops.get("/")).text
    async with console.store.read() as tx:
        kinds = [e.kind for e in await tx.audit_entries(f"person:{wang.id}") if e.kind != "reveal"]
    assert kinds == [
        "person.paused",
        "person.unpaused",
        "person.deactivated",
        "person.undeactivated",
    ]


async def test_a_person_of_another_grid_cannot_be_seen_or_changed(console: Console) -> None:
    wang, zhao = await console.person("王秀英"), await console.person("Zhao Other")
    lead = await console.person("张组长")
    other, li = await as_user(console, "other"), await as_user(console, "li")
    assert (await other.get(f"/people/{wang.id}")).status == 404
    assert (await other.post(f"/people/{wang.id}/pause", {"on": "1"})).status == 404
    assert (await li.get(f"/people/{zhao.id}")).status == 404
    assert (await li.get(f"/people/{lead.id}")).status == 200
    assert (await li.get("/people/999999")).status == 404
    watch = await as_user(console, "watch")
    assert (await watch.get(f"/people/{zhao.id}")).status == 200
    assert (await watch.post(f"/people/{zhao.id}/pause", {"on": "1"})).status == 403
    assert (await console.person("王秀英")).active and (await console.person("Zhao Other")).active


async def test_opening_a_persons_page_is_written_to_the_audit_as_a_reveal(
    console: Console,
) -> None:
    wang = await console.person("王秀英")
    li = await as_user(console, "li")
    assert (await li.get(f"/people/{wang.id}")).status == 200
    async with console.store.read() as tx:
        entries = [e for e in await tx.audit_entries(f"person:{wang.id}") if e.kind == "reveal"]
    leader = await console.person("李网格")
    assert [(e.actor, e.detail) for e in entries] == [
        (leader.id, f"address, phone (console: li) | opened /people/{wang.id}")
    ]
