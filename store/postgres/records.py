"""The record types and time conversions shared with the SQLite store.

Both stores hand the workflows the very same classes, so a workflow cannot tell which
database it runs on. They are imported here, in one place, so that moving them (to the
core package) is a change to this file alone.
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
