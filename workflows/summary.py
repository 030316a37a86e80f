"""The day's summary for grid leaders and care leads: one short message at
`summary_time` in each one's own timezone, and on demand with /summary.

Per grid: how the day's check-ins went (answered / late / missed / help, with the
names of everyone who was not simply fine), open alerts and their state, open and
overdue needs, who is away, early-warning flags, and any platform outage. A grid with
nothing of that says only "all N answered"; for someone with many grids, the quiet
grids share one line.

The summary is a durable timer per timezone (it survives restarts, and a summary due
while the gateway was down is sent when it starts). Whoever fires it, each recipient
gets one per day: the day sent is written with a compare-and-set (`kv_advance`), so
two instances on one database cannot both send it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.commands import Priority
from core.enums import NeedState, Role, TimerKind
from core.events import MessageReceived
from core.records import Alert, AlertState, CheckinState, Need, Person, Timer
from core.watch import CheckinFact
from workflows import care_facts, early_warning, outage
from workflows.context import Work
from workflows.messaging import to_person
from workflows.routes import Audience, Routes, reply, reply_text
from workflows.texts import Texts
from workflows.timefmt import hm, local

log = logging.getLogger(__name__)

TIMER_SUMMARY = TimerKind.SUMMARY
RECIPIENTS = (Role.GRID_LEADER, Role.CARE_LEAD)
# Who may ask for one with /summary.
ASKERS = frozenset({Role.GRID_LEADER, Role.CARE_LEAD, Role.OPERATOR})
# At most this many names on one line, and grids in one message; the rest are counted
# (someone who covers a whole street reads the rest on the console).
NAMES = 12
GRIDS = 30

routes = Routes()


def next_summary_at(at: time, timezone: str, after: datetime) -> datetime:
    """The first `at` (local time in `timezone`) strictly after `after`."""
    zone = ZoneInfo(timezone)
    day = after.astimezone(zone).date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), at, tzinfo=zone)
        if candidate > after:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("a time of day comes again within two days")


async def _recipients(work: Work) -> list[Person]:
    found: dict[int, Person] = {}
    for role in RECIPIENTS:
        for person in await work.tx.people(role.value):
            if person.active:
                found.setdefault(person.id, person)
    return list(found.values())


async def ensure_summary_timers(work: Work) -> int:
    """A summary timer for every timezone that has a grid leader or care lead. Runs
    at start-up and every few minutes (new people)."""
    timers = await work.tx.timers_of(0, TIMER_SUMMARY)
    at = work.config.summary_time
    if any(local(t.due_at, t.arg).time() != at for t in timers):
        # `summary_time` changed since these were set: set them again.
        await work.tx.cancel_timers(0, (TIMER_SUMMARY,))
        timers = []
    existing = {t.arg for t in timers}
    added = 0
    for timezone in sorted({p.timezone for p in await _recipients(work)} - existing):
        await work.tx.add_timer(
            next_summary_at(work.config.summary_time, timezone, work.now),
            TIMER_SUMMARY,
            0,
            timezone,
            work.now,
        )
        added += 1
    work.timers_added = work.timers_added or added > 0
    return added


@routes.timer(TIMER_SUMMARY)
async def _summary_due(work: Work, timer: Timer) -> None:
    timezone = timer.arg
    # The day it is for is the day it was due: one caught up after a night's restart
    # still reports that day.
    day = local(timer.due_at, timezone).date()
    recipients = [
        person
        for person in await _recipients(work)
        if person.timezone == timezone
        and await work.tx.kv_advance(f"summary.sent:{person.id}", day.isoformat())
    ]
    sent = len(recipients)
    if recipients:
        start, end = day_of(timer.due_at, timezone)
        everything = await _gather(work, None, start, end)
        for person in recipients:
            # Routine: never ahead of an alert or of an answer to someone who wrote.
            text = _render(work, person, everything)
            await to_person(work, person, text, priority=Priority.ROUTINE)
    await work.tx.audit(work.now, "summary.sent", timezone, None, f"{day} to {sent}")
    log.info("daily summary for %s (%s): %d sent", timezone, day, sent)
    # The next one — unless another is waiting already (two instances added one each).
    if not any(t.arg == timezone for t in await work.tx.timers_of(0, TIMER_SUMMARY)):
        due = next_summary_at(work.config.summary_time, timezone, max(work.now, timer.due_at))
        await work.tx.add_timer(due, TIMER_SUMMARY, 0, timezone, work.now)
        work.timers_added = True


@routes.command("summary", audience=Audience.RESPONDERS)
async def _summary_command(
    work: Work, person: Person, event: MessageReceived, args: list[str]
) -> None:
    if person.role not in ASKERS:
        await reply(work, event, person, "summary_not_for_you")
        return
    await reply_text(work, event, person, await text_for(work, person, work.now))


# -- what it says ---------------------------------------------------------------------


@dataclass
class _Grid:
    name: str
    checkins: list[CheckinFact] = field(default_factory=list)
    alerts: list[tuple[Alert, Person]] = field(default_factory=list)
    needs: list[tuple[Need, Person]] = field(default_factory=list)
    away: list[care_facts.AwayStay] = field(default_factory=list)
    flags: list[early_warning.Flag] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        return all(_kind(c) == "answered" for c in self.checkins) and not (
            self.alerts or self.needs or self.away or self.flags
        )


def _kind(fact: CheckinFact) -> str:
    if fact.state == "help":
        return "help"
    if fact.state == "ok":
        return "answered"
    if fact.state in ("missed", "unreachable"):
        return "late" if fact.late_at is not None else "missed"
    return "waiting"


KINDS = ("answered", "late", "missed", "help", "waiting")


def day_of(at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The local day `at` falls on in `timezone`: [start, end)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(at.astimezone(zone).date(), time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class _Day:
    start: datetime
    end: datetime
    grids: dict[str, _Grid]
    outages: list[outage.Outage]


async def _gather(work: Work, scope: Sequence[str] | None, start: datetime, end: datetime) -> _Day:
    """Everything the summaries of `scope` (None: every grid) say, read once: a
    timezone's summaries share one reading."""
    tx = work.tx
    grids: dict[str, _Grid] = {}

    def grid(name: str) -> _Grid:
        return grids.setdefault(name, _Grid(name))

    for name in scope if scope is not None else await tx.grids():
        grid(name)
    for fact in await tx.checkin_facts(start, end, scope):
        # Closed because the resident went away: no answer was expected (they are
        # listed as away while they are).
        if fact.state != CheckinState.AWAY:
            grid(fact.grid).checkins.append(fact)
    only = None if scope is None else scope[0]
    for alert in await tx.unresolved_alerts(only):
        resident = await tx.person(alert.person_id)
        if resident is not None:
            grid(resident.grid).alerts.append((alert, resident))
    for need in await tx.needs_in(scope, work.now):
        resident = await tx.person(need.person_id)
        if resident is not None and need.state in (NeedState.OPEN, NeedState.CLAIMED):
            grid(resident.grid).needs.append((need, resident))
    for stay in await care_facts.away_now(tx, work.now, scope):
        grid(stay.grid).away.append(stay)
    for flag in await early_warning.flags(tx, work.config.early_warning, work.now, scope):
        grid(flag.grid).flags.append(flag)
    return _Day(start, end, grids, await outage.during(tx, start, end))


