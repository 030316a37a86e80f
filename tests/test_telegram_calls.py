"""Phone-call tasks end to end over Telegram: real aiogram against the Bot API test
server, the real engine and a SQLite file, on an injected clock. Telegram's url buttons
take http(s) only, so the number to dial is written into the task's text (Telegram's
clients make a phone number tappable there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import WorkflowConfig
from core.records import AlertReason, CheckinState
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from tests.conftest import START
from tests.telegram_server import TelegramTestServer
from tests.test_telegram_e2e import LEADER, MIN, Line, close_line, open_line

pytestmark = pytest.mark.telegram

CALLER = 9100005
WANG = 9200001
SUN = 9200004  # has blocked the bot
HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix"
CSV = f"""{HEADER},contact,caller
Leader Li,grid_leader,G1,B3,en,,1380001,,,{LEADER},,,
Caller Liu,caller,G1,,zh,,1380004,,,{CALLER},,,
王秀英,resident,G1,B3,zh,,1380011,B3-402,,{WANG},,,
刘桂兰,resident,G1,3栋,zh,,13800000011,3栋2单元402,,,,phone,Caller Liu
孙阿姨,resident,G1,B5,zh,,1380014,B5-301,,{SUN},,,
"""
CONFIG = builtin_config_text() + "grids:\n  G1: {callers: [Caller Liu]}\n"


@pytest.fixture
def config() -> WorkflowConfig:
    return parse_config(CONFIG)


@pytest.fixture
async def line(tmp_path: Path, config: WorkflowConfig) -> AsyncIterator[Line]:
    async with TelegramTestServer() as server:
        opened = await open_line(
            server, tmp_path / "carecheck.db", FakeClock(START), config, people=CSV
        )
        # A volunteer caller is asked first, and says yes, before any task reaches them.
        await opened.settle()
        question = opened.server.last_message(CALLER)
        assert "接收G1居民的提醒和需求？" in question.text
        opened.press(CALLER, question, "✅ 同意")
        await opened.settle()
        yield opened
        await close_line(opened)


async def states(line: Line, name: str) -> list[str]:
    person = await line.person(name)
    async with line.store.read() as tx:
        return [c.state.value for c in reversed(await tx.recent_checkins(person.id, 10))]


async def test_the_caller_gets_the_task_in_telegram_and_one_tap_records_the_call(
    line: Line,
) -> None:
    await line.advance(30 * MIN)  # the 09:00 round
    tasks = [m for m in line.server.messages(CALLER) if "打电话" in m.text]
    assert len(tasks) == 1
    task = tasks[0]
    assert task.text.splitlines()[0] == "请给刘桂兰打电话：13800000011（3栋2单元402）"
    assert "拨打: 13800000011" in task.text
    assert task.labels == ["✅ 接通·平安", "🆘 接通·需要帮助", "📵 无人接听"]
    query = line.press(CALLER, task, "✅ 接通·平安")
    await line.settle()
    assert await states(line, "刘桂兰") == [CheckinState.OK.value]
    assert "平安" in str(line.toast(query).params.get("text"))
    shown = line.server.message(CALLER, task.message_id)
    assert "Caller Liu 已接通：平安" in shown.text and shown.buttons == []


async def test_a_call_for_help_from_the_caller_pages_the_leader_and_a_reply_is_a_note(
    line: Line,
) -> None:
    await line.advance(30 * MIN)
    task = next(m for m in line.server.messages(CALLER) if "打电话" in m.text)
    line.press(CALLER, task, "🆘 接通·需要帮助")
    await line.settle()
    alert = await line.open_alert("刘桂兰")
    assert alert is not None and alert.urgent and alert.reason is AlertReason.HELP
    line.server.send_text(CALLER, "她说头晕，站不起来", reply_to=task)
    await line.settle()
    page = line.about(LEADER, "刘桂兰")
    assert "caller Caller Liu reached them: needs help" in page.text
    assert "头晕，站不起来" in page.text


async def test_a_resident_who_blocked_the_bot_two_rounds_in_a_row_is_phoned_instead(
    line: Line,
) -> None:
    line.server.block_bot(SUN)
    await line.settle()
    await line.advance(30 * MIN)  # round 1: refused by Telegram
    await line.advance(24 * 60 * MIN)  # round 2: refused again
    assert await states(line, "孙阿姨") == ["unreachable", "unreachable"]
    assert (await line.person("孙阿姨")).contact == "phone"
    told = [m for m in line.server.messages(LEADER) if "phoned from now on" in m.text]
    assert len(told) == 1 and "孙阿姨" in told[0].text
    await line.advance(24 * 60 * MIN)  # round 3: a task for the grid's caller
    tasks = [m for m in line.server.messages(CALLER) if "请给孙阿姨打电话" in m.text]
    assert [t.text.splitlines()[0] for t in tasks] == ["请给孙阿姨打电话：1380014（B5-301）"]
    assert len([m for m in line.server.messages(LEADER) if "phoned from now on" in m.text]) == 1
