"""The outage guard over Telegram: real aiogram against the Bot API test server, which
answers every sendMessage with 500 for two hours, on an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from tests.conftest import START
from tests.telegram_server import Fault, TelegramTestServer
from tests.test_telegram_e2e import (
    CARE_LEAD,
    CHEN,
    LEADER,
    MIN,
    PEOPLE_CSV,
    SUN,
    WANG,
    ZHAO,
    Line,
    close_line,
    open_line,
)

pytestmark = pytest.mark.telegram
RESIDENTS = (WANG, CHEN, ZHAO, SUN)


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    # Four residents: the smallest round judged is lowered to three.
    config = parse_config(builtin_config_text() + "outage_guard: {min_prompts: 3}\n")
    async with TelegramTestServer() as server:
        opened = await open_line(
            server, tmp_path / "carecheck.db", FakeClock(START), config, people=PEOPLE_CSV
        )
        yield opened
        await close_line(opened)


async def advance(line: Line, delta: timedelta, step: timedelta) -> None:
    """Line.advance in larger steps: hours of retries without a minute-by-minute walk."""
    end = line.clock.now() + delta
    while line.clock.now() < end:
        line.clock.set(min(end, line.clock.now() + step))
        await line.settle()


async def open_checkins(line: Line) -> int:
    return await line.count("SELECT count(*) FROM checkins WHERE state IN ('sent', 'reminded')")


async def test_telegram_down_for_a_round_is_one_alert_and_the_windows_wait_for_it(
    line: Line,
) -> None:
    server = line.server
    server.fail_at_random(1.0, {Fault.SERVER_ERROR: 1.0}, methods=frozenset({"sendmessage"}))
    await line.advance(30 * MIN)  # 09:00: every prompt answered with 500, retried later
    assert all(server.messages(chat) == [] for chat in RESIDENTS)
    await line.advance(5 * MIN)  # the round is judged: Telegram is out
    assert await line.count("SELECT count(*) FROM audit WHERE kind = 'outage.started'") == 1
    # Two hours on, long after the reply window: nobody paged, every check-in still
    # open, its prompt still retrying.
    await advance(line, timedelta(hours=2), 5 * MIN)
    assert server.messages(LEADER) == [] and server.messages(CARE_LEAD) == []
    assert await open_checkins(line) == 4
    assert await line.count("SELECT count(*) FROM alerts") == 0
    # Past 12:40 the outbox gives up on them (30 attempts): without the guard each
    # would now page the grid leader as unreachable; they are held instead.
    await advance(line, timedelta(hours=2), 5 * MIN)
    assert await line.count("SELECT count(*) FROM outbox WHERE state = 'failed'") >= 4
    assert await line.count("SELECT count(*) FROM timers WHERE kind = 'outage_hold'") == 4
    assert await line.count("SELECT count(*) FROM alerts") == 0
    assert await open_checkins(line) == 4

    # Telegram answers again: the care lead's alert (queued on Telegram too) arrives,
    # one held resident is asked as a probe, and once that arrives everyone held is
    # asked again — once each — and the care lead hears that Telegram is back.
    server.fail_at_random(0, {})
    await line.advance(20 * MIN)
    for chat in RESIDENTS:
        (prompt,) = server.messages(chat)
        assert prompt.labels, chat
    told = [m.text for m in server.messages(CARE_LEAD)]
    assert len(told) == 2
    assert told[0].startswith("⚠️ Telegram unreachable: 4 residents not reached")
    assert told[1] == "✅ Telegram is back (out since 09:00). 4 residents asked again."
    assert server.messages(LEADER) == []
    assert await line.count("SELECT count(*) FROM timers WHERE kind = 'outage_hold'") == 0

    # Each window counts from its delivery: 王秀英 answers, the others are paged for
    # an hour after their prompt arrived, as on any day.
    line.press(WANG, server.messages(WANG)[0], line.text("zh", "btn_ok"))
    await line.settle()
    assert await open_checkins(line) == 3
    await line.advance(65 * MIN)
    assert await line.open_alert("王秀英") is None
    assert await line.open_alert("Chen") is not None
    assert "Chen (G1 B3)" in line.about(LEADER, "Chen").text
    assert await open_checkins(line) == 0

    # The leader's summary says what happened.
    server.send_text(LEADER, "/summary")
    await line.settle()
    summary = server.last_message(LEADER).text
    assert "⚠️ Telegram was unreachable 09:0" in summary
    assert "4 residents not reached in time" in summary
