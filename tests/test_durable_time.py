"""Deadlines are rows: a restart fires every overdue one once, marked late, and a
round missed while the gateway was down is caught up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import WorkflowConfig
from core.records import CheckinState
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from store.sqlite import Store
from store.sqlite.migrations import LATEST
from tests.conftest import START, Harness, make_community
from tests.fakes import RecordingAdapter
from workflows.rounds import next_round

MIN = timedelta(minutes=1)


async def boot(db: Path, config: WorkflowConfig, when: datetime) -> Harness:
    store = Store(db)
    await store.open()
    harness = Harness(store, FakeClock(when), config, RecordingAdapter())
    await harness.start()
    return harness


async def shutdown(h: Harness) -> None:
    await h.engine.stop()
    await h.store.close()


async def count(h: Harness, sql: str, *params: object) -> int:
    async with h.store.read() as tx:
        rows = await tx._all(sql, params)
    return int(rows[0][0])


async def test_overdue_deadlines_fire_once_after_a_restart_marked_late(
    db_path: Path, config: WorkflowConfig
) -> None:
    async with Store(db_path) as store:
        await make_community(store, config, START)
    first = await boot(db_path, config, START)
    await first.advance(31 * MIN)  # 09:01: round opened, prompts sent
    assert len(await first.inbox("Wang")) == 1
    await shutdown(first)  # the gateway goes down before the reminder

    second = await boot(db_path, config, START + 150 * MIN)  # back at 11:00
    await second.settle()
    # The reminder (09:30) and the window close (10:00) both fired, once each.
    assert await count(second, "SELECT count(*) FROM checkins WHERE state = 'missed'") == 2
    reminders = [d for d in await second.inbox("Wang") if "还没收到" in d.text]
    assert len(reminders) == 1
    assert await count(second, "SELECT count(*) FROM audit WHERE kind = 'timer.late'") >= 2
    alerts_to_leader = [d for d in await second.inbox("Leader Li") if "No answer" in d.text]
    assert len(alerts_to_leader) == 2  # Wang and Chen, once each
    await second.settle()
    await shutdown(second)

    third = await boot(db_path, config, START + 151 * MIN)
    await third.settle()
    assert await third.inbox("Leader Li") == []  # nothing fires twice
    await shutdown(third)


async def test_a_round_missed_while_down_is_caught_up_with_a_full_window(
    db_path: Path, config: WorkflowConfig
) -> None:
    async with Store(db_path) as store:
        await make_community(store, config, START)
    first = await boot(db_path, config, START)
    await shutdown(first)  # round timer for 09:00 written, gateway down until 12:00
    second = await boot(db_path, config, START + 210 * MIN)
    await second.settle()
    assert "今天身体还好吗" in (await second.last("Wang")).text
    async with second.store.read() as tx:
        rows = await tx._all("SELECT sent_at, deadline, due_at FROM checkins")
    for row in rows:
        assert row["deadline"] - row["sent_at"] == 3600  # the window counts from sending
    # Only tomorrow's round is left; the missed one is not opened twice.
    assert await count(second, "SELECT count(*) FROM checkins") == 2
    rounds = await count(second, "SELECT count(*) FROM timers WHERE kind = 'round'")
    assert rounds == 1
    await second.advance(60 * MIN)
    assert await count(second, "SELECT count(*) FROM checkins") == 2
    await shutdown(second)


async def test_a_crash_in_the_middle_of_a_round_leaves_no_half_round(
    db_path: Path, config: WorkflowConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Store(db_path) as store:
        await make_community(store, config, START)
    first = await boot(db_path, config, START)
    first.clock.set(START + 30 * MIN)
    from store.sqlite.delivery import DeliveryRepo

    async def die(*args: object, **kwargs: object) -> None:
        raise asyncio.CancelledError  # the process is killed while writing prompts

    monkeypatch.setattr(DeliveryRepo, "enqueue_many", die)
    with pytest.raises(asyncio.CancelledError):
        await first.engine.fire_due_timers()
    monkeypatch.undo()
    assert await count(first, "SELECT count(*) FROM checkins") == 0
    await shutdown(first)

    second = await boot(db_path, config, START + 32 * MIN)
    await second.settle()
    assert await count(second, "SELECT count(*) FROM checkins") == 2
    prompts = [d for d in await second.inbox("Wang") if "今天身体还好吗" in d.text]
    assert len(prompts) == 1
    await shutdown(second)


def test_rounds_follow_the_residents_timezone_across_dst() -> None:
    config = parse_config(builtin_config_text().replace('quiet_hours: "21:30-07:00"', ""))
    plan = config.plans["daily"]
    before = next_round(plan, "America/New_York", datetime(2026, 10, 31, 12, tzinfo=UTC))
    after = next_round(plan, "America/New_York", before)
    assert before == datetime(2026, 10, 31, 13, tzinfo=UTC)  # 09:00 EDT
    assert after == datetime(2026, 11, 1, 14, tzinfo=UTC)  # 09:00 EST, the day clocks go back
    shanghai = next_round(plan, "Asia/Shanghai", datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    assert shanghai == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_a_round_inside_quiet_hours_waits_for_them_to_end() -> None:
    config = parse_config(builtin_config_text().replace('"0 9 * * *"', '"0 6 * * *"'))
    fire = next_round(config.plans["daily"], "Asia/Shanghai", datetime(2026, 11, 23, tzinfo=UTC))
    assert fire == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 07:00 the next morning local


async def test_a_reminder_that_would_land_in_quiet_hours_is_not_sent(
    db_path: Path,
) -> None:
    text = builtin_config_text().replace('"0 9 * * *"', '"0 21 * * *"')
    config = parse_config(text)  # round 21:00, reminder 21:30 = quiet, close 22:00
    async with Store(db_path) as store:
        await make_community(store, config, START)
    h = await boot(db_path, config, START)
    await h.advance(12 * 60 * MIN + 31 * MIN)  # to 21:01 local
    assert "今天身体还好吗" in (await h.last("Wang")).text
    await h.advance(60 * MIN)
    assert not [d for d in await h.inbox("Wang") if "还没收到" in d.text]
    # Alerts are not routine: the window still closes and escalates in quiet hours.
    assert [d for d in await h.inbox("Leader Li") if "No answer" in d.text]
    await shutdown(h)


async def test_migrations_build_the_schema_from_a_blank_file(tmp_path: Path) -> None:
    db = tmp_path / "blank.db"
    async with Store(db) as store:
        assert await store.schema_version() == LATEST
        async with store.read() as tx:
            tables = {
                r[0] for r in await tx._all("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    assert {"people", "checkins", "alerts", "timers", "inbox", "outbox", "kv"} <= tables
    async with Store(db) as store:  # opening again changes nothing
        assert await store.schema_version() == LATEST


async def test_a_database_from_a_newer_carecheck_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    async with Store(db) as store:
        await store.conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    from core.ports import SchemaTooNew

    with pytest.raises(SchemaTooNew):
        async with Store(db):
            pass


async def test_checkin_states_are_compare_and_set(harness: Harness) -> None:
    await harness.advance(30 * MIN)
    person = await harness.person("Wang")
    async with harness.store.transaction() as tx:
        checkin = await tx.open_checkin_of(person.id)
        assert checkin is not None
        assert await tx.set_checkin_state(checkin.id, CheckinState.OK, only_if=(CheckinState.SENT,))
        assert not await tx.set_checkin_state(
            checkin.id, CheckinState.MISSED, only_if=(CheckinState.SENT,)
        )


async def test_a_round_caught_up_at_night_merges_with_the_morning_round(
    db_path: Path, config: WorkflowConfig
) -> None:
    async with Store(db_path) as store:
        await make_community(store, config, START)
    first = await boot(db_path, config, START)
    await shutdown(first)  # down from 08:30 until 23:00 local
    second = await boot(db_path, config, START + (14 * 60 + 30) * MIN)
    await second.settle()
    assert await second.inbox("Wang") == []
    await second.advance(7 * 60 * MIN)  # until 06:00: still quiet
    assert await second.inbox("Wang") == []
    await second.advance(61 * MIN)  # 07:01: quiet hours are over, 09:00 is near
    assert await second.inbox("Wang") == []
    await second.advance(120 * MIN)  # 09:01
    prompts = [d for d in await second.inbox("Wang") if "今天身体还好吗" in d.text]
    assert len(prompts) == 1
    await second.advance(180 * MIN)
    prompts = [d for d in await second.inbox("Wang") if "今天身体还好吗" in d.text]
    assert len(prompts) == 1
    await shutdown(second)


async def test_a_round_caught_up_at_night_for_an_evening_plan_waits_for_quiet_to_end(
    db_path: Path,
) -> None:
    config = parse_config(builtin_config_text().replace('"0 9 * * *"', '"0 19 * * *"'))
    async with Store(db_path) as store:
        await make_community(store, config, START)
    first = await boot(db_path, config, START)
    await shutdown(first)  # down from 08:30; the 19:00 round is missed; back at 23:00
    second = await boot(db_path, config, START + (14 * 60 + 30) * MIN)
    await second.settle()
    assert await second.inbox("Wang") == []
    await second.advance(8 * 60 * MIN + MIN)  # 07:01: the missed round goes out now
    prompts = [d for d in await second.inbox("Wang") if "今天身体还好吗" in d.text]
    assert len(prompts) == 1
    await shutdown(second)
