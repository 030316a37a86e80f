"""Named kinds and states, so nothing compares bare strings. Values are what the
database and the workflow file hold."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    RESIDENT = "resident"
    GRID_LEADER = "grid_leader"
    CARE_LEAD = "care_lead"
    FAMILY = "family"
    TEAM_MEMBER = "team_member"
    OPERATOR = "operator"
    # Phones residents who have no chat app, and records each call with one tap.
    CALLER = "caller"


RESPONDER_ROLES = frozenset(Role) - {Role.RESIDENT}


class NeedKind(enum.StrEnum):
    MEDICINE = "medicine"
    GROCERIES = "groceries"
    PERSONAL_CARE = "personal_care"
    REPAIR = "repair"
    COMPANIONSHIP = "companionship"
    MEDICAL = "medical"
    OTHER = "other"


class InvitePolicy(enum.StrEnum):
    KNOWN = "known"
    ANYONE = "anyone"


class TimerKind(enum.StrEnum):
    """What a durable timer row does when it fires."""

    REMIND = "remind"  # re-ask a check-in
    CLOSE = "close"  # a check-in's reply window ends
    ESCALATE = "escalate"  # an alert's next step
    CONCERN = "concern"  # "shall someone come?" waited long enough
    ROUND = "round"  # a scheduled round
    MANUAL_ROUND = "round_manual"  # a round started by hand, or waiting for quiet hours to end
    AWAY_END = "away_end"  # a person's time away is over
    CALL_RETRY = "call_retry"  # ring a resident again after nobody picked up
    PING = "ping"  # a resident's ping URL has been silent for their plan's ping_every
    SUMMARY = "summary"  # the day's summary for the grid leaders and care leads of a timezone
    OUTAGE_CHECK = "outage_check"  # judge a round's deliveries per platform; watch an outage
    OUTAGE_HOLD = "outage_hold"  # a check-in waiting for its platform to come back
    RETENTION = "retention"  # the daily job that reduces and deletes what has expired


class Risk(enum.StrEnum):
    """How long a resident may go without human contact before it is flagged."""

    HIGH = "high"
    KEY = "key"
    GENERAL = "general"


class Purpose(enum.StrEnum):
    """Why an outbox row was written: what its delivery (or failure) means."""

    PROMPT = "checkin"
    REMINDER = "reminder"
    ALERT = "alert"
    OUTCOME_MENU = "outcome_menu"
    NEED = "need"
    CALL = "call"  # a phone-call task for a caller
    CONCERN = "concern"
    EDIT = "edit"
    # A resident's address and phone sent privately to whoever took their need or alert
    # from a group; edited away once it is closed.
    REVEAL_NEED = "reveal_need"
    REVEAL_ALERT = "reveal_alert"
    CONSENT = "consent"  # "shall you receive X's alerts?" to a family contact or volunteer
    NONE = ""


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NeedState(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class ConsentDecision(enum.StrEnum):
    """What a consent row records (the latest row per person and subject counts)."""

    GIVEN = "given"  # a resident's /start, a contact's "yes"
    REFUSED = "refused"  # a contact's "no"
    ASKED = "asked"  # a contact was asked and has not answered
    WITHDRAWN = "withdrawn"  # /stop
    FORGOTTEN = "forgotten"  # the person's data was erased
