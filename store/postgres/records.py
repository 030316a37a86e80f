"""The record types and time conversions shared with the SQLite store.

Both stores hand the workflows the very same classes, so a workflow cannot tell which
database it runs on. They are imported here, in one place, so that moving them (to the
core package) is a change to this file alone.
"""

from __future__ import annotations

from gateway.store.base import from_ts, opt_ts, ts
from gateway.store.db import SchemaTooNew, StoreOpenError
from gateway.store.deadletters import HEALTH_KEY, MAX_RAW, MAX_REASON, DeadLetter
from gateway.store.delivery import NewMessage, OutboxRow
from gateway.store.history import AlertNote, Said
from gateway.store.needs import Need
from gateway.store.people import Invite, NewPerson

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
