"""Starting `carecheck run`: a configuration that cannot work stops it at once with one
line and a non-zero exit; a platform that is only unreachable does not stop the rest,
and is retried in the background until it answers."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from gateway.app import Gateway, StartupError
from gateway.clock import FakeClock
from gateway.settings import Settings
from tests.conftest import START
from tests.telegram_server import TelegramTestServer

ROOT = Path(__file__).resolve().parents[1]
# Bounds every wait: a start that hangs fails the test instead of the test run.
WAIT = 60.0


async def start_carecheck(tmp_path: Path, **settings: str) -> asyncio.subprocess.Process:
    """`carecheck run` in its own process, on a fresh database and any free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECHECK_")}
    env.update(
        CARECHECK_DB=str(tmp_path / "run.db"),
        CARECHECK_CONFIG=str(tmp_path / "absent.yaml"),
        CARECHECK_WEB_PORT="0",
    )
    env.update({f"CARECHECK_{key.upper()}": value for key, value in settings.items()})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "run",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_carecheck(tmp_path: Path, **settings: str) -> tuple[int, list[str]]:
    """`carecheck run` in its own process; returns its exit code and stderr lines.
    It must exit by itself within WAIT seconds."""
    process = await start_carecheck(tmp_path, **settings)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"carecheck run did not exit within {WAIT:g} s") from None
    assert process.returncode is not None
    return process.returncode, stderr.decode().splitlines()


def carecheck_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("carecheck:")]


async def test_run_exits_with_one_line_when_telegram_refuses_the_token(tmp_path: Path) -> None:
    async with TelegramTestServer() as server:
        code, lines = await run_carecheck(
            tmp_path,
            telegram_token="987654321:WRONG-secret-value",
            telegram_api_base=server.base_url,
        )
    assert code == 2
    assert carecheck_lines(lines) == [
        "carecheck: Telegram refused the bot token (401 Unauthorized); check the token"
    ]
    assert not any("Traceback" in line or "WRONG-secret-value" in line for line in lines)


async def test_run_exits_with_one_line_for_a_webhook_without_a_secret(tmp_path: Path) -> None:
    code, lines = await run_carecheck(
        tmp_path,
        telegram_token="123456789:some-token",
        telegram_webhook_url="https://care.example.org/telegram",
    )
    assert code == 2
    (line,) = carecheck_lines(lines)
    assert line.startswith("carecheck: CARECHECK_TELEGRAM_WEBHOOK_SECRET: ")
    assert "webhook needs webhook_secret" in line
    assert not (tmp_path / "run.db").exists()  # stopped before any file was opened


async def test_run_exits_with_one_line_when_the_database_directory_is_missing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "not-mounted" / "carecheck.db"
    code, lines = await run_carecheck(tmp_path, db=str(db))
    assert code == 2
    assert lines == [f"carecheck: cannot open database {db}: the directory does not exist"]
    assert not db.parent.exists()


async def test_a_file_that_is_not_a_database_is_named_at_start(tmp_path: Path) -> None:
    db = tmp_path / "carecheck.db"
    db.write_text("name,role\n" * 1000, encoding="utf-8")
    settings = Settings(db=db, config=tmp_path / "absent.yaml", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(StartupError) as caught:
        await Gateway.create(settings, clock=FakeClock(START))
    assert str(caught.value) == f"cannot open database {db}: file is not a database"
    assert caught.value.exit_code == 2


# --- a platform that cannot be reached -----------------------------------------


async def test_run_keeps_serving_while_telegram_is_away_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    async with TelegramTestServer() as gone:
        pass
    process = await start_carecheck(
        tmp_path, telegram_token=gone.token, telegram_api_base=gone.base_url
    )
    try:
        assert process.stdout is not None
        output: list[str] = []
        while not output or not output[-1].startswith("Press Ctrl+C"):
            line = await asyncio.wait_for(process.stdout.readline(), WAIT)
            assert line, f"carecheck run ended early: {output}"
            output.append(line.decode().rstrip())
        assert any(
            line.startswith("  telegram: not connected: ")
            and line.endswith("; retrying in the background (see /healthz)")
            for line in output
        )
        (dashboard,) = [line.split()[-1] for line in output if "dashboard:" in line]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{dashboard.rstrip('/')}/healthz") as response,
        ):
            assert response.status == 503
            assert (await response.text()).startswith("telegram: not connected: ")
        process.terminate()
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def gone() -> TelegramTestServer:
    """A Bot API server that was there and is not any more: its port refuses."""
    async with TelegramTestServer() as server:
        pass
    return server


@pytest.fixture
async def gateway_without_telegram(
    tmp_path: Path, gone: TelegramTestServer
) -> AsyncIterator[Gateway]:
    settings = Settings(
        db=tmp_path / "g.db",
        config=tmp_path / "absent.yaml",
        web_port=0,
        telegram_token=gone.token,
        telegram_api_base=gone.base_url,
        _env_file=None,
    )  # type: ignore[call-arg]
    gateway = await Gateway.create(settings, clock=FakeClock(START))
    await asyncio.wait_for(gateway.start(), WAIT)
    yield gateway
    await gateway.stop()


async def healthz(gateway: Gateway) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/healthz") as response:
        return response.status, await response.text()


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what}")
        await asyncio.sleep(0.1)


async def test_an_unreachable_bot_api_leaves_the_rest_running_and_shows_in_healthz(
    gateway_without_telegram: Gateway, gone: TelegramTestServer
) -> None:
    gateway = gateway_without_telegram
    waiting = gateway.waiting_platforms()
    assert list(waiting) == ["telegram"]
    assert waiting["telegram"].startswith("not connected: ")
    status, body = await healthz(gateway)
    assert status == 503
    assert body.startswith("telegram: not connected: ")
    assert gone.token.partition(":")[2] not in body
    # The web console works meanwhile (the local chat is off beside a chat platform).
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/") as response:
        assert response.status == 200


async def test_the_gateway_connects_once_the_bot_api_answers_again(
    gateway_without_telegram: Gateway, gone: TelegramTestServer
) -> None:
    gateway = gateway_without_telegram
    async with TelegramTestServer(port=gone.port) as back:

        async def healthy() -> bool:
            return (await healthz(gateway))[0] == 200

        await until(healthy, "/healthz to say ok")
        assert await healthz(gateway) == (200, "ok\n")
        await back.wait_for_call("getUpdates")
        await gateway.stop()  # while this server is still there to answer
