"""Real implementations of the adapter seam for tests, recording what crossed it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from adapters.base import AdapterContext, DeliveryError, RateLimits
from core.commands import Delivery
from core.events import ButtonPressed, ChatLeft, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, split_chat_ref


@dataclass
class Failure:
    error: DeliveryError
    times: int = 1_000_000


@dataclass
class RecordingAdapter:
    """A platform named "test": deliveries are recorded; failures can be injected per
    chat; inbound events are produced with `say`, `press` and `leave`."""

    platform: str = "test"
    limits: RateLimits = field(default_factory=lambda: RateLimits(max_in_flight=4))
    sent: list[Delivery] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    # The platform message id each delivered outbox row got (for replies to it).
    message_ids: dict[int, str] = field(default_factory=dict)
    context: AdapterContext | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self, context: AdapterContext) -> None:
        self.context = context

    async def stop(self) -> None:
        self.context = None

    def is_group(self, chat: ChatRef) -> bool:
        return split_chat_ref(chat)[1].startswith("-")

    async def deliver(self, delivery: Delivery) -> str:
        failure = self.failures.get(delivery.chat)
        if failure is not None and failure.times > 0:
            failure.times -= 1
            raise failure.error
        self.sent.append(delivery)
        # An edit keeps the message's id, as on the real platforms.
        message_id = delivery.edit_of or str(next(self._ids))
        self.message_ids[delivery.outbox_id] = message_id
        return message_id

    def to(self, chat: str) -> list[Delivery]:
        return [d for d in self.sent if d.chat == chat]

    def _sender(self, user: str) -> Sender:
        return Sender(self.platform, user, ChatRef(f"{self.platform}:{user}"))

    async def say(
        self,
        user: str,
        text: str,
        kind: MessageKind = MessageKind.TEXT,
        event_id: str | None = None,
        reply_to: str = "",
    ) -> bool:
        assert self.context is not None
        return await self.context.inbox.receive(
            MessageReceived(
                event_id=event_id or f"e{next(self._events)}",
                sender=self._sender(user),
                chat=ChatRef(f"{self.platform}:{user}"),
                kind=kind,
                text=text,
                reply_to=reply_to,
            )
        )

    async def press(self, user: str, token: str) -> bool:
        assert self.context is not None
        return await self.context.inbox.receive(
            ButtonPressed(
                event_id=f"e{next(self._events)}",
                sender=self._sender(user),
                chat=ChatRef(f"{self.platform}:{user}"),
                token=token,
                callback_id="cb",
            )
        )

    async def leave(self, user: str) -> bool:
        assert self.context is not None
        return await self.context.inbox.receive(
            ChatLeft(
                event_id=f"e{next(self._events)}",
                sender=self._sender(user),
                chat=ChatRef(f"{self.platform}:{user}"),
            )
        )
