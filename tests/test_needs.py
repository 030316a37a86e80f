"""Needs are recorded, routed to the team that handles their kind, and followed to done."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.needs_table import export_needs
from store.sqlite import Store
from tests.conftest import START, Harness, make_community
from tests.fakes import RecordingAdapter

CONFIG = builtin_config_text().replace('"telegram:-1001234"', '"telegram:-500"')
TEAM_CHAT = "telegram:-500"


@pytest.fixture
async def team_harness(db_path: Path) -> AsyncIterator[tuple[Harness, RecordingAdapter]]:
    config = parse_config(CONFIG)
    store = Store(db_path)
    await store.open()
    await make_community(store, config, START)
    h = Harness(store, FakeClock(START), config, RecordingAdapter())
    team = RecordingAdapter(platform="telegram")
    h.engine = Engine(store, h.clock, config, {"test": h.adapter, "telegram": team})
    await h.start()
    yield h, team
    await h.engine.stop()
    await store.close()


async def test_a_residents_need_goes_to_the_team_that_handles_its_kind(
    team_harness: tuple[Harness, RecordingAdapter],
) -> None:
    h, team = team_harness
    await h.say("Wang", "/need 买菜 米和油没有了")
    (posted,) = team.to(TEAM_CHAT)
    assert (
        "需求 #1" in posted.text and "米和油没有了" in posted.text and "Wang（B3）" in posted.text
    )
    # The group is told the need, the first name and the building: no phone, no address.
    assert "1380011" not in posted.text and "B3-402" not in posted.text
    assert "已转给supplies" in (await h.last("Wang")).text
    # A team member taps "I'll do it" in the group; every copy shows who took it.
    await h.adapter.press(await h.user("Lead Zhang"), posted.buttons[0][0].token)
    await h.settle()
    edited = team.to(TEAM_CHAT)[-1]
    assert edited.edit_of and "Lead Zhang 已认领" in edited.text and "1380011" not in edited.text
    # Who took it learns the rest in their own chat.
    (revealed,) = [d for d in await h.inbox("Lead Zhang") if "B3-402" in d.text]
    assert "1380011" in revealed.text
    await h.say("Lead Zhang", "/done 1")
    assert "已办好" in team.to(TEAM_CHAT)[-1].text
    assert "is done" in (await h.last("Lead Zhang")).text
    (concealed,) = [
        d
        for d in await h.inbox("Lead Zhang")
        if d.edit_of == h.adapter.message_ids[revealed.outbox_id]
    ]
    assert "B3-402" not in concealed.text and "1380011" not in concealed.text


async def test_a_responder_records_a_need_for_a_resident_and_residents_cannot_close_it(
    team_harness: tuple[Harness, RecordingAdapter],
) -> None:
    h, team = team_harness
    await h.say("Leader Li", "/need Chen repair the tap is leaking")
    # No team handles repairs: the grid leader gets it.
    need_msgs = [d for d in await h.inbox("Leader Li") if "Need #1" in d.text]
    assert need_msgs and "the tap is leaking" in need_msgs[0].text
    assert team.sent == []
    await h.say("Wang", "/done 1")
    assert "不能处理" in (await h.last("Wang")).text
    await h.say("Leader Other", "/claim 1")  # another grid's leader
    assert "may not act" in (await h.last("Leader Other")).text


async def test_bad_need_commands_get_the_usage(
    team_harness: tuple[Harness, RecordingAdapter],
) -> None:
    h, _ = team_harness
    await h.say("Wang", "/need 火箭 飞")
    assert "用法" in (await h.last("Wang")).text


async def test_needs_export_is_the_care_teams_table(
    team_harness: tuple[Harness, RecordingAdapter],
) -> None:
    h, _ = team_harness
    await h.say("Wang", "/need 药 降压药没了")
    await h.say("Lead Zhang", "/claim 1")
    text = await export_needs(h.store, "Asia/Shanghai")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["resident"] == "Wang" and row["kind"] == "medicine" and row["team"] == "medicine"
    assert row["state"] == "claimed" and row["claimed_by"] == "Lead Zhang"
    assert row["created_at"] == "2026-11-23 08:30" and row["history"] == "opened > claimed"


async def test_a_team_chat_this_gateway_cannot_reach_falls_back_to_the_grid_leader(
    team_harness: tuple[Harness, RecordingAdapter],
) -> None:
    h, _ = team_harness
    await h.say("Wang", "/need 药 降压药没了")  # the medicine team sits on Matrix: not running
    assert any("降压药没了" in d.text for d in await h.inbox("Leader Li"))
