"""Outbound work as typed, frozen records.

Workflows return these; the gateway writes them into the outbox in the same
transaction as the state change, and a per-platform worker hands each one to its
adapter as a `Delivery`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from core.ids import ChatRef, OutboxId


class Priority(enum.IntEnum):
    """Lower goes first: an alert never waits behind a round of routine prompts, and
    nothing owed to the people in care waits behind answers to strangers."""

    ALERT = 0
    REPLY = 1
    ROUTINE = 2
    # Answers to people who are not enrolled ("I do not know you"): anyone can make
    # the bot write these, as many as they like.
    BULK = 3


@dataclass(frozen=True)
class Button:
    """A one-tap choice. `token` is opaque and verified when pressed; `emoji` is the
    reaction that stands for it on platforms without buttons (Matrix)."""

    label: str
    token: str
    emoji: str = ""


@dataclass(frozen=True)
class Delivery:
    """One message for an adapter to put on its platform.

    `edit_of` is the platform message id to edit instead of sending anew (the adapter
    falls back to sending when the platform refuses the edit). `html` is an optional
    rich rendering of `text` for platforms that show it (Matrix formatted_body).
    `callback_id` answers a Telegram button press (a toast) instead of messaging.
    `purpose` and `ref` say what the message is about (an alert and its id, a need and
    its id), and `meta` carries facts for platforms that post structured events or link
    to the console page instead of showing buttons (a WeCom robot, a webhook)."""

    outbox_id: OutboxId
    chat: ChatRef
    text: str
    html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit_of: str = ""
    callback_id: str = ""
    priority: Priority = Priority.ROUTINE
    links: tuple[tuple[str, str], ...] = field(default=())
    purpose: str = ""
    ref: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
