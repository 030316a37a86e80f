"""Alerts people can trust, end to end over Telegram: real aiogram against the Bot
API test server, the real engine and a SQLite file, on an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import WorkflowConfig
from core.records import AlertReason, AlertState
from gateway.clock import FakeClock
from tests.conftest import START
from tests.telegram_server import TelegramTestServer
from tests.test_telegram_e2e import (
    CARE_LEAD,
    CHEN,
    LEADER,
    MIN,
    PEOPLE_CSV,
    WANG,
    ZHAO,
    Line,
    close_line,
    open_line,
)

pytestmark = pytest.mark.telegram


@pytest.fixture
async def line(tmp_path: Path, config: WorkflowConfig) -> AsyncIterator[Line]:
    async with TelegramTestServer() as server:
        opened = await open_line(
            server, tmp_path / "carecheck.db", FakeClock(START), config, people=PEOPLE_CSV
        )
        yield opened
        await close_line(opened)


async def test_harmless_words_page_nobody(line: Line) -> None:
    await line.advance(30 * MIN)  # 09:00 round
    line.server.send_text(WANG, "我很好，腿也不疼了")
    line.server.send_text(ZHAO, "没有摔倒，放心吧")
    line.server.send_text(CHEN, "All good, my back doesn't hurt anymore")
    await line.settle()
    for name in ("王秀英", "赵大爷", "Chen"):
        assert await line.open_alert(name) is None, name
    assert line.server.messages(LEADER) == []
    assert "收到，谢谢" in line.server.last_message(WANG).text


async def test_a_typed_sos_pages_the_leader(line: Line) -> None:
    line.server.send_text(ZHAO, "🆘")
    await line.settle()
    alert = await line.open_alert("赵大爷")
    assert alert is not None and alert.urgent and alert.reason is AlertReason.HELP
    page = line.about(LEADER, "赵大爷")
    assert "Call for help" in page.text and "B5-101" in page.text
    told = [m.text for m in line.server.messages(ZHAO)]
    assert "正在联系Leader Li" in told[-2] and told[-1].startswith("Leader Li已收到")


async def test_a_worrying_message_is_asked_back_and_answered_by_button(line: Line) -> None:
    line.server.send_text(WANG, "今天不太舒服")
    await line.settle()
    question = line.server.last_message(WANG)
    assert question.labels == ["🆘 是，请来人", "🙂 不用，我没事"]
    assert line.server.messages(LEADER) == []
    line.press(WANG, question, "🆘 是，请来人")
    await line.settle()
    alert = await line.open_alert("王秀英")
    assert alert is not None and alert.urgent
    assert "不太舒服" in line.about(LEADER, "王秀英").text
    # The question was edited: no buttons left to press twice.
    assert line.server.message(WANG, question.message_id).buttons == []


async def test_a_leaders_reply_to_the_alert_is_a_note_on_every_copy(line: Line) -> None:
    await line.advance(110 * MIN)  # Chen missed the 09:00 round: leader 10:00, care lead 10:20
    page = line.about(LEADER, "Chen")
    line.server.send_text(LEADER, "On my way, 5 minutes", reply_to=page)
    await line.settle()
    for chat in (LEADER, CARE_LEAD):
        assert "Leader Li: On my way, 5 minutes" in line.about(chat, "Chen").text
    alert = await line.open_alert("Chen")
    assert alert is not None and alert.state is AlertState.OPEN


async def test_a_message_outside_a_round_gets_a_short_answer(line: Line) -> None:
    line.server.send_text(WANG, "你好")
    await line.settle()
    assert "收到，谢谢您" in line.server.last_message(WANG).text
    assert await line.open_alert("王秀英") is None
