"""`carecheck simulate`: the real workflows and store on a virtual clock.

A seeded population answers with some probability after some delay; responders
acknowledge alerts the same way. Everything between — rounds, reminders, windows,
escalation steps, stand-downs — is carecheck's own code, only faster than real time.

Grids never share anyone (a resident's alerts go to their grid's leader and care lead
and to their own family), so a large street is simulated as a few blocks of grids,
each in its own process with its own database, and the blocks' figures are added up.
The report does not depend on how many blocks there are: every person's choices are
drawn from the seed and from what they choose about, named the same way in every
block, and each block does a minute's work in the same order (answers, then due
timers, then sending). `tests/test_simulator.py` holds it to that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import math
import multiprocessing
import os
import queue
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adapters.base import RateLimits
from adapters.fake import FakeAdapter
from core.commands import Delivery
from core.config import WorkflowConfig
from core.ids import PersonId, chat_ref, split_chat_ref
from core.ports import Store as StorePort
from core.records import NewPerson
from gateway.clock import FakeClock
from gateway.engine import Engine
from gateway.outbox import FETCH
from store.sqlite import Store
from workflows import early_warning
from workflows.actions import ActionKind
from workflows.early_warning import Rule

PLATFORM = "sim"
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
# Taps handed to the engine together, as a getUpdates page of Telegram's holds 100.
PAGE = 100
SIZE_PER_RESIDENT_DAY = 2_000
# Below this many residents a second process costs more than it saves.
PARALLEL_FROM = 2_000
_OK = ActionKind.CHECKIN_OK.value
_ACK = ActionKind.ALERT_ACK.value
_CALL_OK = ActionKind.CALL_OK.value
_CALL_NO_ANSWER = ActionKind.CALL_NO_ANSWER.value
# The longest a simulated resident is away (in hospital, visiting family).
MAX_AWAY_DAYS = 5


def _what(token: str) -> tuple[str, int]:
    """A button token's kind and reference (`kind.ref.arg.person.signature`)."""
    kind, ref, _ = token.split(".", 2)
    return kind, int(ref)


def _ceil_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


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
    # Share of residents without a chat app, phoned by their grid's caller instead.
    phone_share: float = 0.0
    # Chance that a resident goes away (1 to 5 days) on a given day.
    away_rate: float = 0.0


@dataclass(order=True)
class _Press:
    # Ordered by time, then by who and what: never by when it was decided.
    at: datetime
    user: str
    token: str


class SimulatedPopulation:
    """People who answer at random (seeded), on the other side of a fake adapter.

    Each choice is drawn from the seed and what it is about — this resident's prompt
    first seen at this time; this alert (whose resident, opened when) seen by this
    person — not from one stream in the order messages arrive, and nothing in it is
    a database id: the same seed gives the same people however the gateway pages,
    batches or orders its sends, and however the street is split into blocks."""

    def __init__(self, params: SimulationParams, clock: FakeClock) -> None:
        self.params = params
        self.clock = clock
        self.pending: list[_Press] = []
        self._decided: set[int] = set()
        self._acks: set[tuple[int, str]] = set()
        # Alert copies seen, to be decided on once it is known whose alert it is.
        self._seen: list[tuple[int, str, str, datetime]] = []
        self.call_tasks = 0
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

    def _draw(
        self, rate: float, mean_minutes: float, since: datetime, *about: object
    ) -> datetime | None:
        """Whether this person acts (with probability `rate`) and, if so, when: after
        an exponentially distributed delay with the given mean."""
        digest = hashlib.blake2b(repr((self.params.seed, *about)).encode(), digest_size=16).digest()
        if int.from_bytes(digest[:8]) / 2**64 >= rate:
            return None
        # 1 - u lies in (0, 1]: the logarithm is defined.
        u = int.from_bytes(digest[8:]) / 2**64
        return since + timedelta(minutes=-mean_minutes * math.log(1.0 - u))

    def _read(self, delivery: Delivery) -> None:
        if not delivery.buttons:
            return
        user = split_chat_ref(delivery.chat)[1]
        params = self.params
        now = self.clock.now()
        tokens = {_what(b.token)[0]: b.token for row in delivery.buttons for b in row}
        if _CALL_OK in tokens and _CALL_NO_ANSWER in tokens:
            # A call task: the caller always calls (after a while); the resident picks
            # up as often as residents answer. The task's text names the resident.
            self.call_tasks += 1
            at = self._draw(1.0, params.answer_delay_minutes, now, "call", user, delivery.text)
            reached = self._draw(params.answer_rate, 1.0, now, "reached", delivery.text, now)
            token = tokens[_CALL_OK] if reached is not None else tokens[_CALL_NO_ANSWER]
            if at is not None:
                heapq.heappush(self.pending, _Press(at, user, token))
            return
        for row in delivery.buttons:
            for button in row:
                # What a person sees on a button is its label; what it does is the
                # token's kind and reference. Its signature is the engine's to check
                # when it is pressed, not the population's.
                kind, ref = _what(button.token)
                if kind == _OK and ref not in self._decided:
                    self._decided.add(ref)
                    # A resident has one check-in open at a time: theirs first seen now.
                    at = self._draw(
                        params.answer_rate, params.answer_delay_minutes, now, kind, user, now
                    )
                    if at is not None:
                        heapq.heappush(self.pending, _Press(at, user, button.token))
                elif kind == _ACK and (ref, user) not in self._acks:
                    self._acks.add((ref, user))
                    self._seen.append((ref, user, button.token, now))

    async def decide(self, store: StorePort) -> None:
        """Decide on the alert copies seen: whose alert, and opened when, is what
        names an alert in every block alike (its id does not)."""
        if not self._seen:
            return
        seen, self._seen = self._seen, []
        params = self.params
        async with store.read() as tx:
            for ref, user, token, since in seen:
                alert = await tx.alert(ref)
                resident = None if alert is None else await tx.person(alert.person_id)
                if alert is None or resident is None:
                    continue
                at = self._draw(
                    params.ack_rate,
                    params.ack_delay_minutes,
                    since,
                    _ACK,
                    user,
                    resident.name,
                    alert.opened_at,
                )
                if at is not None:
                    heapq.heappush(self.pending, _Press(at, user, token))

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


