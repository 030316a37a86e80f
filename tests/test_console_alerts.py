"""An alert's page: its timeline, and acting on it exactly as the chat buttons do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.console import WebRole
from core.records import Alert, AlertState
from tests.console_harness import Console, Visitor, running


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async for c in running(tmp_path):
        await c.add_user("ops", WebRole.OPERATOR)
        await c.add_user("li", WebRole.GRID_LEADER, person="李网格")
        await c.add_user("other", WebRole.GRID_LEADER, person="Leader Other")
        await c.add_user("watch", WebRole.VIEWER)
        await c.engine.start_round()
        await c.settle()
        await c.say("王秀英", "我很好")
        await c.advance(timedelta(minutes=61))  # 陈德福 stayed silent
        yield c


async def chens_alert(console: Console) -> Alert:
    chen = await console.person("陈德福")
    async with console.store.read() as tx:
        alert = await tx.unresolved_alert_of(chen.id)
    assert alert is not None
    return alert


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


async def test_the_page_shows_the_timeline_and_when_the_next_step_fires(
    console: Console,
) -> None:
    alert = await chens_alert(console)
    ops = await as_user(console, "ops")
    page = await ops.get(f"/alerts/{alert.id}")
    assert page.status == 200
    text = page.text
    assert "陈德福" in text and "提醒开始：未回复" in text
    assert "通知网格长李网格（第 1 步，test）" in text and "已送达" in text
    assert "已通知 1 / 9 步" in text
    assert "通知下一步" in text and "关爱组负责人" in text
    # An operator account without a person reads, and is told why it cannot act.
    assert "没有关联到具体的人" in text and f'action="/alerts/{alert.id}/ack"' not in text
    await console.advance(timedelta(minutes=51))  # the care lead, then family: nobody
    text = (await ops.get(f"/alerts/{alert.id}")).text
    assert "通知关爱组负责人张组长（第 2 步，test）" in text
    assert "这一步没有可通知的人，直接转给下一步" in text and "第 3 步：家属" in text


async def test_a_linked_grid_leader_acts_from_the_page_as_from_the_chat(
    console: Console,
) -> None:
    alert = await chens_alert(console)
    leader = await console.person("李网格")
    li = await as_user(console, "li")
    page = await li.get(f"/alerts/{alert.id}")
    assert f'action="/alerts/{alert.id}/ack"' in page.text
    copies_before = len(console.adapter.to(f"test:{leader.id}"))

    acked = await li.post(f"/alerts/{alert.id}/ack")
    assert acked.status == 303 and acked.location.startswith(f"/alerts/{alert.id}?notice=")
    await console.settle()
    after = await chens_alert(console)
    assert after.state is AlertState.ACKNOWLEDGED and after.acked_by == leader.id
    # The leader's chat copy was edited, as a tap on its button would have done.
    edits = [d for d in console.adapter.to(f"test:{leader.id}")[copies_before:] if d.edit_of]
    assert edits and "李网格 已确认" in edits[-1].text

    noted = await li.post(f"/alerts/{alert.id}/note", {"text": "已打电话，马上上门"})
    assert noted.status == 303
    await console.settle()
    resolved = await li.post(f"/alerts/{alert.id}/resolve", {"outcome": "visited"})
    assert resolved.status == 303
    await console.settle()
    async with console.store.read() as tx:
        done = await tx.alert(alert.id)
        notes = await tx.alert_notes(alert.id)
        audit = await tx.audit_entries(f"alert:{alert.id}")
    assert done is not None and done.state is AlertState.RESOLVED and done.outcome == "visited"
    assert [n.text for n in notes if n.person_id == leader.id] == ["已打电话，马上上门"]
    acts = [(e.kind, e.actor) for e in audit if e.kind in ("alert.acknowledged", "alert.resolved")]
    assert acts == [("alert.acknowledged", leader.id), ("alert.resolved", leader.id)]
    timeline = (await li.get(f"/alerts/{alert.id}")).text
    assert "李网格 确认：我来处理" in timeline and "李网格 关闭：已上门探望" in timeline
    assert "已打电话，马上上门" in timeline


async def test_another_grids_leader_cannot_see_or_act_on_the_alert(console: Console) -> None:
    alert = await chens_alert(console)
    other = await as_user(console, "other")
    assert (await other.get(f"/alerts/{alert.id}")).status == 404
    for action in ("ack", "note", "resolve"):
        answer = await other.post(f"/alerts/{alert.id}/{action}", {"text": "x", "outcome": "ok"})
        assert answer.status == 404, action
    watch = await as_user(console, "watch")
    assert (await watch.get(f"/alerts/{alert.id}")).status == 200
    assert (await watch.post(f"/alerts/{alert.id}/ack")).status == 403
    assert (await chens_alert(console)).state is AlertState.OPEN


async def test_bad_alert_requests_get_short_answers(console: Console) -> None:
    alert = await chens_alert(console)
    li = await as_user(console, "li")
    assert (await li.get("/alerts/999999")).status == 404
    assert (await li.get("/alerts/abc")).status == 404
    empty = await li.post(f"/alerts/{alert.id}/note", {"text": "  "})
    assert empty.status == 400 and "1 to 1000" in empty.text
    long = await li.post(f"/alerts/{alert.id}/resolve", {"outcome": "other", "other": "x" * 300})
    assert long.status == 400
    no_token = await li.post(f"/alerts/{alert.id}/ack", csrf="")
    assert no_token.status == 403
    assert (await chens_alert(console)).state is AlertState.OPEN


async def test_the_engines_work_for_the_page_tells_listeners_only_after_it_commits(
    console: Console,
) -> None:
    told: list[str] = []
    console.engine.on_change.append(lambda: told.append("changed"))
    with pytest.raises(RuntimeError):
        async with console.engine.work() as work:
            await work.tx.kv_set("probe", "1")
            raise RuntimeError("the page's action failed half-way")
    async with console.store.read() as tx:
        assert await tx.kv_get("probe") is None
    assert told == []
    async with console.engine.work() as work:
        await work.tx.kv_set("probe", "2")
    assert told == ["changed"]
