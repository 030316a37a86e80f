"""Early warning: the rules on recorded check-ins, and the flags where people read them
(the daily summary, `carecheck status`, the dashboard) — never as a page."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import EarlyWarning, WorkflowConfig
from core.ids import CheckinId, PersonId
from core.watch import CheckinFact, ContactFact
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.status import FlagCache, render_table, today
from store.sqlite import Store
from tests.conftest import START, Harness, make_community
from tests.fakes import RecordingAdapter
from workflows import care_facts
from workflows.early_warning import Rule, evaluate_checkins, evaluate_contact

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
DAY = timedelta(days=1)
RULES = EarlyWarning()


def checkin(
    days_ago: int,
    state: str = "ok",
    *,
    answered: str | None = "09:05",
    late: bool = False,
    person: int = 1,
) -> CheckinFact:
    """A 09:00 (Shanghai) check-in `days_ago` days before NOW, answered at `answered`."""
    due = datetime(2026, 12, 1, 1, 0, tzinfo=UTC) - days_ago * DAY
    at = None
    if answered is not None:
        hour, minute = (int(x) for x in answered.split(":"))
        at = due.replace(hour=0, minute=0) + timedelta(hours=hour - 8, minutes=minute)
    return CheckinFact(
        id=CheckinId(100 * person + days_ago),
        person_id=PersonId(person),
        name=f"P{person}",
        grid="G1",
        timezone="Asia/Shanghai",
        due_at=due,
        deadline=due + timedelta(hours=1),
        state=state,
        answered_at=at if state in ("ok", "help") else None,
        late_at=at if late else None,
    )


def rules_of(facts: list[CheckinFact], rules: EarlyWarning = RULES) -> list[Rule]:
    return [f.rule for f in evaluate_checkins(rules, NOW, sorted(facts, key=lambda f: f.due_at))]


def test_two_missed_checkins_within_seven_days_are_flagged() -> None:
    week = [checkin(d) for d in range(7)]
    week[1] = checkin(1, "missed", answered=None)
    assert rules_of(week) == []
    week[5] = checkin(5, "unreachable", answered=None)
    assert rules_of(week) == [Rule.MISSED]
    # Eight days ago is outside the week; a miss answered late is a late answer.
    assert (
        rules_of([checkin(1, "missed", answered=None), checkin(8, "missed", answered=None)]) == []
    )
    assert Rule.MISSED not in rules_of(
        [checkin(1, "missed", answered=None), checkin(2, "missed", answered="11:00", late=True)]
    )


def test_three_late_answers_within_fourteen_days_are_flagged() -> None:
    late = [checkin(d, "missed", answered="10:30", late=True) for d in (1, 6, 13)]
    assert rules_of(late) == [Rule.LATE]
    assert rules_of(late[:2]) == []
    assert rules_of([*late[:2], checkin(15, "missed", answered="10:30", late=True)]) == []


def test_answers_drifting_from_the_residents_own_usual_time_three_days_running() -> None:
    usual = [checkin(d, answered="09:05") for d in range(3, 14)]
    drifting = [checkin(d, answered="11:20") for d in range(3)]
    assert rules_of(usual + drifting) == [Rule.DRIFT]
    # Two days away from the usual time are not yet a drift; nor is 1 h 50 min.
    assert rules_of(usual + drifting[:2] + [checkin(0, answered="09:10")]) == []
    assert rules_of(usual + [checkin(d, answered="10:55") for d in range(3)]) == []
    # Without enough answers to know the usual time, nothing is said.
    assert rules_of(usual[:2] + drifting) == []


def test_drift_is_measured_around_the_clock() -> None:
    # Usually answers just before midnight; 00:30 is 40 minutes later, not 23 hours.
    usual = [checkin(d, answered="23:50") for d in range(3, 14)]
    assert rules_of(usual + [checkin(d, answered="00:30") for d in range(3)]) == []


def test_each_rule_follows_the_workflow_file_and_can_be_turned_off() -> None:
    config = parse_config(
        builtin_config_text() + "early_warning:\n"
        "  missed: {count: 3, within: 7d}\n"
        "  late: off\n"
        "  drift: {more_than: 1h, days_in_a_row: 2, median_of: 10d}\n"
    )
    rules = config.early_warning
    assert rules.late is None and rules.no_contact is not None
    misses = [checkin(d, "missed", answered=None) for d in (1, 2)]
    assert rules_of(misses, rules) == []
    assert rules_of([*misses, checkin(3, "missed", answered=None)], rules) == [Rule.MISSED]
    late = [checkin(d, "missed", answered="10:30", late=True) for d in (1, 2, 4)]
    assert Rule.LATE not in rules_of(late, rules)
    usual = [checkin(d, answered="09:05") for d in range(2, 9)]
    assert rules_of(usual + [checkin(d, answered="10:20") for d in range(2)], rules) == [Rule.DRIFT]


def resident(person: int, risk: str, enrolled_days_ago: int, answered_days_ago: int | None):
    return ContactFact(
        person_id=PersonId(person),
        name=f"P{person}",
        grid="G1",
        risk=risk,
        enrolled_at=NOW - enrolled_days_ago * DAY,
        last_answer=None if answered_days_ago is None else NOW - answered_days_ago * DAY,
    )


def test_no_human_contact_for_longer_than_the_risk_tier_allows() -> None:
    residents = [
        resident(1, "high", 100, 8),  # high: 7 days → flagged
        resident(2, "key", 100, 8),  # key: 30 days → fine
        resident(3, "key", 100, 31),  # flagged
        resident(4, "", 100, 60),  # general: 90 days → fine
        resident(5, "general", 100, None),  # never answered: counts from enrolment
        resident(6, "high", 3, None),  # enrolled 3 days ago: fine
        resident(7, "key", 100, 8),  # back from hospital: high for a week → flagged
        resident(8, "high", 100, 20),  # away: not expected to be seen
    ]
    last = {r.person_id: r.last_answer or r.enrolled_at for r in residents}
    found = evaluate_contact(RULES, NOW, residents, last, {PersonId(7)}, {PersonId(8)})
    assert [(f.name, f.count, f.days) for f in found] == [
        ("P1", 8, 7),
        ("P3", 31, 30),
        ("P5", 100, 90),
        ("P7", 8, 7),
    ]


# -- where flags are read ---------------------------------------------------------------

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,risk
Leader Li,grid_leader,G1,B3,en,,1380001,,,,,
Wang,resident,G1,B3,zh,,1380011,B3-402,,,,high
Chen,resident,G1,B3,en,,1380012,B3-201,,,,
"""


