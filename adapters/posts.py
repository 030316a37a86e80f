"""What a group robot or a webhook posts for a message: its text, what it is about and
the console page to act on it. Built here alone, for every outbound-only channel, so a
rule about what a group may be told about a resident applies to all of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web

from adapters.base import AdapterContext, SendHealth
from core.commands import Delivery
from core.ids import ChatRef

# How long one post may take, connection included.
TIMEOUT = aiohttp.ClientTimeout(total=15)

# What each kind of message is about, as the event name a webhook receives.
_EVENTS = {"need": "need.posted", "edit": "message.edited", "alert": "alert.copy"}


def event_name(delivery: Delivery) -> str:
    named = delivery.meta.get("event")
    if isinstance(named, str) and named:
        return named
    if "." in delivery.purpose:  # written as the event it announces ("alert.opened")
        return delivery.purpose
    return _EVENTS.get(delivery.purpose, "message")


def subject(delivery: Delivery) -> tuple[str, dict[str, Any]] | None:
    """("alert" | "need", its facts) when the message is about one; else None."""
    for kind in ("alert", "need"):
        facts = delivery.meta.get(kind)
        if isinstance(facts, dict):
            return kind, facts
    kind = event_name(delivery).split(".", 1)[0]
    if kind in ("alert", "need") and delivery.ref:
        return kind, {"id": delivery.ref}
    return None


def console_link(delivery: Delivery, console_url: str) -> str:
    """The console page where the alert or need can be acted on ("" when none)."""
    if not console_url:
        return ""
    found = subject(delivery)
    if found is None:
        return ""
    kind, facts = found
    base = console_url.rstrip("/")
    if kind == "alert":
        return f"{base}/alerts/{int(facts['id'])}"
    return f"{base}/needs"


def post_text(delivery: Delivery) -> str:
    """The words posted: the message's own text (the same a chat copy carries)."""
    return delivery.text


class PostingAdapter(SendHealth):
    """What the outbound-only adapters share: an HTTP session while running, no web
    routes, every channel a group (its own limits are per channel), the console's
    address for links, and the channels that refused for good (SendHealth)."""

    # One instance at a time sends, keeping each channel's limits.
    every_instance = False
    resends_deduplicated = False

    def __init__(self, console_url: str = "") -> None:
        self._console_url = console_url
        self._http: aiohttp.ClientSession | None = None
        self._refused: dict[str, str] = {}

    async def start(self, context: AdapterContext) -> None:
        self._http = aiohttp.ClientSession(timeout=TIMEOUT)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def is_group(self, chat: ChatRef) -> bool:
        return True

    def routes(self) -> Sequence[web.RouteDef]:
        return []
