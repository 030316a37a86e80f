"""Who is away, and when a resident last had human contact: what the daily summary and
the early warning ask, in one place each.

This branch has no record of time away, visits or phone calls yet: nobody is away,
nobody came back from hospital, and a resident's last human contact is their own last
answer (a button, a message, a late answer) — or, if they never answered, the day they
were enrolled. When those records exist, these three functions read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.ids import PersonId
from core.ports import Tx
from core.watch import ContactFact


@dataclass(frozen=True)
class AwayStay:
    person_id: PersonId
    name: str
    grid: str
    until: datetime
    reason: str


async def away_now(tx: Tx, at: datetime, grids: Sequence[str] | None) -> list[AwayStay]:
    """People of `grids` (None: all) away at `at`, soonest back first."""
    del tx, at, grids  # no time away is recorded on this branch
    return []


async def back_from_hospital(tx: Tx, since: datetime, until: datetime) -> set[PersonId]:
    """Residents whose hospital stay ended in [since, until)."""
    del tx, since, until  # no hospital stays are recorded on this branch
    return set()


async def last_human_contact(tx: Tx, residents: Sequence[ContactFact]) -> dict[PersonId, datetime]:
    """Per resident, the last time someone was in touch: their own answer for now.
    A resident never in touch since enrolment counts from their enrolment."""
    del tx
    return {r.person_id: r.last_answer or r.enrolled_at for r in residents}
