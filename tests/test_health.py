"""/healthz tells the truth: it fails, saying why, when the database cannot take a
write, when a platform has received nothing for two minutes, or when an alert has
waited too long to go out; the WAL is checkpointed so it cannot grow without bound."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from adapters.telegram import TelegramAdapter
from core.commands import Priority
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.outbox import NewMessage
from gateway import health
from gateway.app import CHECKPOINT_MINUTES, Gateway
from gateway.clock import FakeClock
from gateway.engine import Engine
from gateway.settings import Settings
from store.sqlite import Store
from tests.conftest import START
from tests.telegram_server import Fault, TelegramTestServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = Settings(
        db=tmp_path / "h.db", config=tmp_path / "absent.yaml", web_port=0, _env_file=None
    )  # type: ignore[call-arg]
    gw = await Gateway.create(settings, clock=FakeClock(START))
    await gw.start()
    yield gw
    await gw.stop()


async def healthz(gateway: Gateway) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/healthz") as response:
        return response.status, await response.text()


async def test_healthz_says_ok_when_all_is_well(gateway: Gateway) -> None:
    assert await healthz(gateway) == (200, "ok\n")


async def test_healthz_fails_while_the_database_cannot_be_written(gateway: Gateway) -> None:
    # SQLite's own read-only switch: every write fails as on a read-only file system.
    gateway.store.db.execute("PRAGMA query_only = ON")
    assert await healthz(gateway) == (
        503,
        "store: cannot write: attempt to write a readonly database\n",
    )
    gateway.store.db.execute("PRAGMA query_only = OFF")
    assert await healthz(gateway) == (200, "ok\n")


def test_a_full_disk_fails_the_store_check(tmp_path: Path) -> None:
    # In a process of its own: the file-size limit stands in for a full disk, and
    # it must not reach the test runner's own files.
    script = textwrap.dedent(
        """
        import asyncio, resource, signal, sys
        from gateway import health
        from gateway.clock import FakeClock
        from gateway.config import builtin_config_text, parse_config
        from gateway.engine import Engine
        from store.sqlite import Store
        from tests.conftest import START

        async def main() -> None:
            store = Store(sys.argv[1])
            await store.open()
            engine = Engine(store, FakeClock(START), parse_config(builtin_config_text()), {})
            await engine.prepare()
            await store.checkpoint()  # the WAL file is empty: the next write must grow it
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
            try:
                print("\\n".join(await health.problems(engine)))
            finally:
                await store.close()

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "full.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    # The timer loop is not started in this process; that is reported too.
    assert lines == ["store: cannot write: disk I/O error", "timers: the timer loop is not running"]


async def test_healthz_fails_while_an_alert_waits_too_long_to_go_out(gateway: Gateway) -> None:
    clock = gateway.clock
    assert isinstance(clock, FakeClock)
    async with gateway.store.transaction() as tx:
        # A platform nothing sends on: as if its adapter could not reach it.
        await tx.enqueue(
            "nowhere", NewMessage(chat_ref("nowhere", 1), "⚠️ 求助", Priority.ALERT), clock.now()
        )
    clock.advance(timedelta(minutes=4))
    assert await healthz(gateway) == (200, "ok\n")
    clock.advance(timedelta(minutes=2))
    assert await healthz(gateway) == (
        503,
        "outbox: an alert for nowhere has waited 6 min to be sent\n",
    )


async def test_healthz_fails_when_a_platform_has_received_nothing_for_two_minutes(
    tmp_path: Path, config: WorkflowConfig
) -> None:
    now = [1000.0]
    async with TelegramTestServer() as server, Store(tmp_path / "t.db") as store:
        adapter = TelegramAdapter(
            server.token,
            server.base_url,
            polling_timeout=1,
            request_timeout=1.0,
            poll_backoff=(0.05, 0.2),
            monotonic=lambda: now[0],
        )
        engine = Engine(store, FakeClock(START), config, {"telegram": adapter})
        await engine.prepare()
        await engine.start()
        try:
            await server.wait_for_call("getUpdates", 2)  # the first poll came back
            assert await health.problems(engine) == []
            server.fail("getUpdates", Fault.SERVER_ERROR, times=1_000_000)
            calls = len(server.calls_of("getUpdates"))
            await server.wait_for_call("getUpdates", calls + 1)
            await server.wait_for_call("getUpdates", calls + 2)  # surely a failed one
            assert server.calls_of("getUpdates")[-1].status == 500
            now[0] += 119
            assert await health.problems(engine) == []  # a blip is not an outage
            now[0] += 2
            assert await health.problems(engine) == [
                "telegram: nothing received for 121 s: getUpdates failed: "
                "Telegram server says - Internal Server Error"
            ]
        finally:
            await engine.stop()


def wal_size(db: Path) -> int:
    return os.stat(f"{db}-wal").st_size


async def test_a_checkpoint_empties_the_wal(tmp_path: Path) -> None:
    db = tmp_path / "wal.db"
    async with Store(db) as store:
        for batch in range(20):
            async with store.transaction() as tx:
                for n in range(250):
                    await tx.kv_set(f"k{batch}.{n}", "x" * 400)
        written = wal_size(db)
        assert written > 1_000_000
        await store.checkpoint()
        assert wal_size(db) == 0
        async with store.read() as tx:
            assert await tx.kv_get("k19.249") == "x" * 400


async def test_the_gateway_checkpoints_the_wal_on_a_schedule(gateway: Gateway) -> None:
    assert gateway.scheduler is not None
    job = gateway.scheduler.get_job("wal-checkpoint")
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=CHECKPOINT_MINUTES)
    await asyncio.wait_for(job.func(), 10)
    assert wal_size(gateway.store.path) == 0