def phoned(r: int, share: float) -> bool:
    """Whether resident r (from 0) is phoned: a fixed, evenly spread share of them."""
    return share > 0 and (r * 2654435761) % 10_000 < share * 10_000


def street(
    first: int, count: int, per_grid: int, timezone: str, plan: str, phone_share: float = 0.0
) -> list[NewPerson]:
    """Residents first … first + count - 1, their grids' leaders and care leads, and a
    family contact for every second resident; with `phone_share`, a caller per grid
    and that share of residents phoned by them. The engine benchmark builds its street
    with this too, in chunks."""
    people = []
    for r in range(first, first + count):
        grid = f"grid-{r // per_grid + 1:05d}"
        g = r // per_grid + 1
        if r % per_grid == 0:
            people.append(
                NewPerson(f"leader-{g}", "grid_leader", grid, "", "zh", timezone, "", "", "")
            )
            people.append(NewPerson(f"care-{g}", "care_lead", grid, "", "zh", timezone, "", "", ""))
            if phone_share > 0:
                people.append(
                    NewPerson(f"caller-{g}", "caller", grid, "", "zh", timezone, "", "", "")
                )
        by_phone = phoned(r, phone_share)
        people.append(
            NewPerson(
                f"resident-{r + 1}",
                "resident",
                grid,
                f"B{r % 12 + 1}",
                "zh",
                timezone,
                f"138{r + 1:08d}" if by_phone else "",
                f"{r % 12 + 1}-{r % 300}",
                plan,
                contact="phone" if by_phone else "",
                caller_name=f"caller-{g}" if by_phone else "",
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


def _scratch(residents: int, days: int) -> str | None:
    """Where the throw-away database goes: memory-backed /dev/shm when it has ample
    room (no disk writes for a database deleted at the end), else the temporary
    directory. A resident-day takes about 2 KB of database."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK | os.X_OK):
        return None
    wanted = residents * days * SIZE_PER_RESIDENT_DAY
    return str(shm) if shutil.disk_usage(shm).free > 4 * wanted else None


@contextlib.contextmanager
def _scratch_db(residents: int, days: int) -> Iterator[Path]:
    """A throw-away database file, removed with its directory on leaving."""
    with tempfile.TemporaryDirectory(prefix="carecheck-sim-", dir=_scratch(residents, days)) as tmp:
        yield Path(tmp) / "sim.db"


@dataclass
class _Tally:
    """What one block of grids came to, in a form that adds up across blocks."""

    checkins_sent: int = 0
    within: int = 0
    after_reminder: int = 0
    missed: int = 0
    late: int = 0
    alerts: int = 0
    never_acked: int = 0
    # Minutes from an alert's opening to its acknowledgement, and the step reached.
    acks: list[tuple[float, int]] = field(default_factory=list)
    delivered: int = 0
    call_tasks: int = 0
    calls_answered: int = 0  # answered by proxy: the caller reached them
    calls_unanswered: int = 0
    calls_help: int = 0
    away_days: float = 0.0
    # Early-warning flags standing at the end, by rule.
    flags: dict[str, int] = field(default_factory=dict)

    def add(self, other: _Tally) -> None:
        for name in (
            "checkins_sent",
            "within",
            "after_reminder",
            "missed",
            "late",
            "alerts",
            "never_acked",
            "delivered",
            "call_tasks",
            "calls_answered",
            "calls_unanswered",
            "calls_help",
            "away_days",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.acks += other.acks
        for rule, count in other.flags.items():
            self.flags[rule] = self.flags.get(rule, 0) + count


def split_street(params: SimulationParams, jobs: int) -> list[tuple[int, int]]:
    """(first resident, count) of `jobs` blocks of whole grids, as even as can be."""
    per_grid = params.residents_per_grid
    grids = -(-params.residents // per_grid)
    jobs = max(1, min(jobs, grids))
    bounds = [g * grids // jobs * per_grid for g in range(jobs + 1)]
    return [
        (lo, min(hi, params.residents) - lo)
        for lo, hi in itertools.pairwise(bounds)
        if lo < params.residents
    ]


def default_jobs(params: SimulationParams) -> int:
    """One process per core for a large street; one for a small one."""
    if params.residents < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


async def _settle(engine: Engine) -> None:
    """Everything due at this minute, always in the same order: the answers that came
    in, then the timers that are due, then sending; again until nothing is left.
    (The gateway's own loops run these side by side; a fixed order keeps a
    resident's minute the same whatever else happens in it.)"""
    for _ in range(10_000):
        busy = 0
        while handled := await engine.process_inbox():
            busy += handled
        while fired := await engine.fire_due_timers():
            busy += fired
        busy += await engine.flush_outbox()
        if not busy:
            return
    raise RuntimeError("simulation did not settle")


async def _run_block(
    config: WorkflowConfig,
    params: SimulationParams,
    first: int,
    count: int,
    db_path: Path | None,
    on_day: Callable[[], object],
) -> _Tally:
    clock = FakeClock(START)
    with contextlib.ExitStack() as stack:
        if db_path is None:
            db_path = stack.enter_context(_scratch_db(count, params.days))
        store = Store(db_path)
        await store.open()
        try:
            population = SimulatedPopulation(params, clock)
            engine = Engine(store, clock, config, {PLATFORM: population.adapter})
            async with store.transaction() as tx:
                await tx.upsert_people(
                    street(
                        first,
                        count,
                        params.residents_per_grid,
                        config.timezone,
                        config.plan_name_default,
                        params.phone_share,
                    ),
                    clock.now(),
                )
                # Chats named by the person's name, the same in every block; residents
                # who are phoned have none.
                for person in await tx.people():
                    if person.contact == "phone":
                        continue
                    await tx.bind_identity(
                        PersonId(person.id),
                        PLATFORM,
                        person.name,
                        chat_ref(PLATFORM, person.name),
                        clock.now(),
                    )
                    # The simulated families and callers said yes to hearing about
                    # their residents.
                    if person.role in ("family", "caller"):
                        await tx.add_consent(
                            person.id, person.family_of or 0, "given", "simulated", clock.now()
                        )
            await engine.prepare()
            await engine.start_receiving()
            try:
                await _walk_days(store, engine, population, clock, params.days, on_day)
                return await _tally(store, population, config, START + timedelta(days=params.days))
            finally:
                await engine.stop()
        finally:
            await store.close()


async def _walk_days(
    store: Store,
    engine: Engine,
    population: SimulatedPopulation,
    clock: FakeClock,
    days: int,
    on_day: Callable[[], object],
) -> None:
    end = START + timedelta(days=days)
    day = START + timedelta(days=1)
    away = population.params.away_rate > 0
    if away:
        await _go_away(store, engine, population, 0)
    while True:
        async with store.read() as tx:
            due = await tx.next_timer_due()
        candidates = [
            t
            for t in (
                due,
                population.pending[0].at if population.pending else None,
                # Time away starts at the day's boundary in every block alike.
                day if away else None,
            )
            if t is not None
        ]
        if not candidates:
            break
        # One-minute resolution: everything due within a minute is handled together
        # at its end (at the minute itself when due exactly on it), which is what
        # makes a week run in seconds.
        nxt = _ceil_minute(min(candidates))
        if nxt > end:
            break
        clock.set(max(clock.now(), nxt))
        while day <= clock.now():
            on_day()
            if away and day < end:
                await _go_away(store, engine, population, (day - START).days)
            day += timedelta(days=1)
        await population.press_due()
        await _settle(engine)
        await population.decide(store)
    while day <= end:
        on_day()
        day += timedelta(days=1)


async def _go_away(store: Store, engine: Engine, population: SimulatedPopulation, day: int) -> None:
    """Some residents go away today for 1 to 5 days (drawn from the seed, their name
    and the day), through the same path as `carecheck people away`."""
    async with store.read() as tx:
        residents = await tx.people("resident")
        away = {a.person_id for a in await tx.away_at(population.clock.now())}
    for resident in residents:
        if resident.id in away:
            continue
        drawn = population._draw(
            population.params.away_rate, MAX_AWAY_DAYS / 2, START, "away", resident.name, day
        )
        if drawn is not None:
            length = min(MAX_AWAY_DAYS, 1 + int((drawn - START).total_seconds() // 60) % 5)
            await engine.set_away(resident.name, f"{length}d", "simulated")


async def _tally(
    store: Store, population: SimulatedPopulation, config: WorkflowConfig, end: datetime
) -> _Tally:
    async with store.read() as tx:
        outcomes = await tx.checkin_outcomes()
        acks = await tx.ack_delays()
        alerts = await tx.recent_alerts(limit=10_000_000)
        calls = await tx.call_outcome_counts(START, end)
        absences = await tx.absences_between(START, end)
        flags = await early_warning.flags(tx, config.early_warning, end, None)
    away_seconds = sum(
        (min(a.ended_at or a.until, a.until, end) - max(a.starts_at, START)).total_seconds()
        for a in absences
    )
    return _Tally(
        checkins_sent=len(outcomes),
        within=sum(1 for s, rem, *_ in outcomes if s in ("ok", "help") and rem == 0),
        after_reminder=sum(1 for s, rem, *_ in outcomes if s in ("ok", "help") and rem > 0),
        missed=sum(1 for s, *_ in outcomes if s == "missed"),
        late=sum(1 for a in alerts if a.outcome == "late_answer"),
        alerts=len(alerts),
        never_acked=sum(1 for a in alerts if a.acked_by is None),
        acks=[(delay / 60, position) for delay, position in acks],
        delivered=population.adapter.delivered,
        call_tasks=population.call_tasks,
        calls_answered=calls.get("answered", 0),
        calls_unanswered=calls.get("no_answer", 0),
        calls_help=calls.get("help", 0),
        away_days=away_seconds / 86400,
        flags={rule.value: sum(1 for f in flags if f.rule is rule) for rule in Rule},
    )


def _block_in_process(
    index: int,
    config: WorkflowConfig,
    params: SimulationParams,
    first: int,
    count: int,
    db_path: Path,
    news: Any,
) -> None:
    """A block in a process of its own: tells the parent of each simulated day, then
    of its tally, or of why it failed. If the parent is gone (killed), it stops at the
    end of the day and removes the directory the parent made for it."""
    parent = multiprocessing.parent_process()

    def day() -> None:
        if parent is not None and not parent.is_alive():
            raise _Orphaned
        news.put(("day", index, None))

    try:
        tally = asyncio.run(_run_block(config, params, first, count, db_path, day))
    except _Orphaned:
        shutil.rmtree(db_path.parent, ignore_errors=True)
        return
    except BaseException:
        news.put(("failed", index, traceback.format_exc()))
        raise
    news.put(("done", index, tally))


class _Orphaned(Exception):
    """The process that started this block is gone."""


async def simulate(
    config: WorkflowConfig,
    params: SimulationParams,
    *,
    progress: bool = False,
    db_path: Path | None = None,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Simulate and report. `jobs` is how many processes share the work (by default
    one per core for a large street); the report is the same whatever it is.
    `db_path` keeps the database (one process)."""
    started = time.perf_counter()
    blocks = split_street(params, 1 if db_path is not None else jobs or default_jobs(params))
    bar = tqdm(total=params.days, unit="day", disable=not progress, leave=False, desc="simulating")
    # Days simulated by each block; the bar shows the slowest.
    days = [0] * len(blocks)

    def day(block: int) -> None:
        days[block] += 1
        if min(days) > bar.n:
            bar.update(min(days) - bar.n)

    try:
        if len(blocks) == 1:
            tally = await _run_block(config, params, 0, params.residents, db_path, lambda: day(0))
        else:
            tally = await _in_processes(config, params, blocks, day)
    finally:
        bar.close()
    return _report(params, tally, time.perf_counter() - started)


async def _in_processes(
    config: WorkflowConfig,
    params: SimulationParams,
    blocks: list[tuple[int, int]],
    on_day: Callable[[int], object],
) -> _Tally:
    # Spawned, not forked: a fresh interpreter, not a copy of this one's event loop
    # and threads.
    context = multiprocessing.get_context("spawn")
    news = context.Queue()
    tallies: dict[int, _Tally] = {}
    # The blocks' directories are this process's: removed however a block ends, even
    # killed.
    with contextlib.ExitStack() as scratch:
        workers = [
            context.Process(
                target=_block_in_process,
                args=(
                    index,
                    config,
                    params,
                    first,
                    count,
                    scratch.enter_context(_scratch_db(count, params.days)),
                    news,
                ),
                name=f"carecheck-simulate-{index}",
                daemon=True,
            )
            for index, (first, count) in enumerate(blocks)
        ]
        try:
            for worker in workers:
                worker.start()
            await _gather_tallies(workers, news, tallies, on_day)
        finally:
            # On failure or interruption the other blocks stop too, not run to their end.
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
            for worker in workers:
                if worker.pid is not None:
                    worker.join()
    total = _Tally()
    for index in range(len(workers)):
        total.add(tallies[index])
    return total


async def _gather_tallies(
    workers: list[Any],
    news: Any,
    tallies: dict[int, _Tally],
    on_day: Callable[[int], object],
) -> None:
    silent: list[int] = []
    while len(tallies) < len(workers):
        try:
            kind, index, detail = news.get_nowait()
        except queue.Empty:
            kind = ""
        if not kind:
            ended = [
                i for i, w in enumerate(workers) if i not in tallies and w.exitcode is not None
            ]
            # What a block sent before it ended has been read by the next time the
            # queue is empty: ended then and still without a word, it was killed.
            for index in set(ended) & set(silent):
                raise RuntimeError(
                    f"simulation block {index} ended with exit code "
                    f"{workers[index].exitcode} before it was done"
                )
            silent = ended
            await asyncio.sleep(0.05)
            continue
        if kind == "day":
            on_day(index)
        elif kind == "done":
            tallies[index] = detail
        else:
            raise RuntimeError(f"simulation block {index} failed:\n{detail}")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _report(params: SimulationParams, tally: _Tally, wall: float) -> dict[str, Any]:
    by_step: dict[str, int] = {}
    for _, position in tally.acks:
        by_step[str(position)] = by_step.get(str(position), 0) + 1
    delays = [minutes for minutes, _ in tally.acks]
    return {
        "params": params.__dict__,
        "checkins_sent": tally.checkins_sent,
        "answered_within_window": tally.within,
        "answered_after_reminder": tally.after_reminder,
        "missed": tally.missed,
        "answered_late_after_alert": tally.late,
        "alerts_opened": tally.alerts,
        "alerts_acknowledged_at_step": dict(sorted(by_step.items(), key=lambda kv: int(kv[0]))),
        "alerts_never_acknowledged": tally.never_acked,
        "ack_minutes_median": None if not delays else round(statistics.median(delays), 1),
        "ack_minutes_p95": None if not delays else round(_pct(delays, 0.95) or 0, 1),
        "messages_delivered": tally.delivered,
        "call_tasks_sent": tally.call_tasks,
        "proxy_answers_by_phone": tally.calls_answered,
        "calls_unanswered": tally.calls_unanswered,
        "calls_needing_help": tally.calls_help,
        "away_days": round(tally.away_days, 1),
        "early_warning_flags": {rule.value: tally.flags.get(rule.value, 0) for rule in Rule},
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
            f"  call tasks sent:            {report['call_tasks_sent']}",
            f"    answered by proxy (call): {report['proxy_answers_by_phone']}",
            f"    calls unanswered:         {report['calls_unanswered']}",
            f"    reached, needing help:    {report['calls_needing_help']}",
            f"  resident days away:         {report['away_days']}",
            "  early-warning flags (end):  "
            + ", ".join(f"{k} {v}" for k, v in report["early_warning_flags"].items()),
        ]
    )
