"""The store's contract for the daily summary, early warning and the outage guard: the
same tests against SQLite and PostgreSQL (fixtures from tests/test_store_contract.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.records import AlertReason, CheckinState
from store.postgres import PgStore
from store.sqlite import Store
from tests.test_store_contract import MIN, T0, AnyStore, add_people, db, message, person, store

__all__ = ["db", "store"]  # the fixtures, used by name

DAY = 24 * 60 * MIN


async def test_kv_advance_moves_a_value_forward_only_once(store: AnyStore) -> None:
    async with store.transaction() as tx:
        assert await tx.kv_advance("summary.sent:1", "2026-11-23")
        assert not await tx.kv_advance("summary.sent:1", "2026-11-23")
        assert not await tx.kv_advance("summary.sent:1", "2026-11-22")
        assert await tx.kv_advance("summary.sent:1", "2026-11-24")
        assert await tx.kv_get("summary.sent:1") == "2026-11-24"


async def test_it_keeps_each_residents_risk_tier(store: AnyStore) -> None:
    await add_people(store, person("Wang", risk="high"), person("Chen"))
    async with store.read() as tx:
        wang, chen = await tx.person_by_name("Wang"), await tx.person_by_name("Chen")
        assert wang is not None and wang.risk == "high"
        assert chen is not None and chen.risk == ""
        rows = {r["name"]: r["risk"] for r in await tx.export_rows()}
    assert rows == {"Wang": "high", "Chen": ""}
    # A row without a tier keeps the one the person has; a tier given replaces it.
    await add_people(store, person("Wang"), person("Chen", risk="key"))
    async with store.read() as tx:
        assert {p.name: p.risk for p in await tx.people()} == {"Wang": "high", "Chen": "key"}
    await add_people(store, person("Wang", risk="general"))
    async with store.read() as tx:
        wang = await tx.person_by_name("Wang")
        assert wang is not None and wang.risk == "general"


async def test_checkin_facts_tell_answered_missed_and_late_per_grid(store: AnyStore) -> None:
    ids = await add_people(
        store, person("Wang"), person("Chen"), person("Zhao", grid="G2"), person("Off")
    )
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, list(ids.values()))
        await tx.set_checkin_state(
            opened[ids["Wang"]],
            CheckinState.OK,
            only_if=[CheckinState.SENT],
            answered_at=T0 + 5 * MIN,
        )
        for name in ("Chen", "Zhao"):
            await tx.set_checkin_state(
                opened[ids[name]], CheckinState.MISSED, only_if=[CheckinState.SENT]
            )
        # Chen answers after the window: the silence alert is called off as a late answer.
        alert = await tx.create_alert(
            ids["Chen"], opened[ids["Chen"]], AlertReason.MISSED, False, "standard", T0, ""
        )
        await tx.resolve_alert(alert, None, T0 + 90 * MIN, "late_answer")
        await tx.set_active(ids["Off"], False)
        # Tomorrow's check-in is outside the day asked for.
        await tx.open_checkins("daily", T0 + DAY, T0 + DAY, T0 + DAY, [ids["Wang"]])
    async with store.read() as tx:
        facts = await tx.checkin_facts(T0, T0 + DAY, None)
        assert [(f.name, f.grid, f.state) for f in facts] == [
            ("Wang", "G1", "ok"),
            ("Chen", "G1", "missed"),
            ("Zhao", "G2", "missed"),
        ]
        wang, chen, zhao = facts
        assert wang.answer_at == T0 + 5 * MIN and wang.late_at is None
        assert chen.answered_at is None and chen.late_at == T0 + 90 * MIN
        assert zhao.answer_at is None and zhao.timezone == "Asia/Shanghai"
        assert wang.deadline == T0 + 60 * MIN and wang.due_at == T0
        assert [f.name for f in await tx.checkin_facts(T0, T0 + DAY, ["G2"])] == ["Zhao"]
        assert await tx.checkin_facts(T0, T0 + DAY, []) == []


async def test_contact_facts_give_each_residents_last_answer(store: AnyStore) -> None:
    ids = await add_people(
        store,
        person("Wang", risk="key"),
        person("Chen"),
        person("Zhao", grid="G2"),
        person("Li", "grid_leader"),
    )
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, list(ids.values()))
        await tx.set_checkin_state(
            opened[ids["Wang"]],
            CheckinState.HELP,
            only_if=[CheckinState.SENT],
            answered_at=T0 + 5 * MIN,
        )
        # A message later than the answer is the later sign.
        await tx.add_message(ids["Wang"], T0 + DAY, "text", "hello", "")
    async with store.read() as tx:
        facts = {f.name: f for f in await tx.contact_facts(None)}
        assert sorted(facts) == ["Chen", "Wang", "Zhao"]
        assert facts["Wang"].last_answer == T0 + DAY and facts["Wang"].risk == "key"
        assert facts["Chen"].last_answer is None and facts["Chen"].enrolled_at == T0
        assert [f.name for f in await tx.contact_facts(["G2"])] == ["Zhao"]


async def test_prompt_counts_and_platform_delivery_describe_a_round(store: AnyStore) -> None:
    ids = await add_people(store, person("Wang"), person("Chen"), person("Zhao"))
    async with store.transaction() as tx:
        opened = await tx.open_checkins("daily", T0, T0, T0 + 60 * MIN, list(ids.values()))
        rows = {}
        for name, person_id in ids.items():
            rows[name] = await tx.enqueue(
                "telegram",
                message(f"telegram:{name}", purpose="checkin", ref=opened[person_id]),
                T0,
            )
        rows["other"] = await tx.enqueue("matrix", message("matrix:!r"), T0)
        await tx.mark_sent(rows["Wang"], "m1", T0 + MIN)
        await tx.mark_failed(rows["Chen"], "chat not found", T0 + MIN)
        await tx.mark_retry(rows["Zhao"], "500", T0 + 10 * MIN, T0 + MIN)
    async with store.read() as tx:
        (counts,) = await tx.prompt_counts(T0)
        assert (counts.platform, counts.total, counts.delivered, counts.failing) == (
            "telegram",
            3,
            1,
            2,
        )
        assert await tx.prompt_counts(T0 + MIN) == []
        seen = await tx.platform_delivery("telegram", T0)
        assert (seen.delivered_since, seen.retrying, seen.pending) == (1, 1, 1)
        later = await tx.platform_delivery("telegram", T0 + 2 * MIN)
        assert later.delivered_since == 0
        other = await tx.platform_delivery("matrix", T0)
        assert (other.delivered_since, other.retrying, other.pending) == (0, 0, 1)


async def test_a_rounds_prompt_counts_read_its_checkins_not_the_whole_outbox(
    tmp_path: Path,
) -> None:
    # The outage guard counts a round's prompts at every round. Without statistics
    # SQLite chose to walk every message kept (101 ms after a month of 2,000
    # residents, growing with the outbox); what it does is read from its own plan.
    async with Store(tmp_path / "plan.db") as sqlite:
        statements: list[str] = []
        sqlite.db.set_trace_callback(statements.append)
        async with sqlite.read() as tx:
            await tx.prompt_counts(T0)
        sqlite.db.set_trace_callback(None)
        (counting,) = [s for s in statements if "outbox" in s]
        plan = [row[3] for row in sqlite.db.execute("EXPLAIN QUERY PLAN " + counting)]
    assert any("checkins_sent" in step for step in plan), plan
    assert not any(step.startswith(("SCAN o", "SCAN outbox")) for step in plan), plan


@pytest.mark.postgres
async def test_two_instances_advancing_the_same_day_at_once_only_one_sends(
    postgres_url: str,
) -> None:
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await asyncio.gather(first.open(), second.open())
    try:
        async with first.transaction() as a:
            assert await a.kv_advance("summary.sent:7", "2026-11-23")
            # The other instance writes the same day while this one has not committed:
            # it waits, then finds the day written and changes nothing.
            waiting = asyncio.create_task(_advance(second, "summary.sent:7", "2026-11-23"))
            await asyncio.sleep(0.2)
            assert not waiting.done()
        assert await asyncio.wait_for(waiting, 5) is False
        async with first.read() as tx:
            assert await tx.kv_get("summary.sent:7") == "2026-11-23"
    finally:
        await asyncio.gather(first.close(), second.close())


@pytest.mark.postgres
async def test_two_instances_setting_a_key_at_once_both_get_the_first_ones_value(
    postgres_url: str,
) -> None:
    """Two gateways started together on a new database each make a signing key: both
    must end up with the same one, or the buttons one signs are refused by the other."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await asyncio.gather(first.open(), second.open())
    try:
        async with first.transaction() as a:
            assert await a.kv_setdefault("actions.key", "made by the first") == "made by the first"
            waiting = asyncio.create_task(_setdefault(second, "actions.key", "made by the second"))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # waits for the first one's commit
        assert await asyncio.wait_for(waiting, 5) == "made by the first"
    finally:
        await asyncio.gather(first.close(), second.close())


async def _setdefault(store: PgStore, key: str, value: str) -> str:
    async with store.transaction() as tx:
        return await tx.kv_setdefault(key, value)


async def _advance(store: PgStore, key: str, value: str) -> bool:
    async with store.transaction() as tx:
        return await tx.kv_advance(key, value)
