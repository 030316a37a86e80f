"""Pure conversions between Telegram's objects and carecheck's.

Inbound: an aiogram `Update` (or the raw JSON of one) becomes at most one inbound
event. Outbound: a `Delivery` becomes the text parts and inline keyboard aiogram sends.
Nothing here does I/O, so it is tested on recorded update JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiogram.enums import ChatMemberStatus, ChatType, ContentType
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from pydantic import ValidationError

from adapters.telegram.platform import NAME
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, InboundEvent, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, chat_ref, split_chat_ref

PLATFORM = NAME
EVENT_ID_PREFIX = "tg:"
# Every button the gateway sends carries this prefix, so a press on some other
# bot's keyboard (or a stale format) is recognisable as not ours.
CALLBACK_PREFIX = "a:"
CALLBACK_DATA_MAX_BYTES = 64
# Telegram counts a message's length in UTF-16 code units after entity parsing.
MESSAGE_MAX_LENGTH = 4096
CALLBACK_ANSWER_MAX_LENGTH = 200
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")

_KINDS: Mapping[str, MessageKind] = {
    ContentType.TEXT: MessageKind.TEXT,
    ContentType.VOICE: MessageKind.VOICE,
    # An audio file from an old person's phone is nearly always a recording they made.
    ContentType.AUDIO: MessageKind.VOICE,
    ContentType.STICKER: MessageKind.STICKER,
    ContentType.PHOTO: MessageKind.PHOTO,
    ContentType.VIDEO: MessageKind.VIDEO,
    ContentType.VIDEO_NOTE: MessageKind.VIDEO,
    ContentType.ANIMATION: MessageKind.VIDEO,
    ContentType.DOCUMENT: MessageKind.FILE,
    ContentType.LOCATION: MessageKind.LOCATION,
    ContentType.VENUE: MessageKind.LOCATION,
    ContentType.CONTACT: MessageKind.OTHER,
    ContentType.DICE: MessageKind.OTHER,
    ContentType.POLL: MessageKind.OTHER,
}
_GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
_GONE_STATUSES = frozenset({ChatMemberStatus.KICKED, ChatMemberStatus.LEFT})
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` without lone surrogates: JSON can carry them (`"\\ud800"`), but SQLite,
    and every platform a reply goes to, refuse them, so an event holding one could
    never be stored and would stop every update after it."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


class CallbackDataTooLong(ValueError):
    """A button token does not fit Telegram's 64-byte callback data."""


# --- inbound ---------------------------------------------------------------------


def update_from_dict(data: Mapping[str, Any]) -> Update:
    return Update.model_validate(dict(data))


def event_from_dict(data: Any) -> InboundEvent | None:
    """The event of an update's raw JSON; None also when it is not a readable update,
    so that one bad update is skipped rather than stopping the ones after it."""
    if not isinstance(data, Mapping):
        return None
    try:
        update = update_from_dict(data)
    except ValidationError:
        return None
    return event_from_update(update)


def event_from_update(update: Update) -> InboundEvent | None:
    """The inbound event an update stands for, or None when it is nothing to us
    (an edit, a bot's message, a service message in a group, an unrequested type)."""
    event_id = f"{EVENT_ID_PREFIX}{update.update_id}"
    match update:
        case Update(message=Message() as message):
            return _message_event(event_id, message)
        case Update(callback_query=CallbackQuery() as query):
            return _button_event(event_id, query)
        case Update(my_chat_member=ChatMemberUpdated() as change):
            return _chat_left_event(event_id, change)
    return None


def _sender(user: User) -> Sender:
    # In Telegram a user's private chat with the bot has the user's own id.
    return Sender(
        platform=PLATFORM,
        address=str(user.id),
        chat=chat_ref(PLATFORM, user.id),
        display_name=storable(user.full_name),
    )


def _message_event(event_id: str, message: Message) -> MessageReceived | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    is_group = message.chat.type in _GROUP_TYPES
    kind = _KINDS.get(message.content_type)
    if kind is None:
        # In a private chat anything the person does is a sign of life; in a group an
        # unknown type is almost always a service message (someone joined, a pin).
        if is_group or message.chat.type != ChatType.PRIVATE:
            return None
        kind = MessageKind.OTHER
    text = message.text if kind is MessageKind.TEXT else message.caption
    replied = message.reply_to_message
    return MessageReceived(
        event_id=event_id,
        sender=_sender(user),
        chat=chat_ref(PLATFORM, message.chat.id),
        kind=kind,
        text=storable(text or ""),
        is_group=is_group,
        reply_to="" if replied is None else str(replied.message_id),
    )


