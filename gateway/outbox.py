"""The outbox worker: one per platform, sending stored messages in priority order.

Alerts go before routine prompts (and these before answers to strangers); a chat's
messages go one at a time and in order; a chat that is busy or has to wait for its
rate limit holds back only its own messages, never another chat's; the adapter's
declared limits are kept; transient failures are retried with backoff
(or after the platform's own `retry_after`); permanent ones are handed back to the
workflows, because an unreachable resident is itself something to escalate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from adapters.base import Adapter, DeliveryError
from core.ids import OutboxId
from core.outbox import OutboxRow
from core.ports import Store
from gateway.clock import Clock
from gateway.ratelimit import Limiter

log = logging.getLogger(__name__)

# Give up on a message only after it has been failing for this long: a platform outage
# of a few hours must not drop an alert.
MAX_ATTEMPTS = 30
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0
# At most this many rows are read per pass. Busy and rate-limited chats are left out of
# the read, so a pass needs only a few rows for each send it can start.
FETCH = 200
ROWS_PER_FREE_SEND = 2
IDLE_LOOK = 30.0
# A safety net only: with every send slot taken, a finishing send wakes the worker.
FULL_WAIT = 1.0

OnFailed = Callable[[OutboxRow, str], Awaitable[None]]
# How long a row taken for sending stays this instance's (shared databases only).
SEND_LEASE = timedelta(seconds=30)
# How often a sender on a shared database looks at the queue without being woken.
SHARED_LOOK = 10.0
# Told of every message the platform accepted (the workflow picks what matters to it).
OnSent = Callable[[OutboxRow], Awaitable[None]]


def _closing(mark: contextlib.ExitStack) -> Callable[[asyncio.Task[None]], None]:
    def close(_: asyncio.Task[None]) -> None:
        mark.close()

    return close


def backoff(attempts: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE ** min(attempts, 12))


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        adapter: Adapter,
        on_failed: OnFailed,
        monotonic: Callable[[], float] = time.monotonic,
        on_sent: OnSent | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.adapter = adapter
        self.platform = adapter.platform
        self.on_failed = on_failed
        self.on_sent = on_sent
        limits = adapter.limits
        self.limiter = Limiter(
            limits.overall, limits.per_chat, limits.per_group, adapter.is_group, monotonic
        )
        self.max_in_flight = max(1, limits.max_in_flight)
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self.sent = 0
        self.failed = 0
        self.last_lag_seconds = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> float | None:
        """Start every send allowed right now. Returns how long to wait before the
        next attempt makes sense (None: nothing is waiting)."""
        wait = self.limiter.overall_wait()
        if wait > 0:
            # Nothing can go before then, whatever is queued: do not read the queue
            # again on every wake-up (each answer handled wakes this worker). What was
            # just sent is recorded now all the same, not at the next read.
            await self.store.flush()
            return wait
        # Chats that cannot take a message now are left out of the read: otherwise one
        # chat's long queue (a leader's alerts, a stranger's flood) fills the page and
        # every other chat waits behind it, whatever its priority.
        free = self.max_in_flight - len(self._in_flight)
        if free <= 0:
            # Every send slot is taken and the first send to finish wakes the loop: no
            # reading the queue over and over until then.
            return FULL_WAIT
        blocked = self.limiter.blocked()
        skip = self._in_flight.keys() | blocked.keys()
        # A chat's later rows may follow its head in the page: a few spare rows.
        limit = min(FETCH, ROWS_PER_FREE_SEND * free + 8)
        async with self.store.read() as tx:
            rows = await tx.sendable(self.platform, self.clock.now(), limit, skip)
        # A chat left out for its rate limit may have messages due at its next slot.
        delay = min(blocked.values(), default=None)
        for row in rows:
            if row.chat in self._in_flight:
                # Sent to just now, in this loop: the rest of its queue keeps its order
                # and goes one at a time.
                continue
            if len(self._in_flight) >= self.max_in_flight:
                delay = 0.0
                break
            wait = self.limiter.overall_wait()
            if wait > 0:
                return wait
            # Marked as being sent from here on: an edit made while the send is about
            # to start follows the message instead of cancelling its row. (An edit that
            # came first cancelled it: on a shared database the lease then passes it
            # over; on SQLite nothing ran between the read and this.)
            mark = contextlib.ExitStack()
            mark.enter_context(self.store.sending(row.id))
            try:
                if self.store.shared and not await self._take(row.id):
                    mark.close()
                    continue  # another instance has it
            except BaseException:
                mark.close()
                raise
            self.limiter.take(row.chat)
            task = asyncio.create_task(self._send(row, mark))
            # Unmarked when the send is over, or when its task is cancelled unstarted.
            task.add_done_callback(_closing(mark))
            self._in_flight[row.chat] = task
        if len(rows) == limit:
            delay = 0.0  # more may be sendable beyond this page
        return delay

    async def _take(self, outbox_id: OutboxId) -> bool:
        """With other instances on the database: lease the row about to be sent, so
        that no other instance sends it too (during a take-over, both may briefly run
        a sender). A lease that runs out — this instance died mid-send — makes the row
        sendable again: at least once, never lost. Only what is sent now is leased, a
        row at a time: each lease first writes the deliveries noted so far, so that
        hardly any send is unrecorded when a process dies (leasing a burst of rows at
        once left a burst of sends unrecorded, sent again by the next holder)."""
        now = self.clock.now()
        return bool(await self.store.lease_for_sending([outbox_id], now, now + SEND_LEASE))

    async def drain(self) -> int:
        """Send until nothing more can go now (tests and the simulator)."""
        before = self.sent + self.failed
        for _ in range(100_000):
            delay = await self.run_once()
            if not self._in_flight:
                async with self.store.read() as tx:
                    if not await tx.sendable(self.platform, self.clock.now(), 1):
                        break
                if delay:
                    # A limit says wait: wait (a little) rather than spin on the store.
                    await asyncio.sleep(min(delay, 0.05))
                continue
            await self.finish_sends()
        return self.sent + self.failed - before

    async def finish_sends(self) -> None:
        """Wait until the sends started so far have finished (or failed)."""
        await asyncio.gather(*list(self._in_flight.values()))

    async def _send(self, row: OutboxRow, mark: contextlib.ExitStack) -> None:
        try:
            await self._attempt(row, mark)
        except Exception:
            log.exception("outbox %s: unexpected error while sending", row.id)
        finally:
            self._in_flight.pop(row.chat, None)
            self._wake.set()

    async def _attempt(self, row: OutboxRow, sending: contextlib.ExitStack) -> None:
        now = self.clock.now()
        self.last_lag_seconds = max(0.0, (now - row.not_before).total_seconds())
        try:
            with sending:  # marked until the platform has answered
                message_id = await self.adapter.deliver(row.delivery())
        except DeliveryError as exc:
            await self._failed(row, exc)
            return
        # Written with the other sends of this moment, before the store is next used.
        self.store.record_sent(row.id, message_id, self.clock.now())
        self.sent += 1
        if self.on_sent is not None:
            await self.on_sent(row)

    async def _failed(self, row: OutboxRow, exc: DeliveryError) -> None:
        error = str(exc)[:500]
        now = self.clock.now()
        if exc.retry_after is not None and exc.whole_platform:
            self.limiter.pause(exc.retry_after)
        elif exc.retry_after is not None:
            # Only this chat must wait: its later messages wait too (they keep their
            # order), and every other chat goes on.
            self.limiter.hold(row.chat, exc.retry_after)
        # Being told to slow down (a flood wait) is not a failure of this message: only
        # real failures count towards giving up.
        gave_up = row.attempts + 1 >= MAX_ATTEMPTS and exc.retry_after is None
        if exc.permanent or gave_up:
            log.warning("outbox %s to %s failed for good: %s", row.id, self.platform, error)
            async with self.store.transaction() as tx:
                await tx.mark_failed(row.id, error, now)
            self.failed += 1
            await self.on_failed(row, error)
            return
        wait = exc.retry_after if exc.retry_after is not None else backoff(row.attempts)
        log.info("outbox %s to %s: retry in %.1fs (%s)", row.id, self.platform, wait, error)
        async with self.store.transaction() as tx:
            await tx.mark_retry(row.id, error, now + timedelta(seconds=wait), now)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except Exception:
                log.exception("outbox worker for %s failed; retrying", self.platform)
                delay = 5.0
            if delay is None:
                # Only future retries matter here: rows due now whose chat is busy wake
                # us when that chat's send completes.
                async with self.store.read() as tx:
                    nxt = await tx.next_not_before(self.platform, self.clock.now())
                if nxt is not None:
                    delay = self.clock.real_seconds(nxt - self.clock.now())
            # Rows written by another process (`carecheck people forget` telling a grid
            # leader) wake nobody: look again at least every IDLE_LOOK seconds.
            timeout = IDLE_LOOK if delay is None else min(max(delay, 0.001), IDLE_LOOK)
            if self.store.shared:
                # Other instances wake this one when they add messages (Store.watch);
                # a look now and then covers a wake-up lost with a connection.
                timeout = min(timeout, SHARED_LOOK)
            with contextlib.suppress(TimeoutError):
                # Not wait_for: on Python 3.11 it can swallow the cancellation of stop().
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def stop(self) -> None:
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=10)