@pytest.fixture
async def h(db_path: Path, config: WorkflowConfig) -> AsyncIterator[Harness]:
    clock = FakeClock(START)
    store = Store(db_path)
    await store.open()
    await make_community(store, config, clock.now(), PEOPLE)
    harness = Harness(store, clock, config, RecordingAdapter())
    await harness.start()
    yield harness
    await harness.engine.stop()
    await store.close()


async def test_flags_reach_the_summary_and_status_but_never_page_anyone(h: Harness) -> None:
    # Chen misses two mornings (answering neither); Wang (high risk) answers only by
    # tapping on the first day and then goes quiet for eight days.
    await h.advance(timedelta(minutes=30))
    await h.say("Wang", "好")
    for _ in range(8):
        h.clock.set(h.clock.now() + timedelta(hours=6))
        await h.settle()
        h.clock.set(h.clock.now() + timedelta(hours=18))
        await h.settle()
    await h.say("Leader Li", "/summary")
    text = (await h.last("Leader Li")).text
    assert "Early warning:" in text
    assert "Chen: 8 missed check-ins in 7 days" not in text  # (a week holds seven)
    assert "Chen: 7 missed check-ins in 7 days" in text
    assert "Wang: no human contact for 8 days (at most 7)" in text
    # Flags are never paged: no message but the summaries mentions them.
    for name in ("Leader Li", "Wang", "Chen"):
        pages = [d for d in await h.inbox(name) if "missed check-ins in" in d.text]
        assert all(d.text.startswith("📋") for d in pages), name
    status = await today(h.store, h.clock.now(), "Asia/Shanghai", h.config)
    shown = render_table(status)
    assert "early warning [G1]: Chen: 7 missed check-ins in 7 days" in shown
    assert "early warning [G1]: Wang: no human contact for 8 days (at most 7)" in shown
    assert {(f.name, f.rule) for f in status.early_warning} >= {
        ("Chen", Rule.MISSED),
        ("Wang", Rule.NO_CONTACT),
    }


