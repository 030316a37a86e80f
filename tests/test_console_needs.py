"""Needs per team on the page; claiming and finishing as the chat's buttons do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.console import WebRole
from core.enums import NeedState
from core.records import Need
from tests.console_harness import Console, Visitor, running


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        await c.add_user("other", WebRole.GRID_LEADER, person="Leader Other")
        await c.say("王秀英", "/need 药品 降压药没了")
        await c.say("王秀英", "/need 维修 水龙头漏水")
        await c.say("Zhao Other", "/need medicine out of insulin")
        yield c


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


async def need(console: Console, text: str) -> Need:
    async with console.store.read() as tx:
        found = [n for n in await tx.needs_in(None, console.clock.now()) if text in n.text]
    assert len(found) == 1, text
    return found[0]


async def test_needs_are_listed_per_team_and_claimed_and_finished_from_the_page(
    console: Console,
) -> None:
    li = await as_user(console, "li")
    page = (await li.get("/needs")).text
    assert "降压药没了" in page and "水龙头漏水" in page and "insulin" not in page
    medicine = await need(console, "降压药没了")
    assert medicine.team == "medicine"
    assert page.index("medicine") < page.index("降压药没了")
    claimed = await li.post(f"/needs/{medicine.id}/claim")
    assert claimed.status == 303 and "notice=" in claimed.location
    await console.settle()
    leader = await console.person("李网格")
    after = await need(console, "降压药没了")
    assert after.state == NeedState.CLAIMED and after.claimed_by == leader.id
    assert (await li.post(f"/needs/{medicine.id}/done")).status == 303
    await console.settle()
    done = await need(console, "降压药没了")
    assert done.state == NeedState.DONE and done.closed_by == leader.id
    async with console.store.read() as tx:
        kinds = [e.kind for e in await tx.audit_entries(f"need:{medicine.id}")]
    assert kinds == ["need.opened", "need.claimed", "need.done"]
    page = (await li.get("/needs")).text
    assert f'id="need{medicine.id}" data-state="done"' in page


async def test_a_need_of_another_grid_is_out_of_reach(console: Console) -> None:
    insulin = await need(console, "insulin")
    li = await as_user(console, "li")
    assert (await li.post(f"/needs/{insulin.id}/claim")).status == 404
    assert (await li.post("/needs/99999/claim")).status == 404
    other = await as_user(console, "other")
    assert "insulin" in (await other.get("/needs")).text
    # An operator account without a person reads, but handles nothing.
    ops = await as_user(console, "ops")
    page = await ops.get("/needs")
    assert "insulin" in page.text and "/claim" not in page.text
    assert "不能在网页上认领或办理需求" in page.text  # and is told why
    assert (await ops.post(f"/needs/{insulin.id}/claim")).status == 403
    assert (await need(console, "insulin")).state == NeedState.OPEN
