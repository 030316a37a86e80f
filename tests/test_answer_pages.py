"""A page of inbound events handled together is handled as one by one.

The inbox hands the workflows a page of events at a time, and the plain check-in
answers in it are read and written as sets (workflows/answers.py). Whatever the page
holds, every table must come out as `router.handle_event` one event at a time would
leave it: the same rows, with the same ids.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.base import RateLimits
from adapters.fake import FakeAdapter
from core.events import ButtonPressed, InboundEvent, MessageKind, MessageReceived, Sender
from core.ids import PersonId, chat_ref
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.simulate import street
from store.sqlite import Store
from store.sqlite.db import Tx
from workflows import answers, router
from workflows.context import Work

PLATFORM = "fake"
START = datetime(2026, 1, 5, 0, 50, tzinfo=UTC)  # 08:50 in Shanghai, a Monday


async def one_by_one(work: Work, events: Sequence[InboundEvent]) -> None:
    for event in events:
        await router.handle_event(work, event)


async def run_street(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Two rounds of a street of 300 answering in mixed pages; every table at the end."""
    config = parse_config(builtin_config_text())
    store = Store(db)
    await store.open()
    clock = FakeClock(START)
    adapter = FakeAdapter(platform=PLATFORM, limits=RateLimits(max_in_flight=64), boot="b")
    engine = Engine(store, clock, config, {PLATFORM: adapter})
    residents, others = [], []
    people = street(0, 300, 40, config.timezone, config.plan_name_default)
    async with store.transaction() as tx:
        await tx.kv_set("actions.key", "ab" * 32)  # the same button tokens in every run
        await tx.upsert_people(people, clock.now())
        for new in people:
            found = await tx.person_by_name(new.name)
            assert found is not None
            chat = chat_ref(PLATFORM, found.id)
            await tx.bind_identity(found.id, PLATFORM, str(found.id), chat, clock.now())
            (residents if found.role == "resident" else others).append(found.id)
    await engine.prepare()
    async with store.read() as tx:
        due = await tx.next_timer_due()
    assert due is not None
    clock.set(due)
    await engine.run_until_idle()
    clock.set(due + timedelta(minutes=5))
    ok: dict[PersonId, str] = {}
    help_: dict[PersonId, str] = {}
    async with store.read() as tx:
        for pid in residents:
            checkin = await tx.open_checkin_of(pid)
            assert checkin is not None
            (prompt,) = await tx.outbox_for("checkin", checkin.id)
            ((yes, no),) = prompt.buttons()
            ok[pid], help_[pid] = yes.token, no.token
    count = 0

    def text(pid: int, said: str, **kw: Any) -> MessageReceived:
        nonlocal count
        count += 1
        sender = Sender(PLATFORM, kw.pop("address", str(pid)), chat_ref(PLATFORM, pid))
        chat = kw.pop("chat", chat_ref(PLATFORM, pid))
        return MessageReceived(
            f"e{count}", sender, chat, kw.pop("kind", MessageKind.TEXT), said, **kw
        )

    def press(pid: int, token: str, callback_id: str = "") -> ButtonPressed:
        nonlocal count
        count += 1
        sender = Sender(PLATFORM, str(pid), chat_ref(PLATFORM, pid))
        return ButtonPressed(
            f"e{count}", sender, chat_ref(PLATFORM, pid), token=token, callback_id=callback_id
        )

    async def hand_in(page: list[InboundEvent]) -> None:
        for event in page:
            await engine.receive(event)
        await engine.run_until_idle()

    r = residents
    page: list[InboundEvent] = [
        text(pid, ["好", "ok", "挺好的", "收到 谢谢"][i % 4]) for i, pid in enumerate(r[:50])
    ]
    page += [press(pid, ok[pid], f"cb{i}" if i % 2 else "") for i, pid in enumerate(r[50:100])]
    for at, event in [
        (10, text(r[100], "/help")),
        (20, text(r[101], "有点头晕")),  # a worry: asked back
        (30, text(r[102], "2")),  # the prompt's second choice, typed
        (40, text(0, "hello", address="stranger", chat=chat_ref(PLATFORM, "stranger"))),
        (45, text(others[0], "ok")),  # a grid leader
        (55, text(r[0], "ok again")),  # a second message in the page
        (60, press(r[103], help_[r[103]], "cbh")),
        (65, text(r[104], "好", is_group=True, chat=chat_ref(PLATFORM, "group"))),
        (70, text(r[105], "", kind=MessageKind.VOICE)),
        (75, press(r[50], ok[r[50]])),  # pressed twice
        (80, press(r[106], ok[r[107]])),  # someone else's button
        (85, text(r[108], "/stop")),
    ]:
        page.insert(at, event)
    await hand_in(page)
    # The windows close for everyone else: alerts open; then late answers call them off.
    clock.set(due + timedelta(hours=3))
    await engine.run_until_idle()
    clock.set(clock.now() + timedelta(minutes=1))
    page = [text(pid, "好") for pid in r[200:220]] + [press(pid, ok[pid]) for pid in r[220:240]]
    page.insert(5, text(r[101], "不用"))
    page.insert(7, text(r[1], "好"))  # answered already: only noted
    await hand_in(page)
    # The next round, answered before its prompts went out (they are replaced, not edited).
    clock.set(due + timedelta(days=1))
    await engine.fire_due_timers()
    await hand_in([text(pid, "好") for pid in r[240:270]])
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
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}


async def test_a_page_handled_together_leaves_every_table_as_one_by_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sets = 0
    handle = answers.handle

    async def counting(*args: Any) -> None:
        nonlocal sets
        sets += 1
        await handle(*args)

    monkeypatch.setattr(answers, "handle", counting)
    together = await run_street(tmp_path / "together.db")
    assert sets >= 3, "no page was handled as a set"
    monkeypatch.setattr(router, "handle_events", one_by_one)
    alone = await run_street(tmp_path / "alone.db")
    assert together.keys() == alone.keys()
    for table in together:
        assert together[table] == alone[table], table
    assert len(together["audit"]) > 500 and len(together["outbox"]) > 1000


async def test_a_page_whose_checkin_closed_meanwhile_is_done_again_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(router, "handle_events", one_by_one)
        alone = await run_street(tmp_path / "alone.db")
    raced = 0
    real = Tx.answer_checkins

    async def closed_meanwhile(self: Tx, *args: Any, **kw: Any) -> Any:
        nonlocal raced
        changed = await real(self, *args, **kw)
        if not raced and changed:
            # As if another instance had closed one of them between the read and the write.
            raced += 1
            return set(list(changed)[1:])
        return changed

    monkeypatch.setattr(Tx, "answer_checkins", closed_meanwhile)
    again = await run_street(tmp_path / "raced.db")
    assert raced == 1
    for table in alone:
        assert again[table] == alone[table], table
