"""Small real implementations of the adapter's seams for the Telegram tests: an inbox
that records what crossed it and an in-memory state store. Both write to one shared
journal, so a test can see in which order events were stored and cursors moved."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from adapters.base import AdapterContext
from core.events import InboundEvent


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._event = asyncio.Event()

    def add(self, kind: str, value: str) -> None:
        self.entries.append((kind, value))
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, done: Callable[[], bool], what: str, *, within: float) -> None:
        """Wait until `done()` holds, at most `within` seconds."""
        deadline = time.monotonic() + within
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"still waiting for {what}; journal: {self.entries}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)

    async def wait_until(self, kind: str, value: str, *, within: float = 5.0) -> None:
        await self.wait_for(
            lambda: (kind, value) in self.entries, f"{kind} {value!r}", within=within
        )


class RecordingInbox:
    """Keeps events like the real inbox: a duplicate event id is dropped."""

    def __init__(self, journal: Journal | None = None, *, failures: int = 0) -> None:
        self.journal = journal or Journal()
        self.events: list[InboundEvent] = []
        # The next `failures` calls raise, as a store that lost its database would.
        self.failures = failures
        self.calls = 0

    async def receive(self, event: InboundEvent) -> bool:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk I/O error")
        if any(seen.event_id == event.event_id for seen in self.events):
            return False
        self.events.append(event)
        self.journal.add("event", event.event_id)
        return True

    async def wait_for(self, count: int, *, within: float = 5.0) -> list[InboundEvent]:
        """Wait (bounded) until `count` events are stored; returns them all."""
        await self.journal.wait_for(
            lambda: len(self.events) >= count, f"{count} events", within=within
        )
        return self.events


class MemoryState:
    def __init__(self, journal: Journal | None = None) -> None:
        self.journal = journal or Journal()
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value
        self.journal.add(key, value)


def make_context(journal: Journal | None = None, *, failures: int = 0) -> AdapterContext:
    journal = journal or Journal()
    return AdapterContext(
        inbox=RecordingInbox(journal, failures=failures), state=MemoryState(journal)
    )
