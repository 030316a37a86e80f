"""Pure translation between Matrix and carecheck's event model.

Inbound: a timeline event (a matrix-nio event object, read through its `source`
dict so that events nio could not validate still count) becomes a `MessageReceived`,
`ButtonPressed` or `ChatLeft`, or nothing. Outbound: a `Delivery` becomes the
content of an `m.room.message`, an `m.replace` edit or an `m.reaction`.

No I/O here: the adapter reads the room from the client's state into a `RoomView`
and passes it in, so every rule below is tested on recorded JSON.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.matrix.platform import NAME
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, InboundEvent, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, split_chat_ref

PLATFORM = NAME
HTML_FORMAT = "org.matrix.custom.html"
# The emoji variation selector: clients differ in whether they send it.
VS16 = "\ufe0f"

MSGTYPE_KINDS: Mapping[str, MessageKind] = {
    "m.text": MessageKind.TEXT,
    "m.emote": MessageKind.TEXT,
    "m.notice": MessageKind.TEXT,
    "m.audio": MessageKind.VOICE,
    "m.image": MessageKind.PHOTO,
    "m.video": MessageKind.VIDEO,
    "m.file": MessageKind.FILE,
    "m.location": MessageKind.LOCATION,
}
TEXT_KINDS = frozenset({MessageKind.TEXT})
GONE_MEMBERSHIPS = frozenset({"leave", "ban"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` without lone surrogates: event JSON can carry them (`"\\ud800"`), but
    SQLite and the homeserver refuse them, so an event holding one could never be
    stored, and the sync that brought it would be retried for ever."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _string(value: object) -> str:
    """A JSON value that should be a string, or "" when it is anything else."""
    return storable(value) if isinstance(value, str) else ""


@dataclass(frozen=True)
class RoomView:
    """What conversion needs to know about a room, as the client sees it after a sync."""

    room_id: str
    # Joined members other than the bot; empty once the room holds nobody to talk to.
    others_joined: frozenset[str] = frozenset()
    # Joined plus invited members, the bot included.
    member_count: int = 0
    display_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def chat(self) -> ChatRef:
        return room_chat(self.room_id)

    @property
    def is_group(self) -> bool:
        return self.member_count > 2


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: a room id (`!…`) or a user id (`@…`) needing a DM room."""

    room_id: str = ""
    user_id: str = ""


def room_chat(room_id: str) -> ChatRef:
    return ChatRef(f"{PLATFORM}:{storable(room_id)}")


def user_chat(user_id: str) -> ChatRef:
    return ChatRef(f"{PLATFORM}:{storable(user_id)}")


def parse_target(chat: ChatRef) -> Target:
    """Raise ValueError for anything but `matrix:!room:server` or `matrix:@user:server`."""
    platform, address = split_chat_ref(chat)
    if platform != PLATFORM:
        raise ValueError(f"not a Matrix room or user id: {chat!r}")
    # Room ids of room version 12 (Synapse's default since 1.135) have no server part.
    if address.startswith("!") and len(address) > 1:
        return Target(room_id=address)
    if address.startswith("@") and ":" in address:
        return Target(user_id=address)
    raise ValueError(f"not a Matrix room or user id (aliases are not resolved): {chat!r}")


# ---------------------------------------------------------------- inbound


def inbound_event(event: Any, room: RoomView, own_user_id: str) -> InboundEvent | None:
    """Translate one timeline event of `room`; None for what carecheck does not need."""
    source = _source(event)
    event_id, sender, kind = source.get("event_id"), source.get("sender"), source.get("type")
    content = source.get("content")
    if (
        not isinstance(event_id, str)
        or not isinstance(sender, str)
        or not isinstance(content, dict)
    ):
        return None
    if kind == "m.room.member":
        return _membership(source, content, room, own_user_id)
    if sender == own_user_id:
        return None
    who = _sender(sender, room)
    match kind:
        case "m.room.message":
            return _message(event_id, who, content, room)
        case "m.sticker":
            return _received(event_id, who, room, MessageKind.STICKER)
        case "m.reaction":
            relation = content.get("m.relates_to")
            if not isinstance(relation, dict) or relation.get("rel_type") != "m.annotation":
                return None
            return ButtonPressed(
                event_id=storable(event_id),
                sender=who,
                chat=room.chat,
                platform_message_id=_string(relation.get("event_id")),
                reaction_key=_string(relation.get("key")),
            )
        case "m.room.encrypted":
            # We cannot read it, but someone wrote something: still a sign of life.
            return _received(event_id, who, room, MessageKind.OTHER)
    return None


