"""What a group robot or a webhook posts for a message: its text, what it is about and
the console page to act on it. Built here alone, for every outbound-only channel, so a
rule about what a group may be told about a resident applies to all of them at once.
"""

from __future__ import annotations

from typing import Any

from core.commands import Delivery

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
