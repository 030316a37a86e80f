"""A real implementation of the adapter seam with no platform behind it.

It keeps the same contract as the platform adapters (tests/test_adapter_contract.py
holds all of them to it): deliveries are recorded, an edit keeps its message id, a chat
of another platform fails permanently, inbound events are produced by `say`, `press`
and `leave` with ids that stay unique when a new instance takes over (a restart). Tests
assert on what crossed it; the simulator and the benchmarks play people through it.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic_settings import BaseSettings

from adapters.base import (
    Adapter,
    AdapterContext,
    DeliveryError,
    Inviter,
    NoInvitations,
    PlatformDeps,
    RateLimits,
    Render,
    StateStore,
)
from core.commands import Delivery
from core.events import ButtonPressed, ChatLeft, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, chat_ref, split_chat_ref


@dataclass
class Failure:
    """Injected into `FakeAdapter.failures[chat]`: the next `times` deliveries there
    raise `error`."""

    error: DeliveryError
    times: int = 1_000_000


@dataclass
class FakeAdapter:
    """A platform named "test" by default. Chats are `<platform>:<user>`; a user whose
    id starts with "-" is a group. `record=False` only counts (`delivered`), for runs
    of 100,000 messages; `on_deliver` lets someone on the other side react."""

    platform: str = "test"
    limits: RateLimits = field(default_factory=lambda: RateLimits(max_in_flight=4))
    every_instance: bool = False
    resends_deduplicated: bool = False
    sent: list[Delivery] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    # The platform message id each delivered outbox row got (for replies to it).
    message_ids: dict[int, str] = field(default_factory=dict)
    context: AdapterContext | None = None
    record: bool = True
    delivered: int = 0
    on_deliver: Callable[[Delivery], None] | None = None
    # Drawn per instance, so event ids do not repeat after a restart.
    boot: str = field(default_factory=lambda: secrets.token_hex(4))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self, context: AdapterContext) -> None:
        self.context = context

    async def stop(self) -> None:
        self.context = None

    def is_group(self, chat: ChatRef) -> bool:
        return split_chat_ref(chat)[1].startswith("-")

    def routes(self) -> list[web.RouteDef]:
        return []

    async def deliver(self, delivery: Delivery) -> str:
        platform, _ = split_chat_ref(delivery.chat)
        if platform != self.platform:
            raise DeliveryError(f"not a {self.platform} chat: {delivery.chat}", permanent=True)
        failure = self.failures.get(delivery.chat)
        if failure is not None and failure.times > 0:
            failure.times -= 1
            raise failure.error
        self.delivered += 1
        # An edit keeps the message's id, as on the real platforms.
        message_id = delivery.edit_of or f"{self.boot}-{next(self._ids)}"
        if self.record:
            self.sent.append(delivery)
            self.message_ids[delivery.outbox_id] = message_id
        if self.on_deliver is not None:
            self.on_deliver(delivery)
        return message_id

    def to(self, chat: str) -> list[Delivery]:
        return [d for d in self.sent if d.chat == chat]

    def chat(self, user: str) -> ChatRef:
        return chat_ref(self.platform, user)

    def _sender(self, user: str) -> Sender:
        return Sender(self.platform, user, self.chat(user))

    def _event_id(self) -> str:
        return f"{self.platform}:{self.boot}-{next(self._events)}"

    async def say(
        self,
        user: str,
        text: str,
        kind: MessageKind = MessageKind.TEXT,
        event_id: str | None = None,
        reply_to: str = "",
        group: str = "",
    ) -> bool:
        """`user` writes in their own chat, or in the group chat `group` ("test:-500")."""
        return await self._inbox_receive(
            MessageReceived(
                event_id=event_id or self._event_id(),
                sender=self._sender(user),
                chat=ChatRef(group) if group else self.chat(user),
                kind=kind,
                text=text,
                is_group=bool(group),
                reply_to=reply_to,
            )
        )

    async def press(
        self, user: str, token: str, *, callback_id: str = "cb", group: str = ""
    ) -> bool:
        """A tap on a button (in the group chat `group`, if given). `callback_id` is
        what Telegram would want answered ("": a platform that wants no answer)."""
        return await self._inbox_receive(
            ButtonPressed(
                event_id=self._event_id(),
                sender=self._sender(user),
                chat=ChatRef(group) if group else self.chat(user),
                token=token,
                callback_id=callback_id,
            )
        )

    async def leave(self, user: str) -> bool:
        return await self._inbox_receive(
            ChatLeft(event_id=self._event_id(), sender=self._sender(user), chat=self.chat(user))
        )

    async def _inbox_receive(self, event: MessageReceived | ButtonPressed | ChatLeft) -> bool:
        if self.context is None:
            raise RuntimeError(f"the {self.platform} fake adapter is not started")
        return await self.context.inbox.receive(event)


class FakeSettings(BaseSettings):
    """The fake platform has no settings."""


class FakePlatform:
    """The fake's platform description, for tests of code that asks platforms (not in
    the gateway's list: nobody runs a gateway on it)."""

    csv_column = True
    csv_max_length = 200
    settings = FakeSettings

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.channel_form = f"{name}:<user>"

    def enabled(self, settings: FakeSettings) -> bool:
        return True

    def build(self, settings: FakeSettings, deps: PlatformDeps) -> Adapter:
        return FakeAdapter(platform=self.name)

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        if not self.channel_ok(value):
            raise ValueError("not a user id (no spaces)")
        return value, chat_ref(self.name, value)

    def channel_ok(self, rest: str) -> bool:
        return bool(rest) and rest.isprintable() and not any(c.isspace() for c in rest)

    async def inviter(self, settings: FakeSettings, render: Render) -> Inviter:
        return NoInvitations()

    async def status_notes(self, state: StateStore) -> list[str]:
        return []
