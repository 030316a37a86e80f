"""The record types, time conversions and limits shared with the SQLite store.

Both stores hand the workflows the very same classes (from core/), store times the same
way and cut long text at the same lengths, so a workflow cannot tell which database it
runs on. They are gathered here so the PostgreSQL modules name one place.
"""

from __future__ import annotations

from core.outbox import NewMessage, OutboxRow
from core.ports import SchemaTooNew, StoreOpenError
from core.records import AlertNote, DeadLetter, Invite, Need, NewPerson, Said
from store.sqlite.base import from_ts, opt_ts, ts
from store.sqlite.deadletters import HEALTH_KEY, MAX_RAW, MAX_REASON

__all__ = [
    "HEALTH_KEY",
    "MAX_RAW",
    "MAX_REASON",
    "AlertNote",
    "DeadLetter",
    "Invite",
    "Need",
    "NewMessage",
    "NewPerson",
    "OutboxRow",
    "Said",
    "SchemaTooNew",
    "StoreOpenError",
    "from_ts",
    "opt_ts",
    "ts",
]
