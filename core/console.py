"""Records of the web console: accounts, and the rows its pages read in one query.

Accounts are not people: a person is someone the care logic talks to on a chat
platform; an account is a login to the console. An account may be linked to a person
(`--person`), and then acts on alerts and needs as that person.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime

from core.ids import AlertId, PersonId


class WebRole(enum.StrEnum):
    """What an account may see and do. Operators see every grid; care leads and grid
    leaders the grids their account names; viewers read only."""

    OPERATOR = "operator"
    CARE_LEAD = "care_lead"
    GRID_LEADER = "grid_leader"
    VIEWER = "viewer"


@dataclass(frozen=True)
class WebUser:
    id: int
    username: str
    password_hash: str
    role: WebRole
    grids: tuple[str, ...]
    person_id: PersonId | None
    language: str
    active: bool
    # Bumped when the password changes or the account is disabled: a session made
    # before that carries the old number and is no longer accepted.
    generation: int
    created_at: datetime


@dataclass(frozen=True)
class ResidentRow:
    """One resident as the Today page shows them."""

    id: PersonId
    name: str
    grid: str
    building: str
    active: bool
    plan: str
    timezone: str
    language: str
    # The latest check-in, if any.
    checkin_state: str | None
    checkin_due: datetime | None
    checkin_deadline: datetime | None
    answered_at: datetime | None
    reminders_sent: int
    last_heard: datetime | None
    # The open (unresolved) alert, if any.
    alert_id: AlertId | None
    alert_state: str | None
    alert_reason: str | None
    alert_urgent: bool
    open_needs: int
    reachable: bool
    # Away (in hospital, visiting family) until then: no check-ins meanwhile.
    away_until: datetime | None = None


@dataclass(frozen=True)
class CheckinDay:
    """A check-in as the person page's calendar shows it."""

    due_at: datetime
    deadline: datetime
    state: str
    answered_at: datetime | None
    reminders_sent: int


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    kind: str
    actor: PersonId | None
    detail: str


@dataclass(frozen=True)
class DeliveryAttempt:
    at: datetime
    ok: bool
    permanent: bool
    error: str


@dataclass(frozen=True)
class AckTime:
    """How long one alert waited for someone to acknowledge it."""

    grid: str
    opened_at: datetime
    acked_at: datetime | None


def login_link_hash(token: str) -> str:
    """What the store keeps of a one-time login link's token: its SHA-256, so a copy of
    the database holds no link that works."""
    return hashlib.sha256(token.encode()).hexdigest()
