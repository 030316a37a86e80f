"""What the daily summary, the early-warning rules and the outage guard read: facts
about check-ins, contact and deliveries, as the store gives them (times aware UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.ids import CheckinId, PersonId


@dataclass(frozen=True)
class CheckinFact:
    """One check-in of an active resident, with when (if ever) it was answered."""

    id: CheckinId
    person_id: PersonId
    name: str
    grid: str
    timezone: str
    due_at: datetime
    deadline: datetime
    state: str
    answered_at: datetime | None
    # After the window closed: the resident's answer called off the silence alert.
    late_at: datetime | None
    # How it was answered: "button", "text", … or by proxy ("call", "visit").
    answer: str = ""

    @property
    def answer_at(self) -> datetime | None:
        return self.answered_at or self.late_at


@dataclass(frozen=True)
class ContactFact:
    """An active resident's risk tier and the last sign of them the store holds."""

    person_id: PersonId
    name: str
    grid: str
    risk: str
    enrolled_at: datetime
    # Their last answer (button, message, late answer), if any.
    last_answer: datetime | None


@dataclass(frozen=True)
class PromptCounts:
    """A round's check-in prompts on one platform, by how their delivery stands."""

    platform: str
    total: int
    delivered: int
    # Refused for good, or still pending after at least one failed attempt.
    failing: int


@dataclass(frozen=True)
class PlatformDelivery:
    """How one platform's sending has gone lately."""

    delivered_since: int
    # Pending rows that failed at least once (waiting for a retry).
    retrying: int
    pending: int
