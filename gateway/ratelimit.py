"""Token buckets for the limits an adapter declares, on real (monotonic) time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from adapters.base import Rate


class Bucket:
    def __init__(self, rate: Rate, now: float) -> None:
        self.capacity = float(rate.count)
        self.refill = rate.count / rate.per_seconds
        self.tokens = self.capacity
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when it is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.refill

    def take(self, now: float) -> None:
        self.wait(now)
        self.tokens -= 1


class Limiter:
    """Overall, per-chat and per-group buckets; a chat's bucket is dropped once full
    again so a long day of many chats does not grow the table without bound."""

    def __init__(
        self,
        overall: Rate | None,
        per_chat: Rate | None,
        per_group: Rate | None,
        is_group: Callable[[Any], bool],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._overall = None if overall is None else Bucket(overall, monotonic())
        self._per_chat = per_chat
        self._per_group = per_group
        self._is_group = is_group
        self._chats: dict[str, Bucket] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The platform asked us to stop sending for a while (a flood wait)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def _chat_bucket(self, chat: str, now: float) -> Bucket | None:
        rate = self._per_group if self._is_group(chat) else self._per_chat
        if rate is None:
            return None
        bucket = self._chats.get(chat)
        if bucket is None:
            bucket = self._chats[chat] = Bucket(rate, now)
        return bucket

    def overall_wait(self) -> float:
        now = self._monotonic()
        paused = max(0.0, self._paused_until - now)
        return max(paused, 0.0 if self._overall is None else self._overall.wait(now))

    def chat_wait(self, chat: str) -> float:
        bucket = self._chat_bucket(chat, self._monotonic())
        return 0.0 if bucket is None else bucket.wait(self._monotonic())

    def take(self, chat: str) -> None:
        now = self._monotonic()
        if self._overall is not None:
            self._overall.take(now)
        bucket = self._chat_bucket(chat, now)
        if bucket is not None:
            bucket.take(now)
        if len(self._chats) > 10_000:
            self._chats = {
                c: b for c, b in self._chats.items() if b.wait(now) > 0 or b.tokens < b.capacity
            }
