"""Nothing dropped in silence: an update that cannot be read is kept in the database,
counted in /metrics, and the updates after it still arrive."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

from gateway.app import Gateway
from gateway.clock import FakeClock
from gateway.settings import Settings
from store.sqlite import Store
from store.sqlite.deadletters import MAX_RAW
from tests.conftest import START
from tests.telegram_server import TelegramTestServer

MEI = 5550001
WAIT = 15.0


async def test_a_poisoned_update_is_kept_counted_and_does_not_stop_the_next(
    tmp_path: Path,
) -> None:
    async with TelegramTestServer() as server:
        poison = server.queue_raw(
            {
                "update_id": server.next_update_id(),
                "message": {
                    "message_id": "not-a-number",
                    "date": "x",
                    "chat": {"id": 1},
                    "text": 5,
                },
            }
        )
        after = server.send_text(MEI, "救命")
        settings = Settings(
            db=tmp_path / "d.db",
            config=tmp_path / "absent.yaml",
            web_port=0,
            telegram_token=server.token,
            telegram_api_base=server.base_url,
            _env_file=None,
        )  # type: ignore[call-arg]
        gateway = await Gateway.create(settings, clock=FakeClock(START))
        await gateway.start()
        try:
            deadline = time.monotonic() + WAIT
            while server.confirmed_offset <= after["update_id"]:
                assert time.monotonic() < deadline, "the offset never moved past the updates"
                await asyncio.sleep(0.05)
            async with gateway.store.read() as tx:
                (dead,) = await tx.dead_letters("telegram")
                stored = await tx._one(
                    "SELECT count(*) AS n FROM inbox WHERE platform = 'telegram' AND event_id = ?",
                    (f"tg:{after['update_id']}",),
                )
            assert stored is not None and stored["n"] == 1  # the call for help arrived
            assert dead.ref == f"tg:{poison['update_id']}"
            assert json.loads(dead.raw) == poison
            assert dead.reason.startswith("not a valid update: message.message_id: ")
            assert dead.received_at == START
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{gateway.url}/metrics") as response,
            ):
                metrics = await response.text()
            assert 'carecheck_dead_letters_total{platform="telegram"} 1.0' in metrics
        finally:
            await gateway.stop()


async def test_a_dead_letter_is_kept_once_and_bounded_in_size(tmp_path: Path) -> None:
    async with Store(tmp_path / "s.db") as store:
        async with store.transaction() as tx:
            huge = "x" * (MAX_RAW * 3)
            assert await tx.add_dead_letter("telegram", "tg:7", huge, "why", START)
            # The same page fetched again after a crash: not a second dead letter.
            assert not await tx.add_dead_letter("telegram", "tg:7", huge, "why", START)
            # Without an id of its own, each one is kept.
            assert await tx.add_dead_letter("matrix", "", "{}", "why", START)
            assert await tx.add_dead_letter("matrix", "", "{}", "why", START + timedelta(1))
        async with store.read() as tx:
            assert await tx.dead_letter_counts() == {"telegram": 1, "matrix": 2}
            (kept,) = await tx.dead_letters("telegram")
    assert kept.raw.startswith("x" * MAX_RAW)
    assert kept.raw.endswith(f"… [{MAX_RAW * 2} more characters]")
