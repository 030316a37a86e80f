"""The running core: inbox → workflows → outbox, and the durable timer loop.

Each inbound event is stored first (deduplicated by its platform event id) and then
handled; each due timer row is deleted in the same transaction as the state change it
causes, so a crash between the two can neither lose nor repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.base import Adapter, AdapterContext, SendHealth
from core.config import WorkflowConfig
from core.events import InboundEvent, event_from_dict, event_to_dict
from core.outbox import OutboxRow
from core.ports import Store, Tx
from core.records import Absence, Timer
from gateway import channels
from gateway.clock import Clock
from gateway.outbox import OutboxWorker
from workflows import away, closes, privacy, rounds, router, summary
from workflows.actions import ActionSigner
from workflows.checkin import RoundResult
from workflows.context import Work
from workflows.intent import classify, help_words_with
from workflows.texts import Texts

log = logging.getLogger(__name__)

# Due timers fired, and inbound events handled, per transaction.
BATCH = 200
# On a shared database (PostgreSQL) a backlog of inbound events goes in larger sets:
# there each statement of a set is a round trip to the server, whatever its size. On
# SQLite a statement costs microseconds, and a longer transaction only keeps the next
# page of answers waiting to be stored.
INBOX_BATCH_SHARED = 1000
# After the first event of a burst arrives, the inbox loop waits this long (real
# seconds) so that the burst is handled in one transaction rather than one each.
INBOX_LINGER = 0.002
LATE_AFTER = timedelta(seconds=60)
# The timer loop wakes at least this often (real seconds) so /healthz can tell it lives.
HEARTBEAT = 30.0
# Shared databases: how often a standby instance tries to take a platform over, and how
# often the holder checks it still holds it (a dead holder is replaced within ~HOLD_RETRY).
HOLD_RETRY = 3.0
HOLD_CHECK = 3.0
TIMER_RETRY = timedelta(minutes=5)


@dataclass
class Stats:
    events_handled: int = 0
    events_failed: int = 0
    timers_fired: int = 0
    timers_late: int = 0
    lags: list[float] = field(default_factory=list)
    heartbeat: float = field(default_factory=time.monotonic)

    def record_lag(self, seconds: float) -> None:
        self.lags.append(seconds)
        if len(self.lags) > 10_000:
            del self.lags[:5_000]


class KvState:
    """An adapter's durable key-value state, kept in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, key: str) -> str | None:
        async with self.store.transaction() as tx:
            return await tx.kv_get(key)

    async def set(self, key: str, value: str) -> None:
        async with self.store.transaction() as tx:
            await tx.kv_set(key, value)


