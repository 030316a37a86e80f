"""Early warning: quiet flags about residents whose pattern is slipping, from the rules
in the workflow file (`early_warning`). Never a page: the flags are read by the daily
summary, `carecheck status` and the dashboard.

The rules, with their defaults from community-care practice:
- `missed`: two check-ins missed (and never answered) within 7 days;
- `late`: three answered only after the reply window closed within 14 days;
- `drift`: the answer came more than 2 h away from the resident's own usual time of
  day (the median of their answers over 14 days) on each of their 3 latest answered
  check-ins — and those 14 days hold at least 3 more answers to know "usual" from;
  answers by proxy (a call, a visit) are not the resident's and are left out;
- `no_contact`: no human contact for longer than the resident's risk tier allows
  (`high` 7 days, `key` 30, `general` 90; `high` for 7 days after a hospital stay).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from core.config import EarlyWarning
from core.enums import Risk
from core.ids import PersonId
from core.ports import Tx
from core.records import PROXY_ANSWERS
from core.watch import CheckinFact, ContactFact
from workflows import care_facts
from workflows.texts import Texts
from workflows.timefmt import local

MISSED_STATES = ("missed", "unreachable")
DAY_MINUTES = 24 * 60
# Answers besides the drifting ones that a "usual time" needs.
BASELINE_ANSWERS = 3


class Rule(enum.StrEnum):
    MISSED = "missed"
    LATE = "late"
    DRIFT = "drift"
    NO_CONTACT = "no_contact"


@dataclass(frozen=True)
class Flag:
    person_id: PersonId
    name: str
    grid: str
    rule: Rule
    # missed/late: how many; drift: check-ins in a row; no_contact: days without.
    count: int
    # missed/late: within how many days; drift: hours away from usual; no_contact: the
    # tier's limit in days.
    days: int


def describe(texts: Texts, language: str, flag: Flag) -> str:
    """One short line: "王秀英: 2 missed check-ins in 7 days"."""
    return texts.render(
        language, f"flag_{flag.rule.value}", name=flag.name, count=flag.count, days=flag.days
    )


async def flags(
    tx: Tx, rules: EarlyWarning, now: datetime, grids: Sequence[str] | None
) -> list[Flag]:
    """The flags of the residents of `grids` (None: every grid), by resident."""
    spans = [timedelta(0)]
    if rules.missed is not None:
        spans.append(rules.missed.within)
    if rules.late is not None:
        spans.append(rules.late.within)
    if rules.drift is not None:
        spans.append(rules.drift.median_of)
    found: list[Flag] = []
    if max(spans) > timedelta(0):
        found += evaluate_checkins(rules, now, await tx.checkin_facts(now - max(spans), now, grids))
    if rules.no_contact is not None:
        residents = await tx.contact_facts(grids)
        last = await care_facts.last_human_contact(tx, residents)
        hospital = await care_facts.back_from_hospital(
            tx, now - rules.no_contact.after_hospital, now
        )
        away = {a.person_id for a in await care_facts.away_now(tx, now, grids)}
        found += evaluate_contact(rules, now, residents, last, hospital, away)
    order = {rule: index for index, rule in enumerate(Rule)}
    return sorted(found, key=lambda f: (f.grid, f.name, order[f.rule]))


def evaluate_checkins(
    rules: EarlyWarning, now: datetime, facts: Sequence[CheckinFact]
) -> list[Flag]:
    per_person: dict[PersonId, list[CheckinFact]] = defaultdict(list)
    for fact in facts:
        per_person[fact.person_id].append(fact)
    found = []
    for checkins in per_person.values():
        first = checkins[0]
        if rules.missed is not None:
            since = now - rules.missed.within
            missed = sum(
                1
                for c in checkins
                if c.due_at >= since and c.state in MISSED_STATES and c.late_at is None
            )
            if missed >= rules.missed.count:
                found.append(_flag(first, Rule.MISSED, missed, rules.missed.within.days))
        if rules.late is not None:
            since = now - rules.late.within
            late = sum(1 for c in checkins if c.due_at >= since and c.late_at is not None)
            if late >= rules.late.count:
                found.append(_flag(first, Rule.LATE, late, rules.late.within.days))
        if rules.drift is not None and _drifting(rules, now, checkins):
            hours = int(rules.drift.more_than.total_seconds() // 3600)
            found.append(_flag(first, Rule.DRIFT, rules.drift.days_in_a_row, hours))
    return found


def _drifting(rules: EarlyWarning, now: datetime, checkins: Sequence[CheckinFact]) -> bool:
    drift = rules.drift
    assert drift is not None
    since = now - drift.median_of
    # The resident's own answers: a caller's or a visitor's time says nothing of theirs.
    minutes = [
        _minute_of_day(answer, c.timezone)
        for c in checkins
        if c.due_at >= since
        and (answer := c.answer_at) is not None
        and c.answer not in PROXY_ANSWERS
    ]
    if len(minutes) < drift.days_in_a_row + BASELINE_ANSWERS:
        return False
    usual = median(minutes)
    limit = drift.more_than.total_seconds() / 60
    return all(_apart(m, usual) > limit for m in minutes[-drift.days_in_a_row :])


def _minute_of_day(at: datetime, timezone: str) -> int:
    here = local(at, timezone)
    return here.hour * 60 + here.minute


def _apart(a: float, b: float) -> float:
    # Around the clock: 23:30 and 00:30 are an hour apart.
    d = abs(a - b) % DAY_MINUTES
    return min(d, DAY_MINUTES - d)


def evaluate_contact(
    rules: EarlyWarning,
    now: datetime,
    residents: Sequence[ContactFact],
    last_contact: Mapping[PersonId, datetime],
    back_from_hospital: Collection[PersonId],
    away: Collection[PersonId],
) -> list[Flag]:
    limits = rules.no_contact
    assert limits is not None
    found = []
    for resident in residents:
        if resident.person_id in away:
            continue  # nobody is expected to see them while they are away
        tier = Risk.HIGH.value if resident.person_id in back_from_hospital else resident.risk
        limit = {Risk.HIGH.value: limits.high, Risk.KEY.value: limits.key}.get(tier, limits.general)
        last = last_contact.get(resident.person_id, resident.enrolled_at)
        if now - last > limit:
            found.append(
                Flag(
                    resident.person_id,
                    resident.name,
                    resident.grid,
                    Rule.NO_CONTACT,
                    (now - last).days,
                    limit.days,
                )
            )
    return found


def _flag(fact: CheckinFact, rule: Rule, count: int, days: int) -> Flag:
    return Flag(fact.person_id, fact.name, fact.grid, rule, count, days)
