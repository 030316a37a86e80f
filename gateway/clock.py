"""Time, injected. Nothing in carecheck reads the wall clock directly.

`SystemClock` is real time; `ScaledClock` runs faster than real time for demos
(`CARECHECK_DEMO_SPEED=60`: an hour passes in a minute); `FakeClock` only moves when
a test moves it. Every datetime is timezone-aware UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def real_seconds(self, virtual: timedelta) -> float:
        """How many real seconds to sleep for `virtual` time to pass."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, virtual: timedelta) -> float:
        return max(0.0, virtual.total_seconds())


class ScaledClock:
    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds(self, virtual: timedelta) -> float:
        return max(0.0, virtual.total_seconds() / self.speed)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def real_seconds(self, virtual: timedelta) -> float:
        # Under a fake clock nothing waits for real time to pass: due work runs at once,
        # and future work waits until the test moves the clock and wakes the loops.
        return 0.0 if virtual <= timedelta(0) else 3600.0
