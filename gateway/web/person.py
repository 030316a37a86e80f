"""A person's page (`/people/<id>`): thirty days of check-ins as a calendar (answered,
late, missed, help), what they wrote, how they are reached (identities, enrollment),
their plan and contacts; and pausing them or marking that they left.

Pausing asks them nothing from the next round on (as `/stop` in the chat; a check-in
already sent runs its course, so a silence now is still noticed). Someone who left is
kept with all their history but no longer asked or listed on Today; both can be undone.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from core.console import CheckinDay
from core.enums import Role
from core.ports import Tx
from core.records import Person
from gateway.web.deps import CONSOLE, DEPS
from gateway.web.principal import Principal, principal
from gateway.web.render import Labels, ago, labels, page, when
from workflows import privacy
from workflows.enrollment import describe_schedule

DAYS = 30
# Shown in a day's cell beside its colour (the words are in its title and for screen
# readers): state is never told by colour alone.
# "away" has its mark and colour, for the day nothing records yet (the person's absences).
MARKS = {
    "answered": "✓",
    "late": "⏰",
    "missed": "✗",
    "help": "🆘",
    "pending": "…",
    "away": "✈",
    "": "",
}


@dataclass(frozen=True)
class Day:
    day: date
    mark: str  # "", "answered", "late", "missed", "help", "pending" (or "away")
    label: str


def not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text="no such person\n", content_type="text/plain")


async def visible_person(tx: Tx, who: Principal, person_id: int) -> Person:
    person = await tx.person(person_id)
    if person is None or not await who.sees_person(tx, person):
        raise not_found()
    return person


def mark_of(checkin: CheckinDay) -> str:
    match checkin.state:
        case "help":
            return "help"
        case "missed" | "unreachable":
            return "missed"
        case "ok":
            late = checkin.answered_at is not None and checkin.answered_at > checkin.deadline
            return "late" if late or checkin.reminders_sent else "answered"
        case _:
            return "pending"


# When a day has more than one check-in, the one that needs attention shows.
_WEIGHT = {"help": 6, "missed": 5, "late": 4, "pending": 3, "answered": 2, "away": 1, "": 0}


def calendar(checkins: list[CheckinDay], today: date, timezone: str, t: Labels) -> list[Day | None]:
    zone = ZoneInfo(timezone)
    marks: dict[date, str] = {}
    for checkin in checkins:
        day = checkin.due_at.astimezone(zone).date()
        mark = mark_of(checkin)
        if _WEIGHT[mark] > _WEIGHT[marks.get(day, "")]:
            marks[day] = mark
    first = today - timedelta(days=DAYS - 1)
    # Weeks start on Monday; the first row is padded to the first day's weekday.
    cells: list[Day | None] = [None] * first.weekday()
    for n in range(DAYS):
        day = first + timedelta(days=n)
        mark = marks.get(day, "")
        cells.append(Day(day, mark, t("cal_" + mark) if mark else t("cal_none")))
    return cells


async def audit_shown(request: web.Request, who: Principal, person: Person, why: str) -> None:
    """The console showed this person's address or phone: one audit entry per page
    opened (htmx refreshes of the same page are not new reveals)."""
    if not (person.phone or person.address) or request.headers.get("HX-Request"):
        return
    engine = request.app[DEPS].engine
    async with engine.store.transaction() as tx:
        await privacy.audit_reveal(
            tx,
            engine.clock.now(),
            person.id,
            who.person.id if who.person else None,
            f"address, phone (console: {who.name or '-'})",
            why,
        )


async def person_page(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    deps = request.app[DEPS]
    engine = deps.engine
    now = engine.clock.now()
    async with engine.store.read() as tx:
        person = await visible_person(tx, who, int(request.match_info["person_id"]))
        zone = ZoneInfo(person.timezone)
        today = now.astimezone(zone).date()
        start = datetime.combine(today - timedelta(days=DAYS - 1), datetime.min.time(), zone)
        checkins = await tx.checkin_days(person.id, start)
        said = await tx.messages_of(person.id, 30)
        identities = await tx.identities_of(person.id)
        family = await tx.family_of(person.id)
        resident = await tx.person(person.family_of) if person.family_of else None
        leaders = await tx.responders(person.grid, Role.GRID_LEADER.value) if person.grid else []
        alert = await tx.unresolved_alert_of(person.id)
        heard = await tx.last_heard(person.id)
        left = person.id in await tx.deactivated_people()
    await audit_shown(request, who, person, f"opened /people/{person.id}")
    plan = engine.config.plans.get(person.plan)
    running = set(engine.adapters)
    enrolled = [i for i in identities if i.platform in running]
    return page(
        request,
        "person.html",
        {
            "person": person,
            "role": t.text(f"role_{person.role}"),
            "cells": calendar(checkins, today, person.timezone, t)
            if person.role == "resident"
            else [],
            "weekdays": [t(f"wd_{n}") for n in range(7)],
            "marks": MARKS,
            "said": [(when(t, now, m.at, person.timezone), m) for m in said],
            "identities": identities,
            "enrolled": bool(enrolled),
            "running": running,
            "plan": plan,
            "schedule": describe_schedule(plan.schedule) if plan else "",
            "family": family,
            "resident": resident,
            "leaders": leaders,
            "alert": alert,
            "heard": ago(t, now, heard),
            "left": left,
            "can_pause": who.can_act and person.role == Role.RESIDENT,
            "can_manage": who.can_manage_people,
            "notice": request.query.get("notice", "")[:300],
        },
    )


async def _change(request: web.Request, manage: bool, kind: str) -> tuple[Person, str]:
    who = principal(request)
    if not (who.can_manage_people if manage else who.can_act):
        raise web.HTTPForbidden(text="not allowed for this account\n", content_type="text/plain")
    engine = request.app[DEPS].engine
    now = engine.clock.now()
    form = await request.post()
    on = form.get("on") == "1"
    async with engine.store.transaction() as tx:
        person = await visible_person(tx, who, int(request.match_info["person_id"]))
        if kind == "pause":
            await tx.set_active(person.id, not on)
        else:
            await tx.set_deactivated(person.id, now if on else None)
        event = f"person.{kind}d" if on else f"person.un{kind}d"
        actor = who.person.id if who.person else None
        await tx.audit(now, event, f"person:{person.id}", actor, f"web:{who.name or '-'}")
    # Not a workflow transaction, so the engine does not announce it: the page does.
    request.app[CONSOLE].feed.notify()
    return person, ("on" if on else "off")


async def pause(request: web.Request) -> web.Response:
    person, state = await _change(request, manage=False, kind="pause")
    notice = labels(request)("paused_" + state, name=person.name)
    raise web.HTTPSeeOther(f"/people/{person.id}?" + urllib.parse.urlencode({"notice": notice}))


async def deactivate(request: web.Request) -> web.Response:
    person, state = await _change(request, manage=True, kind="deactivate")
    notice = labels(request)("left_" + state, name=person.name)
    raise web.HTTPSeeOther(f"/people/{person.id}?" + urllib.parse.urlencode({"notice": notice}))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/people/{person_id:\\d{1,12}}", person_page),
        web.post("/people/{person_id:\\d{1,12}}/pause", pause),
        web.post("/people/{person_id:\\d{1,12}}/deactivate", deactivate),
    ]