class Engine:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: WorkflowConfig,
        adapters: Mapping[str, Adapter],
    ) -> None:
        self.store = store
        self._inbox_batch = INBOX_BATCH_SHARED if store.shared else BATCH
        self.clock = clock
        self.config = config
        self.texts = Texts({lang.value: t for lang, t in config.templates.items()})
        self.help_words = help_words_with(config.help_words)
        self._grid_channels = channels.wants_channels(config)
        self.adapters = dict(adapters)
        self._resends_deduplicated = frozenset(
            name for name, adapter in self.adapters.items() if adapter.resends_deduplicated
        )
        self.signer: ActionSigner | None = None
        self.workers = {
            name: OutboxWorker(
                store, clock, adapter, self._delivery_failed, on_sent=self._delivered
            )
            for name, adapter in self.adapters.items()
        }
        self.stats = Stats()
        self._inbox_wake = asyncio.Event()
        self._timer_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Platforms another instance serves (shared databases): not started here.
        self.standby: set[str] = set()
        # Called after each committed transaction of the workflows: the web console
        # listens, to refresh what it shows within a moment (no data, just "changed").
        self.on_change: list[Callable[[], None]] = []
        # Delivered messages that matter to a workflow, handled together (_delivered).
        self._delivered_rows: list[OutboxRow] = []
        self._delivered_task: asyncio.Task[None] | None = None
        # Events handed in while another receive() is about to write (see receive).
        self._joining: list[tuple[InboundEvent, dict[str, Any], asyncio.Future[bool]]] | None = None

    # -- set-up ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the action-signing key (made once per database) and make sure every
        plan has its round timer. Call after the store is open."""
        async with self.store.transaction() as tx:
            # Set once, whichever instance of a shared database starts first: the
            # others must check the buttons it signs (and it theirs).
            key = await tx.kv_setdefault("actions.key", secrets.token_hex(32))
        self.signer = ActionSigner(bytes.fromhex(key))
        # Load the Chinese segmenter now (about a second, once per process), on a
        # thread: not when the first resident writes, perhaps to call for help.
        await asyncio.to_thread(classify, "今天还好", self.help_words)
        await self.ensure_rounds()
        async with self.store.read() as tx:
            leaderless = await tx.grids_without_reachable_leader(tuple(self.adapters))
        for grid in leaderless:
            log.warning(
                "grid %s has no grid leader enrolled on a running chat platform (%s): "
                "its alerts go straight to the next step",
                grid or "-",
                ", ".join(self.adapters) or "none",
            )

    def _work(self, tx: Tx, now: datetime | None = None) -> Work:
        if self.signer is None:
            raise RuntimeError("Engine.prepare() was not called")
        announcer = None
        if self._grid_channels:
            # Alerts are announced to their grid's channel in the same transaction.
            tx, announcer = channels.announcing(tx, self.config)
        work = Work(
            tx=tx,
            now=self.clock.now() if now is None else now,
            config=self.config,
            texts=self.texts,
            signer=self.signer,
            platforms=frozenset(self.adapters),
            resends_deduplicated=self._resends_deduplicated,
            help_words=self.help_words,
        )
        if announcer is not None:
            announcer.work = work
        return work

    def _after(self, work: Work) -> None:
        for platform in work.touched_platforms:
            worker = self.workers.get(platform)
            if worker is not None:
                worker.wake()
        if work.timers_added:
            self._timer_wake.set()
        for listener in self.on_change:
            listener()

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[Work]:
        """One transaction of workflow code started outside the engine's own loops (the
        web console's buttons, invitation codes): the same `Work` a chat button gets, and
        once it has committed, what the engine does after any event of its own — wake
        the senders and the timer loop, tell the listeners (the console's live pages).
        Nothing of it happens when the body raises: the transaction is rolled back."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            yield work
        self._after(work)

    async def ensure_rounds(self) -> int:
        """Every plan's round timer, and the daily retention job's; family contacts and
        volunteers never asked are asked. Runs at start-up and every few minutes (so a
        timer that went missing comes back, and people imported meanwhile are asked)."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            added = await rounds.ensure_round_timers(work)
            await summary.ensure_summary_timers(work)
            await privacy.ensure_retention_timer(work)
            await privacy.ask_new_contacts(work)
        self._after(work)
        return added

    async def start_round(
        self, plan: str | None = None, *, grid: str = "", emergency: bool = False
    ) -> RoundResult:
        """A round started by hand: skips whoever was asked already in this round and
        waits for the end of quiet hours unless it is an emergency round."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            result = await rounds.start_round(
                work, plan or self.config.plan_name_default, grid=grid, emergency=emergency
            )
        self._after(work)
        return result

    async def queue_round(
        self, plan: str | None = None, *, grid: str = "", emergency: bool = False
    ) -> list[tuple[str, datetime]]:
        """A round for whichever gateway runs on this database to open (see
        `rounds.queue_round`): (timezone, when) per timezone on the plan."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            queued = await rounds.queue_round(
                work, plan or self.config.plan_name_default, grid=grid, emergency=emergency
            )
        self._after(work)
        return queued

    async def set_away(self, name: str, until: str, reason: str) -> Absence:
        """`carecheck people away NAME --until DATE`: raises ValueError for an unknown
        name or a time that is not in the future."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            person = await tx.person_by_name(name)
            if person is None:
                raise ValueError(f"no person named {name!r} (see `carecheck people export`)")
            absence = await away.go_away(
                work, person, away.parse_until(until, work.now, person.timezone), reason, None
            )
        self._after(work)
        return absence

    async def end_away(self, name: str) -> bool:
        """`carecheck people away NAME --end`: False when they were not away."""
        async with self.store.transaction() as tx:
            work = self._work(tx)
            person = await tx.person_by_name(name)
            if person is None:
                raise ValueError(f"no person named {name!r} (see `carecheck people export`)")
            absence = await tx.current_absence(person.id, work.now)
            back = absence is not None and await away.come_back(work, absence, None)
        self._after(work)
        return back

    async def start_round_now(self, plan: str | None = None) -> int:
        return (await self.start_round(plan)).opened

    # -- inbound --------------------------------------------------------------------

    async def receive(self, event: InboundEvent) -> bool:
        """The adapters' inbox: store durably, then handle in the background.

        Returns once the event is committed. Events handed in together — an adapter
        storing a page of updates concurrently — share one commit, in the order they
        were handed in: the first call waits one turn of the loop for the others."""
        payload = event_to_dict(event)
        if self._joining is not None:
            joined: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._joining.append((event, payload, joined))
            return await joined
        group: list[tuple[InboundEvent, dict[str, Any], asyncio.Future[bool]]] = []
        self._joining = group
        try:
            await asyncio.sleep(0)
            self._joining = None
            news = await self._store_inbound([(event, payload), *((e, p) for e, p, _ in group)])
        except BaseException as exc:
            if self._joining is group:
                self._joining = None
            failure = exc if isinstance(exc, Exception) else RuntimeError(f"interrupted: {exc!r}")
            for _, _, joined in group:
                if not joined.done():
                    joined.set_exception(failure)
            raise
        for (_, _, joined), new in zip(group, news[1:], strict=True):
            if not joined.done():
                joined.set_result(new)
        return news[0]

    async def _store_inbound(self, events: list[tuple[InboundEvent, dict[str, Any]]]) -> list[bool]:
        news = await self.store.append_inbound(
            [(e.sender.platform, e.event_id, payload) for e, payload in events], self.clock.now()
        )
        if any(news):
            self._inbox_wake.set()
        return news

    async def process_inbox(self) -> int:
        async with self.store.read() as tx:
            pending = await tx.pending_inbound(self._inbox_batch)
        if not pending:
            return 0
        now = self.clock.now()
        try:
            # The whole batch first without a savepoint per event: a savepoint copies
            # every page its event changes, a fifth of the cost of handling an answer.
            # If an event fails, the batch is rolled back and done again with them, so
            # one bad event still cannot stop the others.
            return await self._handle_inbound(pending, now, isolate=False)
        except Exception:
            return await self._handle_inbound(pending, now, isolate=True)

    async def _handle_inbound(
        self, pending: list[tuple[int, dict[str, Any]]], now: datetime, *, isolate: bool
    ) -> int:
        handled = 0
        async with self.store.transaction() as tx:
            work = self._work(tx, now)
            # Claim first: an event is handled once even if two loops raced to it.
            claimed = await tx.claim_inbound([inbox_id for inbox_id, _ in pending], work.now)
            if not isolate:
                # Together: a page's plain answers are read and written as sets.
                events = [event_from_dict(p) for inbox_id, p in pending if inbox_id in claimed]
                await router.handle_events(work, events)
                handled = len(events)
            for inbox_id, payload in pending:
                if not isolate or inbox_id not in claimed:
                    continue
                try:
                    async with tx.savepoint():
                        await router.handle_event(work, event_from_dict(payload))
                except Exception as exc:  # one bad event must not stop the others
                    log.exception("inbound event %s could not be handled", inbox_id)
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    self.stats.events_failed += 1
                    await tx.mark_inbound_failed(inbox_id, error)
                handled += 1
        self.stats.events_handled += handled
        self._after(work)
        return handled

    # -- timers ---------------------------------------------------------------------

    async def fire_due_timers(self) -> int:
        async with self.store.read() as tx:
            due = await tx.due_timers(self.clock.now(), BATCH)
        if not due:
            return 0
        now = self.clock.now()
        for timer in due:
            self.stats.record_lag((now - timer.due_at).total_seconds())
        try:
            # As for inbound events: without savepoints first, with them if one fails.
            return await self._fire(due, now, isolate=False)
        except Exception as exc:
            if not isinstance(exc, closes.CloseRaced):
                log.warning("due timers fired one at a time after: %r", exc, exc_info=True)
            return await self._fire(due, now, isolate=True)

    async def _fire(self, due: list[Timer], now: datetime, *, isolate: bool) -> int:
        late = 0
        async with self.store.transaction() as tx:
            work = self._work(tx, now)
            overdue = {t.id for t in due if now - t.due_at > LATE_AFTER}

            async def fire_one(timer: Timer) -> bool:
                nonlocal late
                if not await tx.claim_timer(timer.id):
                    return False
                if timer.id in overdue:
                    # Overdue after a restart: fire once, and say it was late.
                    late += 1
                    lag = now - timer.due_at
                    await tx.audit(
                        work.now,
                        "timer.late",
                        f"timer:{timer.kind}",
                        None,
                        f"{timer.ref} {int(lag.total_seconds())}s",
                    )
                await router.fire_timer(work, timer)
                return True

            if not isolate:
                # Together: a batch's reply windows closing are read and written as sets.
                fired = await router.fire_timers(work, due, fire_one, alone=overdue)
            else:
                fired = 0
                for timer in due:
                    try:
                        async with tx.savepoint():
                            if not await fire_one(timer):
                                continue
                    except Exception:
                        log.exception(
                            "timer %s (%s) failed; retrying in %s",
                            timer.id,
                            timer.kind,
                            TIMER_RETRY,
                        )
                        await tx.add_timer(
                            work.now + TIMER_RETRY, timer.kind, timer.ref, timer.arg, work.now
                        )
                        await tx.claim_timer(timer.id)
                    fired += 1
        self.stats.timers_late += late
        self.stats.timers_fired += fired
        self._after(work)
        return fired

    # -- delivery -------------------------------------------------------------------

    async def _delivery_failed(self, row: OutboxRow, error: str) -> None:
        async with self.store.transaction() as tx:
            work = self._work(tx)
            await router.on_delivery_failed(work, row, error)
            if isinstance(self.adapters.get(row.platform), SendHealth):
                await channels.tell_operators(work, row, error)
        self._after(work)

    async def _delivered(self, row: OutboxRow) -> None:
        if not router.wants_delivery(row):
            return  # almost every message: no transaction for it
        # Handed over together, a moment later: the copies of one pass of the outbox
        # share one transaction rather than one each.
        self._delivered_rows.append(row)
        if self._delivered_task is None or self._delivered_task.done():
            self._delivered_task = asyncio.create_task(self._handle_delivered())

    async def _handle_delivered(self) -> None:
        await asyncio.sleep(0)  # the rest of this pass's sends report first
        while self._delivered_rows:
            rows, self._delivered_rows = self._delivered_rows, []
            try:
                await self._on_delivered(rows, isolate=False)
            except Exception:
                # As for inbound events: again one by one, so one cannot stop the others.
                try:
                    await self._on_delivered(rows, isolate=True)
                except Exception:
                    log.exception("deliveries of %d outbox rows could not be handled", len(rows))

    async def _on_delivered(self, rows: list[OutboxRow], *, isolate: bool) -> None:
        async with self.store.transaction() as tx:
            work = self._work(tx)
            for row in rows:
                if not isolate:
                    await router.on_delivered(work, row)
                    continue
                try:
                    async with tx.savepoint():
                        await router.on_delivered(work, row)
                except Exception:
                    log.exception("delivery of outbox %s could not be handled", row.id)
        self._after(work)

    async def flush_outbox(self) -> int:
        sent = 0
        for worker in self.workers.values():
            sent += await worker.drain()
        while self._delivered_task is not None and not self._delivered_task.done():
            await self._delivered_task
        return sent

    async def run_until_idle(self, max_rounds: int = 100) -> None:
        """Do everything that is due now, until nothing is left (tests, simulator)."""
        for _ in range(max_rounds):
            busy = await self.process_inbox()
            busy += await self.fire_due_timers()
            busy += await self.flush_outbox()
            if not busy:
                return
        raise RuntimeError("engine did not settle")

    # -- running --------------------------------------------------------------------

    async def start_receiving(self) -> None:
        """Start the adapters only: tests drive the loops themselves."""
        context = AdapterContext(inbox=self, state=KvState(self.store))
        for adapter in self.adapters.values():
            await adapter.start(context)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._inbox_loop(), name="inbox"),
            asyncio.create_task(self._timer_loop(), name="timers"),
        ]
        if not self.store.shared:
            await self.start_receiving()
            self._tasks += [
                asyncio.create_task(w.run(), name=f"outbox-{n}") for n, w in self.workers.items()
            ]
            return
        # Several instances on one database: each platform's receiving loop and sender
        # run in the one instance holding its lock (one getUpdates caller per bot, one
        # sender keeping the bot's rate limits); the others stand by and take over.
        # A platform any instance may run (sensor pings) runs in every one.
        self.store.watch(self._changed_elsewhere)
        context = AdapterContext(inbox=self, state=KvState(self.store))
        for name, adapter in self.adapters.items():
            if adapter.every_instance:
                await adapter.start(context)
                self._tasks.append(
                    asyncio.create_task(self.workers[name].run(), name=f"outbox-{name}")
                )
            else:
                self.standby.add(name)
                self._tasks.append(
                    asyncio.create_task(self._hold_platform(name), name=f"hold-{name}")
                )

    def _changed_elsewhere(self, table: str) -> None:
        """Another instance (or a `carecheck` command) wrote what a loop here reads."""
        if table == "outbox":
            for worker in self.workers.values():
                worker.wake()
        elif table == "timers":
            self._timer_wake.set()
        else:
            self._inbox_wake.set()

    async def _hold_platform(self, name: str) -> None:
        lock = f"platform:{name}"
        adapter, worker = self.adapters[name], self.workers[name]
        context = AdapterContext(inbox=self, state=KvState(self.store))
        while True:
            try:
                if await self.store.try_hold(lock):
                    await self._serve_platform(name, lock, adapter, worker, context)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: cannot take or keep the platform lock; retrying", name)
            await asyncio.sleep(HOLD_RETRY)

    async def _serve_platform(
        self,
        name: str,
        lock: str,
        adapter: Adapter,
        worker: OutboxWorker,
        context: AdapterContext,
    ) -> None:
        log.info("%s: this instance receives and sends (holds %s)", name, lock)
        self.standby.discard(name)
        # What the last holder left (events stored but not handled, deadlines it was
        # about to fire) is looked at now, not at the next wake-up.
        self.wake()
        await adapter.start(context)
        sender = asyncio.create_task(worker.run(), name=f"outbox-{name}")
        try:
            # Polled, not awaited: a lost lock has no event to wait on (the database
            # connection that held it is simply gone).
            while True:
                await asyncio.sleep(HOLD_CHECK)
                if not await self.store.holding(lock):
                    break
            log.warning("%s: lost %s; another instance takes over", name, lock)
        finally:
            self.standby.add(name)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await worker.stop()
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter %s did not stop cleanly", name)
            with contextlib.suppress(Exception):
                await self.store.release(lock)

    async def stop(self) -> None:
        # Loops first, then the sends in flight, then the adapters those sends use.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for name, worker in self.workers.items():
            if name not in self.standby:
                await worker.stop()
        if self._delivered_task is not None:
            # What the last sends reported is handled before the store closes.
            await asyncio.gather(self._delivered_task, return_exceptions=True)
        for name, adapter in self.adapters.items():
            if name in self.standby:
                continue  # its holder task stopped it already, or it never started
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter %s did not stop cleanly", adapter.platform)

    def wake(self) -> None:
        """Look again at once (after the clock was moved, or new rows were written)."""
        self._timer_wake.set()
        self._inbox_wake.set()
        for worker in self.workers.values():
            worker.wake()

    def timer_loop_alive(self) -> bool:
        task = next((t for t in self._tasks if t.get_name() == "timers"), None)
        alive = task is not None and not task.done()
        return alive and time.monotonic() - self.stats.heartbeat < HEARTBEAT * 4

    async def _inbox_loop(self) -> None:
        while True:
            self._inbox_wake.clear()
            try:
                if await self.process_inbox() >= self._inbox_batch:
                    continue
            except Exception:
                log.exception("inbox processing failed; retrying")
                await asyncio.sleep(1)
                continue
            # A shared database is also looked at now and then: events another
            # instance stored but did not handle before it died wake nobody.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT if self.store.shared else None):
                    await self._inbox_wake.wait()
            # Let the rest of a burst arrive: one transaction for many events.
            await asyncio.sleep(INBOX_LINGER)

    async def _timer_loop(self) -> None:
        while True:
            self._timer_wake.clear()
            self.stats.heartbeat = time.monotonic()
            try:
                if await self.fire_due_timers() >= BATCH:
                    continue
                async with self.store.read() as tx:
                    due = await tx.next_timer_due()
            except Exception:
                log.exception("timer loop failed; retrying")
                await asyncio.sleep(1)
                continue
            timeout = HEARTBEAT
            if due is not None:
                timeout = min(HEARTBEAT, self.clock.real_seconds(due - self.clock.now()))
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
            # cancellation that arrives as the event is set, and stop() hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.001)):
                    await self._timer_wake.wait()
