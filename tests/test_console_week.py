"""The week: answer rate per grid per day and time to acknowledge, as server-drawn SVG."""

from __future__ import annotations

import re
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
        await c.advance(timedelta(minutes=31))  # the 09:00 round
        await c.say("王秀英", "我很好")
        await c.advance(timedelta(minutes=61))  # 陈德福 and Zhao Other stay silent
        await c.advance(timedelta(minutes=12))
        chen = await c.person("陈德福")
        async with c.store.read() as tx:
            alert = await tx.unresolved_alert_of(chen.id)
        assert alert is not None
        await c.say("李网格", f"/ack {alert.id}")
        yield c


async def as_user(console: Console, username: str) -> Visitor:
    visitor = console.visitor()
    assert (await visitor.login(username)).status == 303
    return visitor


def cells(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]+)</title>", svg)


async def test_the_week_shows_answer_rates_and_time_to_acknowledge(console: Console) -> None:
    ops = await as_user(console, "ops")
    page = (await ops.get("/week")).text
    rate = page[page.index('id="rate-chart"') : page.index('id="ack-chart"')]
    assert rate.count("<svg") == 1
    assert "G1：1 / 2 已回复" in cells(rate) and "G2：0 / 1 已回复" in cells(rate)
    assert ">50</text>" in rate and ">0</text>" in rate
    ack = page[page.index('id="ack-chart"') :]
    # Opened at 10:00 when the window closed, acknowledged at 10:14.
    assert "14 分钟" in cells(ack)
    # Two alerts opened today (陈德福, Zhao Other), one acknowledged.
    assert ">1/2</text>" in ack
    assert "回复 1 / 问候 3" in page


async def test_a_grid_leader_sees_only_their_grid_in_the_week(console: Console) -> None:
    li = await as_user(console, "li")
    page = (await li.get("/week")).text
    assert "G1：1 / 2 已回复" in page and "G2" not in page
    assert ">1/1</text>" in page
