"""An outbox row's values as both stores write them (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from typing import Any

from core.outbox import NewMessage

# The columns of a new outbox row, in the order of `message_row`.
ENQUEUE_COLUMNS = (
    "platform",
    "chat",
    "person_id",
    "priority",
    "purpose",
    "ref",
    "payload",
    "edit_of",
    "not_before",
    "created_at",
)


def message_row(platform: str, m: NewMessage, at: float) -> tuple[Any, ...]:
    """A new outbox row (`ENQUEUE_COLUMNS`), due and made at `at` (epoch seconds)."""
    return (
        platform,
        m.chat,
        m.person_id,
        int(m.priority),
        m.purpose,
        m.ref,
        m.payload(),
        m.edit_of,
        at,
        at,
    )
