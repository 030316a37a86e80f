"""One busy chat must not hold up the others.

The real outbox worker on a real SQLite file, its limiter and its clock both driven by
a FakeClock, sending to a platform that keeps Telegram's limits (30 messages/s per bot,
1/s per private chat, 20/min per group) and refuses, with a flood wait, any send that
breaks one. `run_until` moves the clock the way the worker's own loop sleeps: to the
moment the worker asked to be woken at, or at once when a send has finished.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.base import AdapterContext, DeliveryError, Rate, RateLimits
from core.commands import Delivery, Priority
from core.ids import ChatRef, split_chat_ref
from core.outbox import NewMessage, OutboxRow
from gateway.clock import FakeClock
from gateway.outbox import MAX_ATTEMPTS, OutboxWorker
from store.sqlite import Store
from tests.conftest import Harness

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
TELEGRAM = RateLimits(
    overall=Rate(30, 1.0), per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0), max_in_flight=4
)
# The limiter's windows are 2 % wider than the platform's (gateway/ratelimit.py).
WINDOW = 1.02


def seconds(clock: FakeClock) -> float:
    return (clock.now() - START).total_seconds()


@dataclass
class Platform:
    """Telegram's limits, kept the way Telegram keeps them: a send that breaks one is
    refused with a flood wait for the whole bot. `fail_next` injects other refusals."""

    clock: FakeClock
    platform: str = "test"
    limits: RateLimits = TELEGRAM
    got: list[tuple[float, Delivery]] = field(default_factory=list)
    message_ids: dict[int, str] = field(default_factory=dict)
    broken_limits: int = 0
    fail_next: dict[str, list[DeliveryError]] = field(default_factory=dict)

    async def start(self, context: AdapterContext) -> None:
        pass

    async def stop(self) -> None:
        pass

    def is_group(self, chat: ChatRef) -> bool:
        return split_chat_ref(chat)[1].startswith("-")

    async def deliver(self, delivery: Delivery) -> str:
        now = seconds(self.clock)
        queued = self.fail_next.get(delivery.chat)
        if queued:
            raise queued.pop(0)
        per_bot = sum(1 for t, _ in self.got if t > now - 1.0)
        window, count = (60.0, 20) if self.is_group(delivery.chat) else (1.0, 1)
        per_chat = sum(1 for t, d in self.got if d.chat == delivery.chat and t > now - window)
        if per_bot >= 30 or per_chat >= count:
            self.broken_limits += 1
            raise DeliveryError(
                "Too Many Requests", permanent=False, retry_after=5, whole_platform=True
            )
        self.got.append((now, delivery))
        self.message_ids[delivery.outbox_id] = f"m{len(self.got)}"
        return self.message_ids[delivery.outbox_id]

    def times(self, chat: str) -> list[float]:
        return [t for t, d in self.got if d.chat == chat]

    def texts(self, chat: str) -> list[str]:
        return [d.text for _, d in self.got if d.chat == chat]

    def first_after(self, moment: float) -> Delivery:
        return next(d for t, d in self.got if t >= moment)


async def nothing_fails(row: OutboxRow, error: str) -> None:
    raise AssertionError(f"outbox {row.id} failed: {error}")


def worker_for(store: Store, clock: FakeClock, platform: Platform) -> OutboxWorker:
    return OutboxWorker(store, clock, platform, nothing_fails, monotonic=lambda: seconds(clock))


async def run_until(worker: OutboxWorker, clock: FakeClock, until: float) -> None:
    """Run the worker as `OutboxWorker.run` does, on the fake clock, up to `until`."""
    for _ in range(200_000):
        done = worker.sent + worker.failed
        delay = await worker.run_once()
        await worker.finish_sends()
        if worker.sent + worker.failed > done or delay == 0:
            continue  # a finished send wakes the loop at once
        if delay is None:
            async with worker.store.read() as tx:
                nxt = await tx.next_not_before(worker.platform, clock.now())
            delay = None if nxt is None else (nxt - clock.now()).total_seconds()
        # The first microsecond (the clock's resolution) after the wait is over.
        due = math.floor((seconds(clock) + (delay or 0.0)) * 1e6 + 1) / 1e6
        wake = until if delay is None else min(until, due)
        clock.set(START + timedelta(seconds=wake))
        if wake >= until:
            return
    raise AssertionError("the worker kept asking to run again without the clock moving")


async def queue(store: Store, clock: FakeClock, *messages: NewMessage) -> None:
    async with store.transaction() as tx:
        await tx.enqueue_many([("test", m) for m in messages], clock.now())


@pytest.mark.parametrize(
    ("busy", "per_minute"),
    [("test:1001", 60 / WINDOW), ("test:-1002", 20)],
    ids=["a leader's private chat", "a team's group"],
)
async def test_it_sends_another_chats_alert_in_the_first_slot_while_one_chat_has_300_queued(
    tmp_path: Path, busy: str, per_minute: float
) -> None:
    clock = FakeClock(START)
    platform = Platform(clock)
    async with Store(tmp_path / "o.db") as store:
        flood = [NewMessage(ChatRef(busy), f"alert {n}", Priority.ALERT) for n in range(300)]
        await queue(store, clock, *flood)
        worker = worker_for(store, clock, platform)
        await run_until(worker, clock, 5.5)
        queued_at = seconds(clock)
        await queue(store, clock, NewMessage(ChatRef("test:2002"), "other grid", Priority.ALERT))
        await run_until(worker, clock, 60.0)
    assert platform.texts("test:2002") == ["other grid"]
    # The first message to go after it was queued, and nothing stood in its way.
    assert platform.first_after(queued_at).chat == "test:2002"
    assert platform.times("test:2002")[0] == pytest.approx(queued_at)
    # The busy chat went on at its own pace and in its own order.
    sent = platform.texts(busy)
    assert sent == [f"alert {n}" for n in range(len(sent))]
    assert len(sent) == pytest.approx(per_minute, abs=1.01)
    assert platform.broken_limits == 0


async def test_500_answers_to_a_stranger_hold_up_neither_a_round_nor_an_alert(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    platform = Platform(clock)
    stranger = "test:666"
    residents = [f"test:{3000 + n}" for n in range(261)]
    async with Store(tmp_path / "o.db") as store:
        # The flood comes in first: 500 "I do not know you" replies.
        await queue(
            store,
            clock,
            *(NewMessage(ChatRef(stranger), f"who? {n}", Priority.BULK) for n in range(500)),
        )
        worker = worker_for(store, clock, platform)
        await run_until(worker, clock, 3.0)
        round_at = seconds(clock)
        await queue(
            store, clock, *(NewMessage(ChatRef(c), "早上好", Priority.ROUTINE) for c in residents)
        )
        await run_until(worker, clock, 4.0)
        alert_at = seconds(clock)
        await queue(store, clock, NewMessage(ChatRef("test:1001"), "help", Priority.ALERT))
        await run_until(worker, clock, 20.0)
        # Another stranger, at the same lowest priority, is not stuck behind the first.
        other_at = seconds(clock)
        await queue(store, clock, NewMessage(ChatRef("test:667"), "who?", Priority.BULK))
        await run_until(worker, clock, 30.0)
    assert platform.first_after(other_at).chat == "test:667"
    assert platform.times("test:667")[0] - other_at < WINDOW
    assert sorted(d.chat for _, d in platform.got if d.text == "早上好") == sorted(residents)
    # The alert took the bot's next free slot, ahead of the rest of the round.
    assert platform.first_after(alert_at).text == "help"
    assert platform.times("test:1001")[0] - alert_at < WINDOW
    # The round went out as fast as 30 messages/s allow (the alert took one slot).
    last_prompt = max(t for t, d in platform.got if d.text == "早上好")
    assert last_prompt - round_at <= (261 + 1) / 30 * WINDOW
    # The stranger was answered only when nothing else was waiting, at 1/s, in order.
    answered = platform.times(stranger)
    assert not [t for t in answered if round_at <= t <= last_prompt]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(answered))
    assert platform.texts(stranger) == [f"who? {n}" for n in range(len(answered))]
    assert platform.broken_limits == 0


async def test_it_keeps_a_chats_order_and_sends_an_edit_after_the_message_it_edits(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    platform = Platform(clock)
    chat = "test:1"
    async with Store(tmp_path / "o.db") as store:
        async with store.transaction() as tx:
            prompt = await tx.enqueue(
                "test", NewMessage(ChatRef(chat), "prompt", Priority.ROUTINE), clock.now()
            )
        await queue(
            store,
            clock,
            *(NewMessage(ChatRef(chat), text, Priority.ROUTINE) for text in ("one", "two")),
            *(NewMessage(ChatRef("test:2"), f"busy {n}", Priority.ROUTINE) for n in range(300)),
            # An answered prompt is edited at a higher priority than the prompt itself.
            NewMessage(ChatRef(chat), "prompt (answered)", Priority.REPLY, edit_of=prompt),
            NewMessage(ChatRef(chat), "three", Priority.ROUTINE),
        )
        # The platform makes this one chat wait 3 s before taking the prompt.
        platform.fail_next[chat] = [
            DeliveryError("Too Many Requests", permanent=False, retry_after=3)
        ]
        worker = worker_for(store, clock, platform)
        await run_until(worker, clock, 10.0)
        async with store.read() as tx:
            attempts = await tx.delivery_attempts(prompt)
    to_chat = [d for _, d in platform.got if d.chat == chat]
    assert [d.text for d in to_chat] == ["prompt", "prompt (answered)", "one", "two", "three"]
    assert to_chat[1].edit_of == platform.message_ids[prompt]
    # Nothing went to the chat while it was told to wait.
    assert platform.times(chat)[0] >= 3.0
    assert [ok for ok, _ in attempts] == [False, True]
    assert platform.broken_limits == 0


async def test_flood_waits_do_not_count_towards_giving_up(tmp_path: Path) -> None:
    clock = FakeClock(START)
    platform = Platform(clock)
    chat = "test:5"
    waits = MAX_ATTEMPTS + 5
    platform.fail_next[chat] = [
        DeliveryError("Too Many Requests", permanent=False, retry_after=1, whole_platform=True)
        for _ in range(waits)
    ]
    async with Store(tmp_path / "o.db") as store:
        async with store.transaction() as tx:
            alert = await tx.enqueue(
                "test", NewMessage(ChatRef(chat), "help", Priority.ALERT), clock.now()
            )
        worker = worker_for(store, clock, platform)
        await run_until(worker, clock, waits * WINDOW + 5)
        async with store.read() as tx:
            attempts = await tx.delivery_attempts(alert)
    assert platform.texts(chat) == ["help"]
    assert worker.failed == 0
    assert [ok for ok, _ in attempts] == [False] * waits + [True]


async def test_the_not_enrolled_answer_to_a_stranger_goes_last(harness: Harness) -> None:
    await harness.adapter.say("424242", "你好")
    await harness.settle()
    [answer] = harness.adapter.to("test:424242")
    assert answer.priority == Priority.BULK
