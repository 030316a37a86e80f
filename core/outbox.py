"""Outbound messages as the outbox holds them: written by workflows, read by workers."""

from __future__ import annotations

import functools
import json
import json.encoder
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.commands import Button, Delivery, Priority
from core.ids import ChatRef, OutboxId, PersonId

# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; a round
# writes one payload per resident.
encode_payload = json.JSONEncoder(ensure_ascii=False).encode
# One string as that encoder writes it, quotes included.
_quoted: Callable[[str], str] = json.encoder.encode_basestring


@dataclass(frozen=True)
class NewMessage:
    """An outbound message before it has an outbox id."""

    chat: ChatRef
    text: str
    priority: Priority
    person_id: PersonId | None = None
    purpose: str = ""
    ref: int = 0
    html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit_of: OutboxId | None = None
    callback_id: str = ""
    links: tuple[tuple[str, str], ...] = ()
    # Facts for structured channels (see Delivery.meta); JSON values only.
    meta: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> str:
        """The message as the outbox stores it (JSON). Written by hand, string by
        string, for what nearly every message is — no `meta` — exactly as the JSON
        encoder writes `body()`, at a third of its cost: a round writes one per
        resident."""
        if self.meta:
            return encode_payload(self.body())
        q = _quoted
        rows = ", ".join(
            "["
            + ", ".join(
                f'{{"label": {q(b.label)}, "token": {q(b.token)}, "emoji": {q(b.emoji)}}}'
                for b in row
            )
            + "]"
            for row in self.buttons
        )
        links = ", ".join("[" + ", ".join(q(part) for part in link) + "]" for link in self.links)
        return (
            f'{{"text": {q(self.text)}, "html": {q(self.html)}, "buttons": [{rows}], '
            f'"callback_id": {q(self.callback_id)}, "links": [{links}]}}'
        )

    def body(self) -> dict[str, Any]:
        """The payload before it is encoded."""
        body: dict[str, Any] = {
            "text": self.text,
            "html": self.html,
            "buttons": [
                [{"label": b.label, "token": b.token, "emoji": b.emoji} for b in row]
                for row in self.buttons
            ],
            "callback_id": self.callback_id,
            "links": [list(link) for link in self.links],
        }
        if self.meta:
            body["meta"] = self.meta
        return body


@dataclass(frozen=True)
class OutboxRow:
    id: OutboxId
    platform: str
    chat: ChatRef
    person_id: PersonId | None
    priority: Priority
    purpose: str
    ref: int
    payload_json: str
    edit_of: OutboxId | None
    edit_target_message_id: str
    state: str
    attempts: int
    not_before: datetime
    platform_message_id: str

    @functools.cached_property
    def payload(self) -> dict[str, Any]:
        # Parsed when first wanted: most rows are read for their state, not their text.
        parsed: dict[str, Any] = json.loads(self.payload_json)
        return parsed

    def buttons(self) -> tuple[tuple[Button, ...], ...]:
        return tuple(
            tuple(Button(b["label"], b["token"], b.get("emoji", "")) for b in row)
            for row in self.payload.get("buttons", [])
        )

    def delivery(self) -> Delivery:
        return Delivery(
            outbox_id=self.id,
            chat=self.chat,
            text=self.payload["text"],
            html=self.payload.get("html", ""),
            buttons=self.buttons(),
            edit_of=self.edit_target_message_id,
            callback_id=self.payload.get("callback_id", ""),
            priority=self.priority,
            links=tuple((a, b) for a, b in self.payload.get("links", [])),
            purpose=self.purpose,
            ref=self.ref,
            meta=self.payload.get("meta", {}),
        )
