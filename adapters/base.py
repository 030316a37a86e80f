"""The one small contract every platform adapter keeps, and what a platform declares.

An adapter translates one platform to and from the common event model and knows
nothing about care: `start` begins receiving (handing each event to the gateway's
inbox *before* it moves its own cursor), `deliver` puts one message on the platform
and returns its message id, `stop` lets go. Errors are translated once, here at the
edge, into `DeliveryError(permanent=...)`; nothing above an adapter sees an HTTP status.

Every inbound event carries an `event_id` that is unique across restarts of the
adapter: the inbox drops an id it has already stored, so an id that repeats after a
restart would silently lose a message (Telegram: the update_id; Matrix: the event id;
adapters without such an id prefix a token drawn at each start).

Each platform package also exports a `Platform` (its `platform.py`, light enough to
import without the platform's client library): its name, its settings, how a CSV
identity and a team channel look, how to invite someone, what `carecheck status` should
say about it, and how to build its adapter. The gateway keeps the list of platforms in
one place and asks them; nothing outside adapters/ names a platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from aiohttp import web
from pydantic_settings import BaseSettings

from core.commands import Delivery
from core.enums import InvitePolicy
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


class SendHealth:
    """For outbound-only adapters (group robots, webhooks): a channel that refused for
    good, as /healthz reports it until the next send to it succeeds."""

    _refused: dict[str, str]

    def send_problem(self) -> str | None:
        refused = getattr(self, "_refused", {})
        return "; ".join(refused[chat] for chat in sorted(refused)) or None


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
    """`platform` is the prefix of every chat reference the adapter produces and
    accepts; `limits` what the outbox worker keeps for it. Inbound event ids are unique
    across restarts (see the module's docstring)."""

    platform: str
    limits: RateLimits
    # On a database several instances share: True when every instance runs it at once
    # (it only receives, and any instance may store what it receives: sensor pings);
    # False when one instance at a time holds it (one poller per bot, one sender
    # keeping its rate limits), the others standing by.
    every_instance: bool
    # True when delivering the same outbox row again cannot show it twice: the platform
    # recognises the resend (Matrix: the transaction id is the row's). A crash between
    # a send and its record leaves the row pending although it is on screen; on such a
    # platform a pending row is then sent (again) and edited, never cancelled and
    # replaced, since it may be showing already.
    resends_deduplicated: bool

    async def start(self, context: AdapterContext) -> None:
        """Connect and begin receiving in the background; raise AdapterStartError for
        a configuration that cannot work, retry an unreachable platform meanwhile."""

    async def stop(self) -> None: ...

    async def deliver(self, delivery: Delivery) -> str:
        """Send (or edit) one message; return the platform message id. An edit keeps
        the message's id when the platform allows the edit. A chat that can never be
        reached raises DeliveryError(permanent=True)."""

    def is_group(self, chat: ChatRef) -> bool: ...

    def routes(self) -> Sequence[web.RouteDef]:
        """Routes the adapter serves on the gateway's web server (a webhook); usually
        none."""


# --- what a platform declares ---------------------------------------------------


async def _nobody(address: str) -> bool:
    return False


async def _none_open() -> bool:
    return False


@dataclass(frozen=True)
class PlatformDeps:
    """What the gateway passes a platform to build its adapter with; adapters never
    import the store. `is_known(address)`: someone with this address on this platform
    is enrolled. `invites_open()`: personal invitation codes are outstanding.
    `console_url`: the web console's address, for channels that link to its pages
    instead of showing buttons."""

    dead_letters: DeadLetterSink | None = None
    is_known: Callable[[str], Awaitable[bool]] = _nobody
    invites_open: Callable[[], Awaitable[bool]] = _none_open
    invite_policy: InvitePolicy = InvitePolicy.KNOWN
    console_url: str = ""


class Render(Protocol):
    """One of the gateway's texts by key (workflows/texts), filled in."""

    def __call__(self, key: str, /, **values: object) -> str: ...


class Inviter(Protocol):
    """How a person or a team's group joins on one platform with a one-time code.

    Made once per command (`Platform.inviter`), so a platform that must ask its server
    something first (Telegram: the bot's username) asks once for any number of codes."""

    def lines(self, code: str, *, team: bool) -> list[str]:
        """What the operator is told, one line each ("Telegram: https://t.me/…"); a
        line that continues the one before starts with spaces."""

    def qr_target(self, code: str, *, team: bool) -> str | None:
        """A link a phone opens that joins with this code, or None."""

    def card_lines(self, code: str) -> list[str]:
        """Short lines for a printed card, besides the QR code and the code."""


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class Platform(Protocol[SettingsT]):
    """A chat platform as the rest of carecheck sees it, without its client library."""

    @property
    def name(self) -> str:
        """The chat reference prefix (`telegram:…`), the identities' platform, and the
        people file's column when `csv_column`."""

    @property
    def settings(self) -> type[SettingsT]:
        """Its own settings (environment variables CARECHECK_<NAME>_…), which the
        gateway's Settings inherits."""

    @property
    def chat(self) -> bool:
        """Whether people talk with carecheck on it. Platforms that only receive
        signals or only post to groups (sensor pings, WeCom robots, webhooks) run
        beside the chat platforms and do not count when deciding whether the local web
        chat runs instead of them."""

    @property
    def csv_column(self) -> bool: ...

    @property
    def csv_max_length(self) -> int:
        """The longest value of its CSV column (several identities, space-separated)."""

    @property
    def channel_form(self) -> str:
        """How a team channel on it is written, for error messages."""

    def enabled(self, settings: SettingsT) -> bool | None:
        """True: its settings turn it on; False: off; None: not said either way, so
        it runs only when no other platform does (the local web chat)."""

    def build(self, settings: SettingsT, deps: PlatformDeps) -> Adapter:
        """The adapter (its client library is imported here, not before). Raises
        AdapterStartError for settings that cannot work, naming the setting."""

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        """One identity from the people file: (address, the chat that reaches it).
        Raises ValueError with what the value is not ("not @user:server"); the value
        is shown before it."""

    def channel_ok(self, rest: str) -> bool:
        """Whether `<name>:<rest>` can be a team's channel."""

    async def inviter(self, settings: SettingsT, render: Render) -> Inviter:
        """Raises AdapterStartError when the platform cannot be asked what it needs."""

    async def status_notes(self, state: StateStore) -> list[str]:
        """Warnings for `carecheck status`, read from the adapter's stored state."""


class NoInvitations:
    """An Inviter for a platform people do not join by code."""

    def lines(self, code: str, *, team: bool) -> list[str]:
        return []

    def qr_target(self, code: str, *, team: bool) -> str | None:
        return None

    def card_lines(self, code: str) -> list[str]:
        return []
