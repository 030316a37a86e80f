"""`carecheck simulate`: the real workflows and store on a virtual clock.

A seeded population answers with some probability after some delay; responders
acknowledge alerts the same way. Everything between — rounds, reminders, windows,
escalation steps, stand-downs — is carecheck's own code, only faster than real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import math
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adapters.base import RateLimits
from adapters.fake import FakeAdapter
from core.commands import Delivery
from core.config import WorkflowConfig
from core.ids import PersonId, chat_ref, split_chat_ref
from core.records import NewPerson
from gateway.clock import FakeClock
from gateway.engine import Engine
from gateway.outbox import FETCH
from store.sqlite import Store
from workflows.actions import ActionKind

PLATFORM = "sim"
# Taps handed to the engine together, as a getUpdates page of Telegram's holds 100.
PAGE = 100
SIZE_PER_RESIDENT_DAY = 2_000
_OK = ActionKind.CHECKIN_OK.value
_ACK = ActionKind.ALERT_ACK.value


def _what(token: str) -> tuple[str, int]:
    """A button token's kind and reference (`kind.ref.arg.person.signature`)."""
    kind, ref, _ = token.split(".", 2)
    return kind, int(ref)


@dataclass(frozen=True)
class SimulationParams:
    residents: int = 1000
    days: int = 7
    answer_rate: float = 0.9
    seed: int = 1
    answer_delay_minutes: float = 15.0
    ack_rate: float = 0.7
    ack_delay_minutes: float = 12.0
    residents_per_grid: int = 40


@dataclass(order=True)
class _Press:
    # Ordered by time, then by who and what: never by when it was decided.
    at: datetime
    user: str
    token: str


class SimulatedPopulation:
    """People who answer at random (seeded), on the other side of a fake adapter.

    Each person's choices are drawn from the seed and what they are choosing about (a
    check-in, an alert and who was asked), not from one stream in the order messages
    arrive: the same seed gives the same people whatever order the gateway happens
    to send in, so a change to how it pages, batches or orders its work leaves the
    report alone."""

    def __init__(self, params: SimulationParams, clock: FakeClock) -> None:
        self.params = params
        self.clock = clock
        self.pending: list[_Press] = []
        self._decided: set[int] = set()
        self._acks: set[tuple[int, str]] = set()
        # Counting only: a week of a thousand residents is tens of thousands of messages.
        # As many sends at once as the outbox reads in one pass: a pass reads only
        # rows it can start.
        self.adapter = FakeAdapter(
            platform=PLATFORM,
            limits=RateLimits(max_in_flight=FETCH),
            record=False,
            on_deliver=self._read,
            boot="sim",
        )

    def _draw(self, rate: float, mean_minutes: float, *about: object) -> datetime | None:
        """Whether this person acts (with probability `rate`) and, if so, when: after
        an exponentially distributed delay with the given mean."""
        digest = hashlib.blake2b(repr((self.params.seed, *about)).encode(), digest_size=16).digest()
        if int.from_bytes(digest[:8]) / 2**64 >= rate:
            return None
        # 1 - u lies in (0, 1]: the logarithm is defined.
        u = int.from_bytes(digest[8:]) / 2**64
        return self.clock.now() + timedelta(minutes=-mean_minutes * math.log(1.0 - u))

    def _read(self, delivery: Delivery) -> None:
        if not delivery.buttons:
            return
        user = split_chat_ref(delivery.chat)[1]
        params = self.params
        for row in delivery.buttons:
            for button in row:
                # What a person sees on a button is its label; what it does is the
                # token's kind and reference. Its signature is the engine's to check
                # when it is pressed, not the population's.
                kind, ref = _what(button.token)
                at = None
                if kind == _OK and ref not in self._decided:
                    self._decided.add(ref)
                    at = self._draw(params.answer_rate, params.answer_delay_minutes, kind, ref)
                elif kind == _ACK and (ref, user) not in self._acks:
                    self._acks.add((ref, user))
                    at = self._draw(params.ack_rate, params.ack_delay_minutes, kind, ref, user)
                if at is not None:
                    heapq.heappush(self.pending, _Press(at, user, button.token))

    async def press_due(self) -> int:
        """Every tap due by now, handed in a page at a time the way a platform adapter
        hands in a page of updates: the page's events share one commit."""
        count = 0
        while self.pending and self.pending[0].at <= self.clock.now():
            page: list[_Press] = []
            while len(page) < PAGE and self.pending and self.pending[0].at <= self.clock.now():
                page.append(heapq.heappop(self.pending))
            # A tap on the web chat's kind of button: nothing to answer, as before.
            await asyncio.gather(
                *(self.adapter.press(p.user, p.token, callback_id="") for p in page)
            )
            count += len(page)
        return count


def street(first: int, count: int, per_grid: int, timezone: str, plan: str) -> list[NewPerson]:
    """Residents first … first + count - 1, their grids' leaders and care leads, and a
    family contact for every second resident. The engine benchmark builds its street
    with this too, in chunks."""
    people = []
    for r in range(first, first + count):
        grid = f"grid-{r // per_grid + 1:05d}"
        if r % per_grid == 0:
            g = r // per_grid + 1
            people.append(
                NewPerson(f"leader-{g}", "grid_leader", grid, "", "zh", timezone, "", "", "")
            )
            people.append(NewPerson(f"care-{g}", "care_lead", grid, "", "zh", timezone, "", "", ""))
        people.append(
            NewPerson(
                f"resident-{r + 1}",
                "resident",
                grid,
                f"B{r % 12 + 1}",
                "zh",
                timezone,
                "",
                f"{r % 12 + 1}-{r % 300}",
                plan,
            )
        )
        if r % 2 == 0:
            people.append(
                NewPerson(
                    f"family-{r + 1}",
                    "family",
                    "",
                    "",
                    "zh",
                    timezone,
                    "",
                    "",
                    "",
                    family_of_name=f"resident-{r + 1}",
                )
            )
    return people


