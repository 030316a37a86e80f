"""Inbound events: what an adapter reports after translating a platform update.

Adapters know nothing about care; they only say who wrote what where, or which
button was pressed. Every event carries the platform's own event id so the inbox
can drop duplicates (a redelivered Telegram update, a Matrix event seen twice).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from core.ids import ChatRef


class MessageKind(enum.StrEnum):
    TEXT = "text"
    VOICE = "voice"
    STICKER = "sticker"
    PHOTO = "photo"
    VIDEO = "video"
    FILE = "file"
    LOCATION = "location"
    OTHER = "other"


@dataclass(frozen=True)
class Sender:
    """Who acted. `address` identifies the person on the platform (Telegram user id,
    Matrix user id); `chat` is where a reply to them goes (their private chat, DM room)."""

    platform: str
    address: str
    chat: ChatRef
    display_name: str = ""


@dataclass(frozen=True)
class MessageReceived:
    event_id: str
    sender: Sender
    chat: ChatRef
    kind: MessageKind
    text: str = ""
    is_group: bool = False
    # The platform message id this one answers (a Telegram reply, a Matrix
    # m.in_reply_to, the local chat's reply), so a note lands on the right alert.
    reply_to: str = ""


@dataclass(frozen=True)
class ButtonPressed:
    """A one-tap answer: a Telegram callback, a Matrix reaction, a web chat button.

    `token` is the opaque action token the gateway put on the button; for platforms
    that answer with a reaction instead (`reaction_key` on `platform_message_id`),
    the gateway finds the token from the message it sent."""

    event_id: str
    sender: Sender
    chat: ChatRef
    token: str = ""
    platform_message_id: str = ""
    reaction_key: str = ""
    # Telegram wants every callback answered; the adapter passes its id through so
    # the reply (a toast) can be sent as an ordinary outbound command.
    callback_id: str = ""


@dataclass(frozen=True)
class ChatLeft:
    """The person left or blocked the chat: messages to it can no longer arrive."""

    event_id: str
    sender: Sender
    chat: ChatRef


@dataclass(frozen=True)
class SignOfLife:
    """Something in the resident's home said they are up and about: a sensor, a smart
    plug or a water-meter bridge called their ping URL. `sender.address` is the person
    the URL belongs to; `water_litres` a reading the call carried (litres used in the
    24 hours before it), if any."""

    event_id: str
    sender: Sender
    chat: ChatRef
    water_litres: float | None = None


InboundEvent = MessageReceived | ButtonPressed | ChatLeft | SignOfLife


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one outbox row; produced by the outbox worker, not adapters."""

    outbox_id: int
    ok: bool
    permanent: bool = False
    error: str = ""
    platform_message_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def event_to_dict(event: InboundEvent) -> dict[str, Any]:
    # Every field is a plain value but the sender: a shallow copy is enough, where
    # dataclasses.asdict deep-copies each field (a tenth of the cost of an answer).
    data = dict(vars(event))
    data["sender"] = dict(vars(event.sender))
    data["type"] = type(event).__name__
    return data


def event_from_dict(data: dict[str, Any]) -> InboundEvent:
    data = dict(data)
    kind = data.pop("type")
    data["sender"] = Sender(**data["sender"])
    data["chat"] = ChatRef(data["chat"])
    match kind:
        case "MessageReceived":
            data["kind"] = MessageKind(data["kind"])
            return MessageReceived(**data)
        case "ButtonPressed":
            return ButtonPressed(**data)
        case "ChatLeft":
            return ChatLeft(**data)
        case "SignOfLife":
            return SignOfLife(**data)
    raise ValueError(f"unknown inbound event type {kind!r}")