def has_encrypted(events: list[Any]) -> bool:
    """Whether any of these timeline events is one the bot cannot read."""
    return any(_source(event).get("type") == "m.room.encrypted" for event in events)


def _source(event: Any) -> dict[str, Any]:
    source = getattr(event, "source", event)
    return source if isinstance(source, dict) else {}


def arrival_index(events: list[Any], own_user_id: str, *, at_join: bool = False) -> int | None:
    """Where the bot arrived in this timeline (None: it was there all along).

    Events before that are the room's history from before the bot was there (a team
    room's old chat). By default the bot arrives with its invite, so what a resident
    wrote between inviting the bot and its join (`!link 1234`, typed while the gateway
    was down) still counts; `at_join` moves the line to the join itself, for rooms
    whose invite was waiting when the adapter first started."""
    arrival = None
    for index, event in enumerate(events):
        source = _source(event)
        if source.get("type") != "m.room.member":
            continue
        if source.get("state_key") != own_user_id:
            continue
        membership = _content(source).get("membership")
        unsigned = source.get("unsigned")
        previous = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
        before = previous.get("membership") if isinstance(previous, dict) else None
        # A join over a join is a profile change; a join after an invite is the same
        # arrival as the invite, unless the line is drawn at the join.
        if at_join:
            arrived = membership == "join" and before != "join"
        else:
            arrived = membership in ("invite", "join") and before not in ("invite", "join")
        if arrived:
            arrival = index
    return arrival


def _content(source: dict[str, Any]) -> dict[str, Any]:
    content = source.get("content")
    return content if isinstance(content, dict) else {}


def _message(
    event_id: str, who: Sender, content: dict[str, Any], room: RoomView
) -> MessageReceived | None:
    relation = content.get("m.relates_to")
    if isinstance(relation, dict) and relation.get("rel_type") == "m.replace":
        return None  # an edit of an older message, not a new one
    kind = MSGTYPE_KINDS.get(str(content.get("msgtype", "")), MessageKind.OTHER)
    body = content.get("body")
    body = body if isinstance(body, str) else ""
    if kind in TEXT_KINDS:
        text = strip_reply_fallback(body)
    else:
        # For media the body is usually the file name; it is a caption only when a
        # separate `filename` is given (Matrix v1.10 captions).
        filename = content.get("filename")
        text = body if isinstance(filename, str) and filename != body else ""
    return _received(event_id, who, room, kind, text, _in_reply_to(relation))


def _in_reply_to(relation: object) -> str:
    """The event id a message replies to (`m.relates_to.m.in_reply_to.event_id`)."""
    if not isinstance(relation, dict):
        return ""
    reply = relation.get("m.in_reply_to")
    event_id = reply.get("event_id") if isinstance(reply, dict) else None
    return _string(event_id)


def _received(
    event_id: str,
    who: Sender,
    room: RoomView,
    kind: MessageKind,
    text: str = "",
    reply_to: str = "",
) -> MessageReceived:
    return MessageReceived(
        event_id=storable(event_id),
        sender=who,
        chat=room.chat,
        kind=kind,
        text=storable(text),
        is_group=room.is_group,
        reply_to=reply_to,
    )


def _membership(
    source: dict[str, Any], content: dict[str, Any], room: RoomView, own_user_id: str
) -> ChatLeft | None:
    membership = content.get("membership")
    # Checked as a string first: a list or an object there is not hashable.
    if not isinstance(membership, str) or membership not in GONE_MEMBERSHIPS:
        return None
    sender, target = str(source["sender"]), source.get("state_key")
    if target == own_user_id:
        # Someone else kicked or banned the bot: this chat is gone for us.
        if sender == own_user_id:
            return None
        return ChatLeft(storable(source["event_id"]), _sender(sender, room), room.chat)
    if not isinstance(target, str) or room.others_joined:
        # Others still read this room (a team channel): nothing became unreachable.
        return None
    name = _previous_display_name(source) or room.display_names.get(target, "")
    who = Sender(PLATFORM, storable(target), room.chat, storable(name))
    return ChatLeft(storable(source["event_id"]), who, room.chat)


def _previous_display_name(source: dict[str, Any]) -> str:
    unsigned = source.get("unsigned")
    previous = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    name = previous.get("displayname") if isinstance(previous, dict) else None
    return name if isinstance(name, str) else ""


