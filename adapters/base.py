"""The one small contract every platform adapter keeps.

An adapter translates one platform to and from the common event model and knows
nothing about care: `start` begins receiving (handing each event to the gateway's
inbox *before* it moves its own cursor), `deliver` puts one message on the platform
and returns its message id, `stop` lets go. Errors are translated once, here at the
edge, into `DeliveryError(permanent=...)`; nothing above an adapter sees an HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.commands import Delivery
from core.events import InboundEvent
from core.ids import ChatRef


class DeliveryError(Exception):
    """Sending failed. `permanent` means retrying cannot help (blocked bot, unknown
    chat, left room); `retry_after` is the platform's own wait in seconds, when it
    gave one (Telegram 429 `retry_after`, Matrix `retry_after_ms`)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        whole_platform: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        # A flood wait that applies to every chat of this bot, not just this one.
        self.whole_platform = whole_platform


class AdapterStartError(Exception):
    """The adapter cannot start until an operator fixes something (a refused token or
    password, a refused webhook): one clear line. A platform that is only unreachable
    is not this: the adapter keeps trying in the background instead."""


@dataclass(frozen=True)
class Rate:
    count: int
    per_seconds: float


@dataclass(frozen=True)
class RateLimits:
    """Sending limits the outbox worker keeps for this platform.

    `overall` applies to all sends of the bot, `per_chat` to one private chat,
    `per_group` to one group chat (a chat for which `Adapter.is_group` is true).
    `max_in_flight` is how many sends may be outstanding at once (never two to the
    same chat, so a chat's messages stay in order)."""

    overall: Rate | None = None
    per_chat: Rate | None = None
    per_group: Rate | None = None
    max_in_flight: int = 1


class InboundSink(Protocol):
    async def receive(self, event: InboundEvent) -> bool:
        """Store the event durably (dropping a duplicate event id) and return whether
        it was new. When this returns, the adapter may move its cursor."""


class StateStore(Protocol):
    """Small durable key-value state for an adapter: cursors, tokens, device ids."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class DeadLetterSink(Protocol):
    async def dead_letter(self, platform: str, ref: str, raw: str, reason: str) -> None:
        """Keep an update that could not be read (`ref`: the platform's id for it, or
        ""). When this returns, the adapter may move its cursor past the update."""


class ReceiveHealth:
    """For adapters with a receiving loop: whether it works, as /healthz asks.

    The adapter calls `_receive_ok` after each successful poll or sync and
    `_receive_failed` with one line when one fails. Time is `self._monotonic`, which
    the adapter sets (injectable, so tests move time instead of sleeping)."""

    _monotonic: Callable[[], float]
    _received_at: float | None = None
    _receive_error: str = ""

    def _receive_ok(self) -> None:
        self._received_at = self._monotonic()
        self._receive_error = ""

    def _receive_failed(self, error: str) -> None:
        self._receive_error = error

    def receive_problem(self, stale_after: float) -> str | None:
        """None while receiving works; else one line: never connected yet, or no
        successful poll or sync for more than `stale_after` seconds."""
        if self._received_at is None:
            return f"not connected: {self._receive_error or 'not started'}"
        idle = self._monotonic() - self._received_at
        if idle <= stale_after:
            return None
        why = f": {self._receive_error}" if self._receive_error else ""
        return f"nothing received for {idle:.0f} s{why}"


@dataclass(frozen=True)
class AdapterContext:
    inbox: InboundSink
    state: StateStore


class Adapter(Protocol):
    platform: str
    limits: RateLimits

    async def start(self, context: AdapterContext) -> None:
        """Connect and begin receiving in the background; raise AdapterStartError for
        a configuration that cannot work, retry an unreachable platform meanwhile."""

    async def stop(self) -> None: ...

    async def deliver(self, delivery: Delivery) -> str:
        """Send (or edit) one message; return the platform message id."""

    def is_group(self, chat: ChatRef) -> bool: ...