async def group_text(work: Work, grid: str, timezone: str, at: datetime, language: str) -> str:
    """One grid's day in numbers only, for the grid's group channel (a WeCom group, a
    webhook): a group hears no resident's name or state (workflows/privacy.py); the
    names are in the leaders' own summaries and on the console."""
    start, end = day_of(at, timezone)
    item = (await _gather(work, [grid], start, end)).grids.get(grid) or _Grid(grid)
    counts = dict.fromkeys(KINDS, 0)
    for fact in item.checkins:
        counts[_kind(fact)] += 1
    render = work.texts.render
    return "\n".join(
        [
            render(language, "summary_title", day=start.strftime("%m-%d")),
            render(language, "summary_grid", grid=grid or "-", total=len(item.checkins), **counts),
            render(
                language,
                "summary_group_rest",
                alerts=len(item.alerts),
                needs=len(item.needs),
                away=len(item.away),
                flags=len(item.flags),
            ),
        ]
    )


def _scope(person: Person) -> list[str] | None:
    return [person.grid] if person.grid else None


async def text_for(work: Work, person: Person, at: datetime) -> str:
    """The summary of `person`'s grids (every grid for someone without one) for the
    day `at` falls on in their timezone, as it stands now."""
    start, end = day_of(at, person.timezone)
    return _render(work, person, await _gather(work, _scope(person), start, end))


