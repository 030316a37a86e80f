"""Needs (`/needs`): per team, what is open, claimed, and done lately; claiming and
finishing from the page through the chat's own function (workflows/needs.py `act`),
so every copy posted in the team's chat is edited the same way.

Like alerts, a need is handled *as a person*: the account must be linked to one who
may handle it in the chat (needs.may_handle).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from core.enums import NeedState
from core.records import Need, Person
from gateway.web.deps import DEPS
from gateway.web.principal import principal
from gateway.web.render import labels, page, when
from workflows import needs

# Done and cancelled needs stay on the page this long.
RECENT = timedelta(days=7)
COLUMNS = ("open", "claimed", "closed")


@dataclass(frozen=True)
class Card:
    need: Need
    resident: Person
    created: str
    claimed_by: str
    closed_by: str
    may_claim: bool
    may_finish: bool


async def needs_list(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    engine = request.app[DEPS].engine
    now = engine.clock.now()
    names: dict[int, str] = {}
    async with engine.store.read() as tx:
        found = await tx.needs_in(who.grids, now - RECENT)
        people = {p.id: p for p in await tx.people()}
    for person in people.values():
        names[person.id] = person.name
    teams: dict[str, dict[str, list[Card]]] = {}
    for need in found:
        resident = people.get(need.person_id)
        if resident is None or not who.sees(resident.grid):
            continue
        handler = who.person if who.can_act else None
        may = handler is not None and needs.may_handle(resident, handler)
        column = need.state if need.state in ("open", "claimed") else "closed"
        card = Card(
            need=need,
            resident=resident,
            created=when(t, now, need.created_at, resident.timezone),
            claimed_by=names.get(need.claimed_by or 0, ""),
            closed_by=names.get(need.closed_by or 0, ""),
            may_claim=may and need.state == NeedState.OPEN,
            may_finish=may and need.state in (NeedState.OPEN, NeedState.CLAIMED),
        )
        teams.setdefault(need.team, {c: [] for c in COLUMNS})[column].append(card)
    config_teams = engine.config.teams
    shown = sorted(teams.items(), key=lambda kv: (kv[0] == "", kv[0]))
    team_names = {
        key: (config_teams[key].name or key) if key in config_teams else t("team_none")
        for key, _ in shown
    }
    return page(
        request,
        "needs.html",
        {
            "teams": shown,
            "team_names": team_names,
            "columns": COLUMNS,
            "why_not": "" if who.person is not None or not who.can_act else "needs_no_person",
            "notice": request.query.get("notice", "")[:300],
        },
    )


async def _act(request: web.Request, action: NeedState) -> web.Response:
    who = principal(request)
    engine = request.app[DEPS].engine
    need_id = int(request.match_info["need_id"])
    async with engine.store.read() as tx:
        need = await tx.need(need_id)
        resident = None if need is None else await tx.person(need.person_id)
    if need is None or resident is None or not who.sees(resident.grid):
        raise web.HTTPNotFound(text="no such need\n", content_type="text/plain")
    if not who.can_act or who.person is None:
        raise web.HTTPForbidden(
            text=labels(request)("needs_no_person") + "\n", content_type="text/plain"
        )
    async with engine.work() as work:
        text = await needs.act(work, need_id, who.person, action)
    raise web.HTTPSeeOther("/needs?" + urllib.parse.urlencode({"notice": text}))


async def claim(request: web.Request) -> web.Response:
    return await _act(request, NeedState.CLAIMED)


async def done(request: web.Request) -> web.Response:
    return await _act(request, NeedState.DONE)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/needs", needs_list),
        web.post("/needs/{need_id:\\d{1,12}}/claim", claim),
        web.post("/needs/{need_id:\\d{1,12}}/done", done),
    ]
