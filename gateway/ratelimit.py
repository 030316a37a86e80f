"""Sending limits, counted the way platforms count them: at most N in any window.

A token bucket would let a full bucket of 30 go at once and 30 more within the same
second, which Telegram answers with 429 and a flood wait for the whole bot — during
which an alert would wait too. So each limit is a sliding window, kept slightly wider
than the platform's for clock jitter, and sends are spread out so a window never fills
in one burst and then stays shut.

Each chat that has to wait for its next slot is known by name (`blocked`), so the
outbox can leave its queued messages out of what it reads instead of letting one
busy chat fill the page that every other chat is waiting in.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from adapters.base import Rate

# The window is 2 % wider than the platform's, for the jitter between the clocks.
MARGIN = 1.02
# Overall sends are at least 0.7 x (window / count) apart: no burst, yet a send that
# went out late can still be caught up by the next ones.
SPACING = 0.7
FORGET_AFTER = 120.0


class Limiter:
    def __init__(
        self,
        overall: Rate | None,
        per_chat: Rate | None,
        per_group: Rate | None,
        is_group: Callable[[Any], bool],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._overall = overall
        self._per_chat = per_chat
        self._per_group = per_group
        self._is_group = is_group
        self._sent: deque[float] = deque()
        self._chats: dict[str, deque[float]] = {}
        # Chat -> when its next send may go. Kept only for chats that have to wait, so
        # it stays as small as the number of chats sent to within the last window.
        self._until: dict[str, float] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The platform asked us to stop sending for a while (a flood wait)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def hold(self, chat: str, seconds: float) -> None:
        """The platform asked us to stop sending to this one chat for a while."""
        self._until[chat] = max(self._until.get(chat, 0.0), self._monotonic() + seconds)

    @staticmethod
    def _wait(sent: deque[float], rate: Rate, now: float) -> float:
        window = rate.per_seconds * MARGIN
        while sent and sent[0] <= now - window:
            sent.popleft()
        # Room again when the count-th most recent send leaves the window (the oldest
        # may still be counted, to the last bit of a float, at the window's very edge).
        return 0.0 if len(sent) < rate.count else max(0.0, sent[-rate.count] + window - now)

    def overall_wait(self) -> float:
        now = self._monotonic()
        wait = self._paused_until - now
        if self._overall is not None:
            wait = max(wait, self._wait(self._sent, self._overall, now))
            if self._sent:
                spacing = SPACING * self._overall.per_seconds / self._overall.count
                wait = max(wait, self._sent[-1] + spacing - now)
        return max(wait, 0.0)

    def _rate(self, chat: str) -> Rate | None:
        return self._per_group if self._is_group(chat) else self._per_chat

    def chat_wait(self, chat: str) -> float:
        return max(0.0, self._until.get(chat, 0.0) - self._monotonic())

    def blocked(self) -> dict[str, float]:
        """Every chat that has to wait before its next send, with how long."""
        now = self._monotonic()
        until = self._until
        for chat in [c for c, t in until.items() if t <= now]:
            del until[chat]
        return {chat: t - now for chat, t in until.items()}

    def take(self, chat: str) -> None:
        now = self._monotonic()
        if self._overall is not None:
            self._sent.append(now)
        rate = self._rate(chat)
        if rate is not None:
            sent = self._chats.setdefault(chat, deque())
            sent.append(now)
            # A window only closes when a send is taken, and opens again when a send
            # leaves it: the wait worked out now holds until then.
            wait = self._wait(sent, rate, now)
            if wait > 0:
                self._until[chat] = max(self._until.get(chat, 0.0), now + wait)
        if len(self._chats) > 10_000:  # forget chats whose windows have long passed
            self._chats = {c: s for c, s in self._chats.items() if s and s[-1] > now - FORGET_AFTER}
