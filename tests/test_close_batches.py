"""Reply windows closing together are closed as one by one would close them.

The timer loop hands the workflows a batch of due timers at a time, and the plain
`close` timers among them are read and written as sets (workflows/closes.py). Whatever
the batch holds — windows that count from a later delivery, residents whose alert is
already open, a first step whose leader is away or cannot be reached, answers that came
in time — every table must come out as firing each timer in turn would leave it: the
same rows, with the same ids.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.base import DeliveryError, RateLimits
from adapters.fake import Failure, FakeAdapter
from core.events import ButtonPressed, MessageKind, MessageReceived, Sender
from core.ids import PersonId, chat_ref
from core.records import Timer
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.simulate import street
from store.sqlite import Store
from store.sqlite.db import Tx
from workflows import closes, router
from workflows.context import Work

PLATFORM = "fake"
START = datetime(2026, 1, 5, 0, 50, tzinfo=UTC)  # 08:50 in Shanghai, a Monday


async def one_by_one(
    work: Work,
    timers: Sequence[Timer],
    fire_one: Callable[[Timer], Awaitable[bool]],
    *,
    alone: Collection[int] = (),
) -> int:
    return sum([int(await fire_one(timer)) for timer in timers])


async def run_street(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Two days of a street of 300 where most miss; every table at the end."""
    config = parse_config(builtin_config_text())
    store = Store(db)
    await store.open()
    clock = FakeClock(START)
    adapter = FakeAdapter(platform=PLATFORM, limits=RateLimits(max_in_flight=64), boot="b")
    engine = Engine(store, clock, config, {PLATFORM: adapter})
    residents: list[PersonId] = []
    by_name: dict[str, PersonId] = {}
    people = street(0, 300, 40, config.timezone, config.plan_name_default)
    async with store.transaction() as tx:
        await tx.kv_set("actions.key", "ab" * 32)  # the same button tokens in every run
        await tx.upsert_people(people, clock.now())
        for new in people:
            found = await tx.person_by_name(new.name)
            assert found is not None
            by_name[found.name] = found.id
            # Grid 3's leader is on a platform this gateway does not run: unreachable.
            platform = "elsewhere" if found.name == "leader-3" else PLATFORM
            chat = chat_ref(platform, found.id)
            await tx.bind_identity(found.id, platform, str(found.id), chat, clock.now())
            if found.role == "resident":
                residents.append(found.id)
        # Grid 2's leader is away: their care lead covers, and every copy says so.
        await tx.add_absence(
            by_name["leader-2"], clock.now() + timedelta(days=10), "leave", None, clock.now()
        )
    await engine.prepare()
    async with store.read() as tx:
        due = await tx.next_timer_due()
    assert due is not None

    async def advance_to(until: datetime) -> None:
        """Fire every timer at its due time up to `until`, as the timer loop does (late
        timers fire one at a time, noted as late)."""
        for _ in range(1_000):
            async with store.read() as tx:
                next_due = await tx.next_timer_due()
            if next_due is None or next_due > until:
                break
            clock.set(max(clock.now(), next_due))
            await engine.run_until_idle()
        clock.set(until)
        await engine.run_until_idle()

    for day in range(2):
        clock.set(due + timedelta(days=day))
        await engine.fire_due_timers()
        # A few prompts are still queued when their windows close (a backlog): those
        # windows count from delivery, later.
        for pid in residents[290:] if day == 0 else residents[280:285]:
            busy = DeliveryError("busy", permanent=False)
            adapter.failures[chat_ref(PLATFORM, pid)] = Failure(busy)
        await engine.run_until_idle()
        await advance_to(clock.now() + timedelta(minutes=5))
        count = 0
        for pid in residents[:60]:  # answered in time
            count += 1
            sender = Sender(PLATFORM, str(pid), chat_ref(PLATFORM, pid))
            await engine.receive(
                MessageReceived(
                    f"d{day}e{count}", sender, chat_ref(PLATFORM, pid), MessageKind.TEXT, "好"
                )
            )
        for pid in residents[100:105] if day == 0 else ():  # a call for help: an alert opens
            async with store.read() as tx:
                checkin = await tx.open_checkin_of(pid)
                assert checkin is not None
                (prompt,) = await tx.outbox_for("checkin", checkin.id)
            ((_, help_button),) = prompt.buttons()
            count += 1
            await engine.receive(
                ButtonPressed(
                    f"d{day}e{count}",
                    Sender(PLATFORM, str(pid), chat_ref(PLATFORM, pid)),
                    chat_ref(PLATFORM, pid),
                    token=help_button.token,
                )
            )
        await engine.run_until_idle()
        # The windows close for everyone else, then the steps walk on for a while.
        for minutes in (180, 200, 230, 260):
            if minutes == 200:
                adapter.failures.clear()  # the backlog clears
            await advance_to(due + timedelta(days=day, minutes=minutes))
    assert engine.stats.events_failed == 0
    await store.close()
    with sqlite3.connect(db) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        found = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    # A timer's id is only its claim ticket, referred to by nothing. The timers table
    # reuses the highest free rowid, and a run of closes is claimed before it is
    # fired (one by one, each just before it fires): the timers they add may get other
    # ids. What is due, when and about what must be the same.
    found["timers"] = sorted(row[1:] for row in found["timers"])
    return found


async def test_windows_closed_together_leave_every_table_as_one_by_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = 0
    handle = closes.handle

    async def counting(*args: Any) -> int:
        nonlocal taken
        fired: int = await handle(*args)
        taken += fired
        return fired

    monkeypatch.setattr(closes, "handle", counting)
    together = await run_street(tmp_path / "together.db")
    assert taken >= 200, "the windows were not closed as sets"
    monkeypatch.setattr(router, "fire_timers", one_by_one)
    alone = await run_street(tmp_path / "alone.db")
    assert together.keys() == alone.keys()
    for table in together:
        assert together[table] == alone[table], table
    # What the street was for: alerts opened both ways, covered, passed on and postponed.
    audit = [row[2] for row in together["audit"]]
    assert audit.count("alert.opened.missed") > 200
    assert audit.count("alert.missed_again") > 50
    assert "alert.step_unreachable" in audit
    assert any("cover|leader-2" in str(row) for row in together["alert_notes"])


async def test_a_batch_whose_checkin_was_answered_meanwhile_is_done_again_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(router, "fire_timers", one_by_one)
        alone = await run_street(tmp_path / "alone.db")
    raced = 0
    real = Tx.set_checkin_states

    async def answered_meanwhile(self: Tx, *args: Any, **kw: Any) -> Any:
        nonlocal raced
        changed = await real(self, *args, **kw)
        if not raced and len(changed) > 1:
            # As if another instance had recorded an answer between the read and the write.
            raced += 1
            return set(list(changed)[1:])
        return changed

    monkeypatch.setattr(Tx, "set_checkin_states", answered_meanwhile)
    again = await run_street(tmp_path / "raced.db")
    assert raced == 1
    for table in alone:
        assert again[table] == alone[table], table
