"""Today (`/`): one row per resident, problems first, live; and starting a round.

A row's state is read from the resident's latest check-in and open alert: help,
alerted, unreachable, missed, reminded, pending, answered — or paused (asked nothing:
`/stop`, or paused here) or away (a stay elsewhere, in hospital: `/away`, `carecheck
people away`), unless an alert is still open. Search and filters live in the URL, so a
filtered list can be bookmarked and reloads as it was.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from core.console import ResidentRow
from gateway.engine import Engine
from gateway.status import COLUMNS, day_bounds, today
from gateway.web.deps import CONSOLE, DEPS
from gateway.web.principal import Principal, principal
from gateway.web.render import Labels, ago, labels, page, when
from gateway.web.security import BadRequest
from workflows import outage
from workflows.early_warning import describe
from workflows.rounds import next_round
from workflows.summary import outage_line
from workflows.texts import ui
from workflows.timefmt import day_hm

# Problems first, in this order; the rest after.
STATES = (
    "help",
    "alerted",
    "unreachable",
    "missed",
    "reminded",
    "pending",
    "none",
    "away",
    "paused",
    "answered",
)
PROBLEMS = frozenset({"help", "alerted", "unreachable", "missed"})
# States no row can be in yet (not offered as filters).
NOT_YET: frozenset[str] = frozenset()
FILTERS = ("", "problems", *STATES)
MAX_QUERY = 100


@dataclass(frozen=True)
class Row:
    id: int
    name: str
    grid: str
    building: str
    state: str
    heard: str
    checkin: str
    next_checkin: str
    alert_id: int | None
    alert_urgent: bool
    needs: int
    enrolled: bool


def state_of(row: ResidentRow) -> str:
    if not row.active:
        return "paused"
    if row.alert_id is not None:
        return {"help": "help", "unreachable": "unreachable"}.get(row.alert_reason or "", "alerted")
    if row.away_until is not None:
        return "away"
    match row.checkin_state:
        case None:
            return "none"
        case "sent":
            return "reminded" if row.reminders_sent else "pending"
        case "ok":
            return "answered"
        case state:
            return state


@dataclass(frozen=True)
class Filters:
    q: str = ""
    grid: str = ""
    state: str = ""

    @classmethod
    def read(cls, query: Mapping[str, str], who: Principal) -> Filters:
        q = query.get("q", "").strip()[:MAX_QUERY]
        grid = query.get("grid", "")
        state = query.get("state", "")
        if state not in FILTERS:
            raise BadRequest(f"state must be one of: {', '.join(f for f in FILTERS if f)}")
        if grid and not who.sees(grid):
            grid = ""  # a grid one does not see filters to nothing, without saying so
        return cls(q, grid, state)

    def admits(self, row: Row) -> bool:
        if self.grid and row.grid != self.grid:
            return False
        if self.state == "problems" and row.state not in PROBLEMS:
            return False
        if self.state not in ("", "problems") and row.state != self.state:
            return False
        if self.q:
            needle = self.q.casefold()
            return needle in row.name.casefold() or needle in row.building.casefold()
        return True

    def query(self) -> str:
        shown = {k: v for k, v in (("q", self.q), ("grid", self.grid), ("state", self.state)) if v}
        return urllib.parse.urlencode(shown)


async def rows_for(request: web.Request, who: Principal, t: Labels) -> list[Row]:
    engine = request.app[DEPS].engine
    now = engine.clock.now()
    async with engine.store.read() as tx:
        found = await tx.resident_rows(who.grids, tuple(engine.adapters))
    nexts: dict[tuple[str, str], datetime | None] = {}
    rows = []
    for r in found:
        key = (r.plan, r.timezone)
        if key not in nexts:
            plan = engine.config.plans.get(r.plan)
            nexts[key] = None if plan is None else next_round(plan, r.timezone, now)
        upcoming = nexts[key] if r.active else None
        rows.append(
            Row(
                id=r.id,
                name=r.name,
                grid=r.grid,
                building=r.building,
                state=state_of(r),
                heard=ago(t, now, r.last_heard),
                checkin=when(t, now, r.checkin_due, r.timezone) if r.checkin_due else "—",
                next_checkin=when(t, now, upcoming, r.timezone),
                alert_id=r.alert_id,
                alert_urgent=r.alert_urgent,
                needs=r.open_needs,
                enrolled=r.reachable,
            )
        )
    rows.sort(key=lambda row: (STATES.index(row.state), row.grid, row.building, row.name))
    return rows


async def dashboard(request: web.Request) -> web.Response:
    who = principal(request)
    t = labels(request)
    filters = Filters.read(request.query, who)
    engine = request.app[DEPS].engine
    rows = await rows_for(request, who, t)
    status = await today(engine.store, engine.clock.now(), engine.config.timezone)
    flags = await request.app[CONSOLE].early_warning.get(
        engine.store, engine.config, engine.clock.now()
    )
    grids = [g for g in status.grids if who.sees(g.grid if g.grid != "-" else "")]
    shown = [row for row in rows if filters.admits(row)]
    open_alerts = sum(1 for row in rows if row.alert_id is not None)
    context = {
        "rows": shown,
        "total": len(rows),
        "filters": filters,
        "filter_states": [f for f in FILTERS[1:] if f not in NOT_YET],
        "grid_names": sorted({row.grid for row in rows}),
        "summary": grids,
        "columns": COLUMNS,
        "day": status.day,
        "open_alerts": open_alerts,
        "outbox": status.outbox_pending,
        "leaderless": [g for g in status.grids_without_leader if who.sees(g)],
        # Quiet flags, never a page (workflows/early_warning.py), in the reader's language.
        "early_warning": [
            describe(engine.texts, who.language, f) for f in flags if who.sees(f.grid)
        ],
        "outages": await _outages(engine, who.language),
        "notice": request.query.get("notice", "")[:300],
        "problems": PROBLEMS,
    }
    # htmx asks for the live part alone (a refresh, a search); a reload, a bookmark or
    # the history's restore gets the whole page.
    part = request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request"
    )
    template = "today_live.html" if part else "today.html"
    return page(request, template, context)


async def _outages(engine: Engine, language: str) -> list[str]:
    """Platforms out today (the outage guard), as the daily summary words them."""
    start, end, _ = day_bounds(engine.clock.now(), engine.config.timezone)
    async with engine.store.read() as tx:
        found = await outage.during(tx, start, end)
    return [outage_line(engine.texts, language, o, engine.config.timezone) for o in found]


async def start_round(request: web.Request) -> web.Response:
    who = principal(request)
    if not who.can_act:
        raise web.HTTPForbidden(text="viewers cannot start rounds\n", content_type="text/plain")
    engine = request.app[DEPS].engine
    form = await request.post()
    emergency = form.get("emergency") == "1"
    lang = who.language
    grids = who.grids
    opened = skipped = 0
    deferred: datetime | None = None
    for grid in [""] if grids is None else grids:
        result = await engine.start_round(grid=grid, emergency=emergency)
        opened += result.opened
        skipped += result.skipped
        if result.deferred_until is not None and not result.opened:
            deferred = result.deferred_until
    if deferred is not None and not opened:
        notice = ui(lang, "round_deferred", time=day_hm(deferred, engine.config.timezone))
    else:
        notice = ui(lang, "round_result", count=opened, skipped=skipped)
    raise web.HTTPSeeOther("/?" + urllib.parse.urlencode({"notice": notice}))