def _render(work: Work, person: Person, day: _Day) -> str:
    lang = person.language
    scope = _scope(person)
    names = sorted(day.grids) if scope is None else scope
    grids = [day.grids.get(name) or _Grid(name) for name in names]
    lines = [work.texts.render(lang, "summary_title", day=day.start.strftime("%m-%d"))]
    quiet: list[_Grid] = []
    busy = 0
    for item in grids:
        if item.quiet:
            quiet.append(item)
        elif busy < GRIDS:
            lines += _grid_lines(work, person, item)
            busy += 1
        else:
            busy += 1
    if busy > GRIDS:
        lines.append(work.texts.render(lang, "summary_more_grids", count=busy - GRIDS))
    if len(quiet) == 1 and len(grids) == 1:
        lines.append(_all_answered(work, lang, quiet[0]))
    elif quiet:
        answered = [g for g in quiet if g.checkins]
        if answered:
            lines.append(
                work.texts.render(
                    lang,
                    "summary_quiet_grids",
                    grids=_names(work, lang, [g.name or "-" for g in answered]),
                    count=sum(len(g.checkins) for g in answered),
                )
            )
        idle = [g.name or "-" for g in quiet if not g.checkins]
        if idle:
            lines.append(
                work.texts.render(lang, "summary_no_checkins", grid=_names(work, lang, idle))
            )
    for out in day.outages:
        lines.append(outage_line(work.texts, person.language, out, person.timezone))
    return "\n".join(lines)


def _all_answered(work: Work, lang: str, item: _Grid) -> str:
    if not item.checkins:
        return work.texts.render(lang, "summary_no_checkins", grid=item.name or "-")
    return work.texts.render(
        lang, "summary_all_answered", grid=item.name or "-", count=len(item.checkins)
    )


def _grid_lines(work: Work, person: Person, item: _Grid) -> list[str]:
    lang = person.language
    by_kind: dict[str, list[str]] = defaultdict(list)
    for fact in item.checkins:
        by_kind[_kind(fact)].append(fact.name)
    lines = [
        work.texts.render(
            lang,
            "summary_grid",
            grid=item.name or "-",
            total=len(item.checkins),
            **{kind: len(by_kind[kind]) for kind in KINDS},
        )
    ]
    for kind in KINDS[1:]:
        if by_kind[kind]:
            lines.append(
                work.texts.render(
                    lang, f"summary_{kind}_names", names=_names(work, lang, by_kind[kind])
                )
            )
    if item.alerts:
        lines.append(
            work.texts.render(
                lang,
                "summary_alerts",
                alerts=_names(work, lang, [_alert_part(work, lang, a, r) for a, r in item.alerts]),
            )
        )
    if item.needs:
        overdue = [n for n, _ in item.needs if work.now - n.created_at > _overdue(work)]
        lines.append(
            work.texts.render(
                lang,
                "summary_needs",
                count=len(item.needs),
                overdue=len(overdue),
                hours=int(_overdue(work).total_seconds() // 3600),
                needs=_names(
                    work,
                    lang,
                    [
                        f"#{n.id} {r.name} {work.texts.render(lang, f'kind_{n.kind}')}"
                        + ("⏰" if n in overdue else "")
                        for n, r in item.needs
                    ],
                ),
            )
        )
    if item.away:
        lines.append(
            work.texts.render(
                lang,
                "summary_away",
                names=_names(
                    work,
                    lang,
                    [
                        work.texts.render(
                            lang,
                            "summary_away_item",
                            name=s.name,
                            until=f"{local(s.until, person.timezone):%m-%d}",
                            reason=s.reason or "-",
                        )
                        for s in item.away
                    ],
                ),
            )
        )
    if item.flags:
        lines.append(
            work.texts.render(
                lang,
                "summary_flags",
                flags=_names(
                    work, lang, [early_warning.describe(work.texts, lang, f) for f in item.flags]
                ),
            )
        )
    return lines


def _overdue(work: Work) -> timedelta:
    return work.config.need_overdue_after


def _alert_part(work: Work, lang: str, alert: Alert, resident: Person) -> str:
    if alert.state is AlertState.ACKNOWLEDGED:
        state = work.texts.render(lang, "summary_alert_acked")
    else:
        state = work.texts.render(lang, "state_open")
    return work.texts.render(
        lang,
        "summary_alert_item",
        alert=alert.id,
        name=resident.name,
        # A silence alert the resident then called for help on is read as a call for help.
        reason=work.texts.render(
            lang, "reason_help" if alert.urgent else f"reason_{alert.reason.value}"
        ),
        state=state,
    )


def outage_line(texts: Texts, language: str, out: outage.Outage, timezone: str) -> str:
    fields = {
        "platform": outage.platform_label(out.platform),
        "since": hm(out.since, timezone),
        "count": out.not_reached,
    }
    if out.ended is None:
        return texts.render(language, "summary_outage_open", **fields)
    return texts.render(language, "summary_outage_ended", until=hm(out.ended, timezone), **fields)


def _names(work: Work, lang: str, names: Sequence[str]) -> str:
    shown = list(names[:NAMES])
    if len(names) > NAMES:
        shown.append(work.texts.render(lang, "summary_more", count=len(names) - NAMES))
    return work.texts.render(lang, "summary_sep").join(shown)
