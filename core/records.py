"""Records as read from the store. Plain frozen dataclasses; times are aware UTC."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.ids import AlertId, ChatRef, CheckinId, OutboxId, PersonId


@dataclass(frozen=True)
class Person:
    id: PersonId
    name: str
    role: str
    grid: str
    building: str
    language: str
    timezone: str
    phone: str
    address: str
    plan: str
    family_of: PersonId | None
    active: bool
    # How the resident is checked on: "chat" (a prompt in their chat) or "phone" (a
    # call task for their caller); responders are always "chat".
    contact: str = "chat"
    # The caller assigned to this resident (CSV `caller`), if any.
    caller: PersonId | None = None
    # Who takes this responder's alerts while they are away (CSV `deputy`), if any.
    deputy: PersonId | None = None
    # A family contact's relation to their resident (CSV `relation`: 女儿, son …).
    relation: str = ""
    # high, key or general ("" is general): see core.enums.Risk.
    risk: str = ""

    @property
    def place(self) -> str:
        return " ".join(part for part in (self.grid, self.building) if part)


@dataclass(frozen=True)
class Identity:
    person_id: PersonId
    platform: str
    address: str
    chat: ChatRef


class CheckinState(enum.StrEnum):
    SENT = "sent"
    REMINDED = "reminded"
    OK = "ok"
    HELP = "help"
    MISSED = "missed"
    UNREACHABLE = "unreachable"
    # Closed unanswered because the resident went away (in hospital): not a miss.
    AWAY = "away"


OPEN_CHECKIN_STATES = (CheckinState.SENT, CheckinState.REMINDED)


@dataclass(frozen=True)
class Checkin:
    id: CheckinId
    person_id: PersonId
    plan: str
    due_at: datetime
    sent_at: datetime
    deadline: datetime
    state: CheckinState
    answered_at: datetime | None
    prompt_outbox_ids: tuple[OutboxId, ...]


class AlertReason(enum.StrEnum):
    MISSED = "missed"
    HELP = "help"
    UNREACHABLE = "unreachable"
    # Something worrying was said, and the resident did not answer "do you need someone?"
    CONCERN = "concern"
    # Someone who saw the resident is worried (/visited NAME concern NOTE).
    REPORTED = "reported"


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    id: AlertId
    person_id: PersonId
    checkin_id: CheckinId | None
    reason: AlertReason
    urgent: bool
    state: AlertState
    policy: str
    position: int  # steps walked so far, across repeats
    opened_at: datetime
    detail: str
    acked_by: PersonId | None
    acked_at: datetime | None
    resolved_by: PersonId | None
    resolved_at: datetime | None
    outcome: str
    misses: int = 0  # rounds missed in a row while this alert was open (0: not silence)


@dataclass(frozen=True)
class NewAlert:
    """An alert to open (`Tx.create_alerts`): what `Tx.create_alert` takes, and the
    steps already walked when it is written."""

    person_id: PersonId
    checkin_id: CheckinId | None
    reason: AlertReason
    urgent: bool
    policy: str
    opened_at: datetime
    detail: str = ""
    misses: int = 0
    position: int = 0


@dataclass(frozen=True)
class Notification:
    """One copy of an alert sent to one person; `seq` orders copies."""

    seq: int
    person_id: PersonId | None
    outbox_id: OutboxId
    step: int
    role: str
    at: datetime


@dataclass(frozen=True)
class Timer:
    id: int
    due_at: datetime
    kind: str
    ref: int
    arg: str


@dataclass(frozen=True)
class NewPerson:
    name: str
    role: str
    grid: str
    building: str
    language: str
    timezone: str
    phone: str
    address: str
    plan: str
    family_of_name: str = ""
    # "chat" or "phone"; empty keeps what an existing person has (new people: chat).
    contact: str = ""
    caller_name: str = ""
    deputy_name: str = ""
    relation: str = ""
    # high, key or general ("" is general): how long without human contact is flagged.
    risk: str = ""


@dataclass(frozen=True)
class Invite:
    code: str
    person_id: PersonId | None
    team: str | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class Need:
    id: int
    person_id: PersonId
    kind: str
    text: str
    team: str
    state: str
    created_by: PersonId | None
    created_at: datetime
    claimed_by: PersonId | None
    claimed_at: datetime | None
    closed_by: PersonId | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Said:
    """One message a resident sent, with what it was taken to mean."""

    id: int
    person_id: PersonId
    at: datetime
    kind: str
    text: str
    intent: str


@dataclass(frozen=True)
class AlertNote:
    alert_id: AlertId
    person_id: PersonId | None
    at: datetime
    text: str


@dataclass(frozen=True)
class DeadLetter:
    id: int
    platform: str
    ref: str
    raw: str
    reason: str
    received_at: datetime


class Contact(enum.StrEnum):
    """How a resident is checked on (the `contact` column)."""

    CHAT = "chat"
    PHONE = "phone"


class ContactKind(enum.StrEnum):
    """How someone was last in touch with a resident (their "last human contact")."""

    ANSWER = "answer"  # the resident answered or wrote, themselves
    CALL = "call"  # a caller reached them by phone
    VISIT = "visit"  # someone saw them (/visited)


# A check-in's `answer` when someone else answered it for the resident: the phone call
# of a call task, or a visit. Not the resident's own sign of life.
PROXY_ANSWERS = ("call", "visit")
# A check-in closed because the resident went away: nobody answered it.
AWAY_ANSWER = "away"


@dataclass(frozen=True)
class HumanContact:
    """The latest time someone was in touch with a resident: their own answer or
    message (`by` is the resident), a phone call, or a visit."""

    person_id: PersonId
    at: datetime
    kind: ContactKind
    by: PersonId | None
    note: str = ""


@dataclass(frozen=True)
class Absence:
    """A person away (in hospital, visiting family): no check-ins for a resident, and
    a responder's alerts go to their deputy. Away from `starts_at` until `until`, or
    until `ended_at` when they came back earlier (or the return was handled)."""

    id: int
    person_id: PersonId
    starts_at: datetime
    until: datetime
    reason: str
    set_by: PersonId | None
    ended_at: datetime | None

    def away_at(self, at: datetime) -> bool:
        return self.ended_at is None and self.starts_at <= at < self.until


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"  # 接通·平安
    HELP = "help"  # 接通·需要帮助
    NO_ANSWER = "no_answer"  # 无人接听


@dataclass(frozen=True)
class CallAttempt:
    """One phone call a caller made for a check-in, and how it went."""

    checkin_id: CheckinId
    caller: PersonId | None
    at: datetime
    outcome: CallOutcome
    note: str = ""


@dataclass(frozen=True)
class Consent:
    """One decision a person made: a resident agreeing at enrollment (`about` 0, with
    the version of the text they were shown), or a family contact or volunteer saying
    yes or no to hearing about one resident (`about`: the resident; 0: their grid)."""

    person_id: PersonId
    about: int
    decision: str
    version: str
    at: datetime
    detail: str