def _sender(user_id: str, room: RoomView) -> Sender:
    # A reply to someone writing in a group goes to them, not to the whole group:
    # the user id chat makes the adapter find or open their direct room.
    chat = user_chat(user_id) if room.is_group else room.chat
    name = room.display_names.get(user_id, "")
    return Sender(PLATFORM, storable(user_id), chat, storable(name))


def strip_reply_fallback(body: str) -> str:
    """Drop the `> <@bot> quoted text` lines older clients put before a reply: a
    quoted check-in prompt must not read as the resident's own words."""
    if not body.startswith("> "):
        return body
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


# ---------------------------------------------------------------- outbound


def tx_id(outbox_id: int) -> str:
    """The transaction id of a delivery: a retry of the same outbox row is one event."""
    return f"cc{outbox_id}"


def reaction_tx_id(outbox_id: int, index: int) -> str:
    return f"cc{outbox_id}r{index}"


def redaction_tx_id(outbox_id: int, event_id: str) -> str:
    """Taking back one reaction, once, however often the edit is retried."""
    return f"cc{outbox_id}x{hashlib.sha256(event_id.encode()).hexdigest()[:16]}"


def own_reactions(events: list[Any], own_user_id: str) -> list[tuple[str, str]]:
    """(event id, key) of the bot's live reactions among a message's relations."""
    found: list[tuple[str, str]] = []
    for event in events:
        source = _source(event)
        relation = _content(source).get("m.relates_to")
        unsigned = source.get("unsigned")
        redacted = isinstance(unsigned, dict) and "redacted_because" in unsigned
        if (
            source.get("type") != "m.reaction"
            or source.get("sender") != own_user_id
            or redacted
            or not isinstance(relation, dict)
            or relation.get("rel_type") != "m.annotation"
            or not isinstance(source.get("event_id"), str)
        ):
            continue
        found.append((str(source["event_id"]), str(relation.get("key", ""))))
    return found


def reaction_keys(delivery: Delivery) -> list[str]:
    """The emoji the bot puts under its message, one per button, in order, once each."""
    keys: list[str] = []
    for row in delivery.buttons:
        for button in row:
            if button.emoji and button.emoji not in keys:
                keys.append(button.emoji)
    return keys


def message_content(delivery: Delivery) -> dict[str, Any]:
    """`m.room.message` content: plain `body` plus HTML `formatted_body`."""
    plain = [delivery.text]
    rich = [delivery.html or _to_html(delivery.text)]
    choices = _missing_choices(delivery)
    if choices:
        plain += ["", *choices]
        rich += ["", *(_to_html(choice) for choice in choices)]
    for label, url in delivery.links:
        if url not in delivery.text:
            plain.append(f"{label}: {url}")
            rich.append(_link(label, url))
    return {
        "msgtype": "m.text",
        "body": "\n".join(plain),
        "format": HTML_FORMAT,
        "formatted_body": "<br>".join(rich),
    }


def edit_content(delivery: Delivery) -> dict[str, Any]:
    """An `m.replace` edit of `delivery.edit_of`; the `* ` fallback is for old clients."""
    new = message_content(delivery)
    return {
        "msgtype": new["msgtype"],
        "body": f"* {new['body']}",
        "format": HTML_FORMAT,
        "formatted_body": f"* {new['formatted_body']}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": delivery.edit_of},
    }


def reaction_content(event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


def notice_content(text: str) -> dict[str, Any]:
    return {
        "msgtype": "m.notice",
        "body": text,
        "format": HTML_FORMAT,
        "formatted_body": _to_html(text),
    }


def _missing_choices(delivery: Delivery) -> list[str]:
    """Choice lines the text does not show yet. The gateway usually writes them itself
    ("✅ 我很好 / I'm fine"); a second copy would only confuse."""
    return [
        _choice(button)
        for row in delivery.buttons
        for button in row
        if (button.emoji or button.label) not in delivery.text
    ]


def _choice(button: Button) -> str:
    """`✅ I'm fine`: the emoji to react with, then what it means. The gateway's own
    labels already start with their emoji; printing it twice reads as a typo."""
    label = button.label.strip()
    if not button.emoji or label.replace(VS16, "").startswith(button.emoji.replace(VS16, "")):
        return label or button.emoji
    return f"{button.emoji} {label}".strip()


def _to_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _link(label: str, url: str) -> str:
    return f'<a href="{html.escape(url)}">{html.escape(label)}</a>'
