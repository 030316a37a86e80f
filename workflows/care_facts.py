"""Who is away, who came back from hospital, and when a resident last had human contact:
what the daily summary and the early warning ask, in one place each, over the store's
records of time away (`away_at`, `absences_between`) and contact (`last_contacts`:
the resident's own answers and messages, phone calls, visits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.ids import PersonId
from core.ports import Tx
from core.watch import ContactFact

# A stay away is a hospital stay when its reason says so (`/away 5d 住院`).
HOSPITAL_WORDS = ("住院", "医院", "hospital")


@dataclass(frozen=True)
class AwayStay:
    person_id: PersonId
    name: str
    grid: str
    until: datetime
    reason: str


async def away_now(tx: Tx, at: datetime, grids: Sequence[str] | None) -> list[AwayStay]:
    """People of `grids` (None: all) away at `at`, soonest back first."""
    stays = []
    for absence in await tx.away_at(at, grids):
        person = await tx.person(absence.person_id)
        if person is not None:
            stays.append(
                AwayStay(person.id, person.name, person.grid, absence.until, absence.reason)
            )
    return stays


def is_hospital(reason: str) -> bool:
    reason = reason.casefold()
    return any(word in reason for word in HOSPITAL_WORDS)


async def back_from_hospital(tx: Tx, since: datetime, until: datetime) -> set[PersonId]:
    """Residents whose hospital stay ended in [since, until)."""
    back = set()
    for absence in await tx.absences_between(since, until):
        ended = min(absence.ended_at or absence.until, absence.until)
        if since <= ended < until and is_hospital(absence.reason):
            back.add(absence.person_id)
    return back


async def last_human_contact(tx: Tx, residents: Sequence[ContactFact]) -> dict[PersonId, datetime]:
    """Per resident, the last time someone was in touch: their own answer or message,
    a phone call that reached them, a visit. A resident never in touch since enrolment
    counts from their enrolment."""
    contacts = await tx.last_contacts([r.person_id for r in residents])
    found = {}
    for resident in residents:
        contact = contacts.get(resident.person_id)
        times = [resident.last_answer, None if contact is None else contact.at]
        found[resident.person_id] = max(
            (t for t in times if t is not None), default=resident.enrolled_at
        )
    return found