def _button_event(event_id: str, query: CallbackQuery) -> ButtonPressed | None:
    if query.from_user.is_bot:
        return None
    data = query.data or ""
    # A press on a keyboard we did not make still gets answered (Telegram shows a
    # spinner until then), so it comes through with an empty token.
    token = data.removeprefix(CALLBACK_PREFIX) if data.startswith(CALLBACK_PREFIX) else ""
    sender = _sender(query.from_user)
    message = query.message
    return ButtonPressed(
        event_id=event_id,
        sender=sender,
        chat=chat_ref(PLATFORM, message.chat.id) if message is not None else sender.chat,
        token=storable(token),
        platform_message_id=str(message.message_id) if message is not None else "",
        callback_id=storable(query.id),
    )


def _chat_left_event(event_id: str, change: ChatMemberUpdated) -> ChatLeft | None:
    # Only a private chat matters: it is the resident's own line to us. The bot being
    # removed from a responders' group is the operator's business, not an event.
    if change.chat.type != ChatType.PRIVATE:
        return None
    if change.new_chat_member.status not in _GONE_STATUSES:
        return None
    return ChatLeft(
        event_id=event_id,
        sender=_sender(change.from_user),
        chat=chat_ref(PLATFORM, change.chat.id),
    )


# --- outbound --------------------------------------------------------------------


def chat_id_of(chat: ChatRef | str) -> int:
    platform, raw = split_chat_ref(chat)
    if platform != PLATFORM:
        raise ValueError(f"not a Telegram chat: {chat!r}")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"not a Telegram chat id: {chat!r}") from None


def is_group_chat(chat: ChatRef | str) -> bool:
    # Telegram gives groups and supergroups negative ids and people positive ones.
    try:
        return chat_id_of(chat) < 0
    except ValueError:
        return False


def callback_data(token: str) -> str:
    data = CALLBACK_PREFIX + token
    size = len(data.encode("utf-8"))
    if size > CALLBACK_DATA_MAX_BYTES:
        raise CallbackDataTooLong(
            f"button token is {size - len(CALLBACK_PREFIX)} bytes, but Telegram's "
            f"{CALLBACK_DATA_MAX_BYTES}-byte callback data leaves room for "
            f"{CALLBACK_DATA_MAX_BYTES - len(CALLBACK_PREFIX)} after {CALLBACK_PREFIX!r}"
        )
    return data


def _is_web_link(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def render_text(delivery: Delivery) -> str:
    """The plain text to send. Links Telegram cannot put on a button (url buttons
    take http(s) only, so no `tel:`) are written into the text instead of dropped."""
    lines = [
        f"{label}: {url.partition(':')[2].lstrip('/')}"
        for label, url in delivery.links
        if not _is_web_link(url)
    ]
    if not lines:
        return delivery.text
    return "\n".join([delivery.text, "", *lines]) if delivery.text else "\n".join(lines)


def keyboard(delivery: Delivery) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a delivery; raises CallbackDataTooLong."""
    rows: list[list[InlineKeyboardButton]] = [
        [_callback_button(button) for button in row] for row in delivery.buttons if row
    ]
    rows.extend(
        [InlineKeyboardButton(text=label, url=url)]
        for label, url in delivery.links
        if _is_web_link(url)
    )
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def button_label(button: Button) -> str:
    # The built-in texts already start their labels with the emoji ("✅ 我很好");
    # an operator's override or an outcome label may not.
    if not button.emoji or button.label.startswith(button.emoji):
        return button.label
    return f"{button.emoji} {button.label}"


def _callback_button(button: Button) -> InlineKeyboardButton:
    label = button_label(button)
    return InlineKeyboardButton(text=label, callback_data=callback_data(button.token))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MESSAGE_MAX_LENGTH) -> list[str]:
    """Split a text into parts Telegram accepts, at line boundaries.

    A single line longer than the limit is split at spaces, and only a line with no
    space to break at is cut (the price of sending it at all)."""
    if utf16_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in _pieces(text, limit):
        if current and utf16_length(current + line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    # Telegram trims whitespace and refuses an empty message, so a part that was only
    # blank lines between two long paragraphs is dropped.
    return [part.rstrip("\n") for part in parts if part.strip()]


def _pieces(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        if utf16_length(line) <= limit:
            pieces.append(line)
            continue
        for word in line.split(" "):
            word_with_space = word + " "
            while utf16_length(word_with_space) > limit:
                cut = _longest_prefix(word_with_space, limit)
                pieces.append(word_with_space[:cut])
                word_with_space = word_with_space[cut:]
            pieces.append(word_with_space)
        pieces[-1] = pieces[-1].removesuffix(" ")
    return pieces


def _longest_prefix(text: str, limit: int) -> int:
    count = 0
    for index, char in enumerate(text):
        count += utf16_length(char)
        if count > limit:
            return index
    return len(text)


def callback_answer_text(text: str) -> str:
    if len(text) <= CALLBACK_ANSWER_MAX_LENGTH:
        return text
    return text[: CALLBACK_ANSWER_MAX_LENGTH - 1] + "…"