async def test_the_console_reads_the_flags_again_only_every_quarter_hour(h: Harness) -> None:
    cache = FlagCache()
    now = h.clock.now()
    assert await cache.get(h.store, h.config, now) == []
    # Chen misses two mornings; a page refreshed within the quarter hour shows the flags
    # read before, a later one reads them again.
    for _ in range(2):
        await h.advance(timedelta(minutes=30))
        await h.advance(timedelta(hours=1, minutes=1))
        h.clock.set(h.clock.now() + timedelta(hours=22, minutes=29))
        await h.settle()
    assert await cache.get(h.store, h.config, now + timedelta(minutes=14)) == []
    later = await cache.get(h.store, h.config, h.clock.now())
    assert ("Chen", Rule.MISSED) in {(f.name, f.rule) for f in later}


def test_answers_by_proxy_say_nothing_of_the_residents_own_time() -> None:
    usual = [checkin(d, answered="09:05") for d in range(3, 14)]
    # A caller reached her at 14:00 on three days: those are the caller's times.
    called = [dataclasses.replace(checkin(d, answered="14:00"), answer="call") for d in range(3)]
    assert rules_of(usual + called) == []
    assert rules_of(usual + [checkin(d, answered="14:00") for d in range(3)]) == [Rule.DRIFT]


async def test_a_visit_is_human_contact_and_a_hospital_stay_makes_a_resident_high_risk(
    h: Harness,
) -> None:
    # Chen (general risk) and Wang (high) are left alone with the clock: no rounds
    # matter here, only contact. Eight days on, Wang is flagged, Chen is not.
    async def flagged() -> set[tuple[str, Rule]]:
        found = await today(h.store, h.clock.now(), "Asia/Shanghai", h.config)
        return {(f.name, f.rule) for f in found.early_warning if f.rule is Rule.NO_CONTACT}

    h.clock.set(START + timedelta(days=8))
    await h.settle()
    assert await flagged() == {("Wang", Rule.NO_CONTACT)}
    # The grid leader visits Wang: that is human contact.
    await h.say("Leader Li", "/visited Wang ok")
    assert await flagged() == set()
    # Chen (general risk: 90 days) goes into hospital for ten days and comes back.
    await h.engine.set_away("Chen", "10d", "住院")
    h.clock.set(h.clock.now() + timedelta(days=10, hours=1))
    await h.settle()
    assert await back_from_hospital(h, "Chen")
    # For a week after a hospital stay she counts as high risk: 18 days without human
    # contact is a flag now (the visit was to Wang, not to her) …
    assert ("Chen", Rule.NO_CONTACT) in await flagged()
    # … and a week later she is general again.
    h.clock.set(h.clock.now() + timedelta(days=7))
    await h.settle()
    assert not await back_from_hospital(h, "Chen")
    assert ("Chen", Rule.NO_CONTACT) not in await flagged()


async def back_from_hospital(h: Harness, name: str) -> bool:
    person = await h.person(name)
    async with h.store.read() as tx:
        back = await care_facts.back_from_hospital(
            tx, h.clock.now() - timedelta(days=7), h.clock.now() + timedelta(seconds=1)
        )
    return person.id in back
