"""Outbox fairness benchmark: how long one busy chat holds up everyone else.

    .venv/bin/python benchmarks/outbox_fairness.py            # 100,000 pending for (c)
    .venv/bin/python benchmarks/outbox_fairness.py --pending 20000

The real outbox worker and `Store` (a SQLite file in a temporary directory), keeping
Telegram's limits (30 messages/s per bot, 1/s per private chat, 20/min per group) with
its own limiter, on a virtual clock: a FakeClock moved to each moment the worker asks to
be woken at, as its loop would sleep. Delays are virtual seconds, the same on any
machine; the cost in (c) is the worker's own wall time.

(a) a leader's chat has 260 alerts queued; 5 s later another grid's single alert is
    queued: how long until it is sent.
(b) a stranger's 500 "not enrolled" answers are queued, then a round of 261 prompts:
    how long until the last prompt is sent (30 messages/s allow 8.7 s), and how long
    an alert queued 1 s into the round waits.
(c) N prompts pending (one chat each), then the same with one chat's 2,000 alerts
    queued ahead of them: the worker sends for 30 virtual seconds; how many went out,
    and wall time per pass of the worker (`run_once`, which reads the queue) and per
    message sent.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.base import AdapterContext, Rate, RateLimits  # noqa: E402
from core.commands import Delivery, Priority  # noqa: E402
from core.ids import ChatRef, split_chat_ref  # noqa: E402
from core.outbox import NewMessage, OutboxRow  # noqa: E402
from gateway.clock import FakeClock  # noqa: E402
from gateway.outbox import OutboxWorker  # noqa: E402
from store.sqlite import Store  # noqa: E402

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
TELEGRAM = RateLimits(
    overall=Rate(30, 1.0), per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0), max_in_flight=4
)
# What answers a stranger were sent with (an older tree has no BULK: they were REPLY).
STRANGER = getattr(Priority, "BULK", Priority.REPLY)


class Platform:
    """Takes every message at once, noting the virtual time it arrived."""

    platform = "bench"
    limits = TELEGRAM

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.got: list[tuple[float, Delivery]] = []

    async def start(self, context: AdapterContext) -> None:
        pass

    async def stop(self) -> None:
        pass

    def is_group(self, chat: ChatRef) -> bool:
        return split_chat_ref(chat)[1].startswith("-")

    async def deliver(self, delivery: Delivery) -> str:
        self.got.append((seconds(self.clock), delivery))
        return str(len(self.got))

    def first(self, text: str) -> float:
        return next(t for t, d in self.got if d.text == text)


def seconds(clock: FakeClock) -> float:
    return (clock.now() - START).total_seconds()


async def nothing_fails(row: OutboxRow, error: str) -> None:
    raise RuntimeError(f"outbox {row.id} failed: {error}")


async def settle(worker: OutboxWorker) -> None:
    # Not `finish_sends`: the same script measures the tree from before it existed.
    in_flight = list(worker._in_flight.values())
    await asyncio.gather(*in_flight)


class Driver:
    def __init__(self, store: Store, clock: FakeClock, platform: Platform) -> None:
        self.clock = clock
        self.worker = OutboxWorker(
            store, clock, platform, nothing_fails, monotonic=lambda: seconds(clock)
        )
        self.passes = 0
        self.busy = 0.0

    async def run_until(self, until: float) -> None:
        """The worker's loop on the virtual clock: woken at once when a send finishes,
        else at the moment it asked for."""
        worker = self.worker
        while True:
            done = worker.sent + worker.failed
            began = time.perf_counter()
            delay = await worker.run_once()
            await settle(worker)
            self.busy += time.perf_counter() - began
            self.passes += 1
            if worker.sent + worker.failed > done or delay == 0:
                continue
            if delay is None:
                async with worker.store.read() as tx:
                    nxt = await tx.next_not_before(worker.platform, self.clock.now())
                delay = None if nxt is None else (nxt - self.clock.now()).total_seconds()
            due = math.floor((seconds(self.clock) + (delay or 0.0)) * 1e6 + 1) / 1e6
            wake = until if delay is None else min(until, due)
            self.clock.set(START + timedelta(seconds=wake))
            if wake >= until:
                return


async def queue(store: Store, clock: FakeClock, messages: list[NewMessage]) -> None:
    async with store.transaction() as tx:
        await tx.enqueue_many([("bench", m) for m in messages], clock.now())


async def busy_leader(tmp: Path) -> float:
    clock = FakeClock(START)
    platform = Platform(clock)
    async with Store(tmp / "a.db") as store:
        leader = ChatRef("bench:1001")
        await queue(store, clock, [NewMessage(leader, "alert", Priority.ALERT)] * 260)
        driver = Driver(store, clock, platform)
        await driver.run_until(5.0)
        await queue(store, clock, [NewMessage(ChatRef("bench:2002"), "other", Priority.ALERT)])
        await driver.run_until(400.0)
    return platform.first("other") - 5.0


async def stranger_flood(tmp: Path) -> tuple[float, float]:
    clock = FakeClock(START)
    platform = Platform(clock)
    async with Store(tmp / "b.db") as store:
        await queue(store, clock, [NewMessage(ChatRef("bench:666"), "who?", STRANGER)] * 500)
        driver = Driver(store, clock, platform)
        await driver.run_until(1.0)
        round_ = [
            NewMessage(ChatRef(f"bench:{3000 + n}"), "prompt", Priority.ROUTINE) for n in range(261)
        ]
        await queue(store, clock, round_)
        await driver.run_until(2.0)
        await queue(store, clock, [NewMessage(ChatRef("bench:1001"), "help", Priority.ALERT)])
        await driver.run_until(600.0)
    last = max(t for t, d in platform.got if d.text == "prompt")
    return last - 1.0, platform.first("help") - 2.0


async def cost(tmp: Path, pending: int, flood: int) -> tuple[int, int, float]:
    clock = FakeClock(START)
    platform = Platform(clock)
    async with Store(tmp / f"c{flood}.db") as store:
        for first in range(0, pending, 10_000):
            batch = range(first, min(pending, first + 10_000))
            await queue(
                store,
                clock,
                [
                    NewMessage(ChatRef(f"bench:{10_000 + n}"), "prompt", Priority.ROUTINE)
                    for n in batch
                ],
            )
        await queue(store, clock, [NewMessage(ChatRef("bench:1"), "alert", Priority.ALERT)] * flood)
        driver = Driver(store, clock, platform)
        await driver.run_until(30.0)
    return driver.passes, len(platform.got), driver.busy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pending", type=int, default=100_000, help="prompts pending in (c)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carecheck-fair-") as name:
        tmp = Path(name)
        delay = asyncio.run(busy_leader(tmp))
        print(
            f"(a) 260 alerts queued for one leader: another grid's alert sent after {delay:.3f} s"
        )
        round_s, alert_s = asyncio.run(stranger_flood(tmp))
        print(
            f"(b) 500 answers to a stranger ({STRANGER.name}) queued first: round of 261 "
            f"sent in {round_s:.1f} s; an alert in the round waited {alert_s:.3f} s"
        )
        for flood in (0, 2_000):
            passes, sent, busy = asyncio.run(cost(tmp, args.pending, flood))
            print(
                f"(c) {args.pending:,} prompts"
                + (f" behind {flood:,} alerts to one chat" if flood else "")
                + f": {sent} sent in 30 virtual s, {passes} passes, "
                f"{busy * 1e3 / passes:.2f} ms per pass, "
                f"{busy * 1e3 / max(sent, 1):.2f} ms per message sent"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