def _scratch(params: SimulationParams) -> str | None:
    """Where the throw-away database goes: memory-backed /dev/shm when it has ample
    room (no disk writes for a database deleted at the end), else the temporary
    directory. A resident-day takes about 2 KB of database."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK | os.X_OK):
        return None
    wanted = params.residents * params.days * SIZE_PER_RESIDENT_DAY
    return str(shm) if shutil.disk_usage(shm).free > 4 * wanted else None


async def simulate(
    config: WorkflowConfig,
    params: SimulationParams,
    *,
    progress: bool = False,
    db_path: Path | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    clock = FakeClock(start)
    with tempfile.TemporaryDirectory(prefix="carecheck-sim-", dir=_scratch(params)) as tmp:
        store = Store(db_path or Path(tmp) / "sim.db")
        await store.open()
        population = SimulatedPopulation(params, clock)
        engine = Engine(store, clock, config, {PLATFORM: population.adapter})
        async with store.transaction() as tx:
            await tx.upsert_people(
                street(
                    0,
                    params.residents,
                    params.residents_per_grid,
                    config.timezone,
                    config.plan_name_default,
                ),
                clock.now(),
            )
            for person in await tx.people():
                await tx.bind_identity(
                    PersonId(person.id),
                    PLATFORM,
                    str(person.id),
                    chat_ref(PLATFORM, person.id),
                    clock.now(),
                )
        await engine.prepare()
        await engine.start_receiving()
        end = start + timedelta(days=params.days)
        total_seconds = (end - start).total_seconds()
        bar = tqdm(
            total=params.days, unit="day", disable=not progress, leave=False, desc="simulating"
        )
        shown = 0
        while clock.now() < end:
            async with store.read() as tx:
                due = await tx.next_timer_due()
            candidates = [
                t
                for t in (due, population.pending[0].at if population.pending else None)
                if t is not None
            ]
            nxt = min(candidates) if candidates else end
            # One-minute resolution: everything due within the same minute is handled
            # together, which is what makes a week run in seconds.
            nxt = nxt.replace(second=0, microsecond=0) + timedelta(minutes=1)
            clock.set(max(clock.now(), min(nxt, end)))
            await population.press_due()
            await engine.run_until_idle(max_rounds=10_000)
            elapsed_days = int((clock.now() - start).total_seconds() / total_seconds * params.days)
            if elapsed_days > shown:
                bar.update(elapsed_days - shown)
                shown = elapsed_days
            if not candidates:
                break
        bar.close()
        report = await _report(store, params, population, time.perf_counter() - started)
        await engine.stop()
        await store.close()
    return report


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _report(
    store: Store, params: SimulationParams, population: SimulatedPopulation, wall: float
) -> dict[str, Any]:
    async with store.transaction() as tx:
        outcomes = await tx.checkin_outcomes()
        acks = await tx.ack_delays()
        alerts = await tx.recent_alerts(limit=10_000_000)
    within = sum(1 for s, rem, *_ in outcomes if s in ("ok", "help") and rem == 0)
    after_reminder = sum(1 for s, rem, *_ in outcomes if s in ("ok", "help") and rem > 0)
    missed = sum(1 for s, *_ in outcomes if s == "missed")
    late = sum(1 for a in alerts if a.outcome == "late_answer")
    by_step: dict[str, int] = {}
    for _, position in acks:
        by_step[str(position)] = by_step.get(str(position), 0) + 1
    delays = [d / 60 for d, _ in acks]
    return {
        "params": params.__dict__,
        "checkins_sent": len(outcomes),
        "answered_within_window": within,
        "answered_after_reminder": after_reminder,
        "missed": missed,
        "answered_late_after_alert": late,
        "alerts_opened": len(alerts),
        "alerts_acknowledged_at_step": dict(sorted(by_step.items(), key=lambda kv: int(kv[0]))),
        "alerts_never_acknowledged": sum(1 for a in alerts if a.acked_by is None),
        "ack_minutes_median": None if not delays else round(statistics.median(delays), 1),
        "ack_minutes_p95": None if not delays else round(_pct(delays, 0.95) or 0, 1),
        "messages_delivered": population.adapter.delivered,
        "wall_seconds": round(wall, 2),
    }


def render_report(report: dict[str, Any]) -> str:
    p = report["params"]
    steps = ", ".join(f"step {k}: {v}" for k, v in report["alerts_acknowledged_at_step"].items())
    return "\n".join(
        [
            f"simulated {p['residents']} residents for {p['days']} days "
            f"(answer rate {p['answer_rate']}, seed {p['seed']}) in {report['wall_seconds']} s",
            f"  check-ins sent:             {report['checkins_sent']}",
            f"  answered within the window: {report['answered_within_window']}",
            f"  answered after a reminder:  {report['answered_after_reminder']}",
            f"  missed (alert opened):      {report['missed']}",
            f"    of which answered late:   {report['answered_late_after_alert']}",
            f"  alerts opened:              {report['alerts_opened']}",
            f"  acknowledged at:            {steps or 'none'}",
            f"  never acknowledged:         {report['alerts_never_acknowledged']}",
            f"  deadline → acknowledgement: median {report['ack_minutes_median']} min, "
            f"p95 {report['ack_minutes_p95']} min",
            f"  messages delivered:         {report['messages_delivered']}",
        ]
    )
