"""The chaos harness, short: the real gateway (`python -m gateway run`) killed three
times during a round for 100 residents while a fifth of Telegram's calls fail — and
nothing may be lost. It runs `benchmarks/chaos.py` as an operator would, in about two
minutes of real time (the harness's rounds run on the wall clock; see its docstring).

Also here: the two faults the Bot API test server gained for it, through real aiogram.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from tests.telegram_server import Fault, TelegramTestServer

pytestmark = pytest.mark.telegram

ROOT = Path(__file__).resolve().parent.parent
# The run itself is bounded by the harness (its rounds and a settle limit); this only
# keeps a hung run from holding the suite.
RUN_LIMIT = 480


def bot_for(server: TelegramTestServer) -> Bot:
    return Bot(
        server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    )


async def test_it_keeps_a_message_whose_answer_was_lost() -> None:
    async with TelegramTestServer() as server:
        bot = bot_for(server)
        server.fail("sendMessage", Fault.RESPONSE_LOST)
        try:
            with pytest.raises(TelegramNetworkError):
                await bot.send_message(5, "早上好")
            await bot.send_message(5, "早上好")
        finally:
            await bot.session.close()
        assert [m.text for m in server.messages(5)] == ["早上好", "早上好"]
        assert [c.fault for c in server.calls] == [Fault.RESPONSE_LOST, None]


async def test_it_sends_nothing_when_the_connection_resets_first() -> None:
    async with TelegramTestServer() as server:
        bot = bot_for(server)
        server.fail("sendMessage", Fault.CONNECTION_RESET)
        server.fail("sendMessage", Fault.SERVER_ERROR)
        try:
            with pytest.raises(TelegramNetworkError):
                await bot.send_message(5, "one")
            with pytest.raises(Exception, match="Internal Server Error"):
                await bot.send_message(5, "two")
            await bot.send_message(5, "three")
        finally:
            await bot.session.close()
        assert [m.text for m in server.messages(5)] == ["three"]


async def test_it_fails_a_share_of_calls_at_random_reproducibly() -> None:
    async def run(seed: int) -> list[Fault | None]:
        async with TelegramTestServer() as server:
            server.fail_at_random(0.5, {Fault.SERVER_ERROR: 1, Fault.RESPONSE_LOST: 1}, seed=seed)
            bot = bot_for(server)
            try:
                for i in range(20):
                    with contextlib.suppress(TelegramAPIError, TelegramNetworkError):
                        await bot.send_message(7, f"m{i}")
            finally:
                await bot.session.close()
            return [c.fault for c in server.calls]

    first, again = await run(3), await run(3)
    assert first == again
    assert 3 <= sum(f is not None for f in first) <= 17


@pytest.mark.timeout(RUN_LIMIT + 60)
def test_it_loses_nothing_when_the_gateway_is_killed_while_telegram_fails(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "chaos.py"),
            "--residents",
            "100",
            "--kills",
            "3",
            "--seed",
            "1",
            "--keep",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        cwd=ROOT,
        check=False,
    )
    report = result.stdout + "\n--- stderr ---\n" + result.stderr[-4000:]
    assert "zero loss: yes" in result.stdout, report
    assert result.returncode == 0, report
