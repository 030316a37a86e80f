"""The local web chat: a platform like any other, served by the gateway's web server.

It lets a newcomer (or a trainer) play every person of the community in a browser,
with no chat account. Messages live in memory, per chat; the page gets them over
server-sent events. The engine cannot tell it from Telegram.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from adapters.base import AdapterContext, DeliveryError, InboundSink, RateLimits
from adapters.local.platform import NAME
from core.commands import Button, Delivery
from core.events import ButtonPressed, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, split_chat_ref

PLATFORM = NAME
HISTORY = 200


@dataclass
class LocalMessage:
    id: str
    chat: str
    from_bot: bool
    text: str
    at: datetime
    buttons: tuple[tuple[Button, ...], ...] = ()
    toast: bool = False
    edited: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "from_bot": self.from_bot,
            "text": self.text,
            "at": self.at.isoformat(),
            "toast": self.toast,
            "edited": self.edited,
            "buttons": [
                [{"label": b.label, "token": b.token} for b in row] for row in self.buttons
            ],
        }


@dataclass
class _Chat:
    messages: deque[LocalMessage] = field(default_factory=lambda: deque(maxlen=HISTORY))
    listeners: set[asyncio.Queue[LocalMessage]] = field(default_factory=set)


class LocalChatAdapter:
    platform = PLATFORM
    limits = RateLimits(max_in_flight=16)
    every_instance = False
    resends_deduplicated = False

    def __init__(self) -> None:
        self._chats: dict[str, _Chat] = {}
        # Ids are unique across restarts: the inbox drops an event id it has seen, and
        # a reply names the message it answers.
        self._boot = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._context: AdapterContext | None = None

    async def start(self, context: AdapterContext) -> None:
        self._context = context

    async def stop(self) -> None:
        self._context = None

    def is_group(self, chat: ChatRef) -> bool:
        return False

    def routes(self) -> list[web.RouteDef]:
        # Its pages are the gateway's (gateway/web): they show the people of the
        # community, which an adapter knows nothing about.
        return []

    def _chat(self, chat: str) -> _Chat:
        return self._chats.setdefault(chat, _Chat())

    def history(self, chat: str) -> list[LocalMessage]:
        return list(self._chat(chat).messages)

    def subscribe(self, chat: str) -> asyncio.Queue[LocalMessage]:
        queue: asyncio.Queue[LocalMessage] = asyncio.Queue(maxsize=500)
        self._chat(chat).listeners.add(queue)
        return queue

    def unsubscribe(self, chat: str, queue: asyncio.Queue[LocalMessage]) -> None:
        self._chat(chat).listeners.discard(queue)

    def _publish(self, chat: str, message: LocalMessage) -> None:
        for queue in list(self._chat(chat).listeners):
            if not queue.full():
                queue.put_nowait(message)

    async def deliver(self, delivery: Delivery) -> str:
        platform, chat = split_chat_ref(delivery.chat)
        if platform != PLATFORM:
            raise DeliveryError(f"not a local chat: {delivery.chat}", permanent=True)
        now = datetime.now(UTC)
        if delivery.edit_of:
            for message in self._chat(chat).messages:
                if message.id == delivery.edit_of:
                    message.text, message.buttons, message.edited = (
                        delivery.text,
                        delivery.buttons,
                        True,
                    )
                    self._publish(chat, message)
                    return message.id
        message = LocalMessage(
            id=self._next_id(),
            chat=chat,
            from_bot=True,
            text=delivery.text,
            at=now,
            buttons=delivery.buttons,
            toast=bool(delivery.callback_id),
        )
        self._chat(chat).messages.append(message)
        self._publish(chat, message)
        return message.id

    def _sender(self, chat: str, name: str) -> Sender:
        return Sender(PLATFORM, chat, ChatRef(f"{PLATFORM}:{chat}"), name)

    def _next_id(self) -> str:
        return f"{self._boot}-{next(self._ids)}"

    async def post(self, chat: str, text: str, name: str = "", reply_to: str = "") -> None:
        """A person typed `text` in the web chat (as a reply to `reply_to`, if given)."""
        message = LocalMessage(
            id=self._next_id(),
            chat=chat,
            from_bot=False,
            text=text,
            at=datetime.now(UTC),
        )
        self._chat(chat).messages.append(message)
        self._publish(chat, message)
        await self._inbox().receive(
            MessageReceived(
                event_id=f"local:{message.id}",
                sender=self._sender(chat, name),
                chat=ChatRef(f"{PLATFORM}:{chat}"),
                kind=MessageKind.TEXT,
                text=text,
                reply_to=reply_to,
            )
        )

    async def press(self, chat: str, token: str, message_id: str, name: str = "") -> None:
        """A person tapped a button in the web chat."""
        await self._inbox().receive(
            ButtonPressed(
                event_id=f"local:press:{self._next_id()}",
                sender=self._sender(chat, name),
                chat=ChatRef(f"{PLATFORM}:{chat}"),
                token=token,
                platform_message_id=message_id,
            )
        )

    def _inbox(self) -> InboundSink:
        if self._context is None:
            raise RuntimeError("local chat is not started")
        return self._context.inbox
