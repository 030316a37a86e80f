"""Invitation sheets from the console (`/invitations`): for a grid, or for chosen
people, a printable page of cards with new one-time codes (gateway/web/sheets.py)."""

from __future__ import annotations

from aiohttp import web

from gateway.web.deps import DEPS
from gateway.web.principal import principal
from gateway.web.render import page
from gateway.web.security import BadRequest
from gateway.web.sheets import make_cards, people_to_invite, render_sheet

# One sheet at most this many cards: a street's worth is printed grid by grid.
MAX_CARDS = 400


def _inviter(request: web.Request) -> None:
    if not principal(request).can_invite:
        raise web.HTTPForbidden(
            text="read-only accounts do not invite\n", content_type="text/plain"
        )


async def invitations(request: web.Request) -> web.Response:
    _inviter(request)
    who = principal(request)
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        grids = [g for g in await tx.grids() if who.sees(g)]
    people = [
        p
        for p in await people_to_invite(engine, None, only_unenrolled=False)
        if p.grid and who.sees(p.grid)
    ]
    async with engine.store.read() as tx:
        enrolled = {
            p.id
            for p in people
            if any(i.platform in engine.adapters for i in await tx.identities_of(p.id))
        }
    return page(
        request,
        "invitations.html",
        {"grids": grids, "people": people, "enrolled": enrolled},
    )


async def sheet(request: web.Request) -> web.Response:
    _inviter(request)
    who = principal(request)
    deps = request.app[DEPS]
    engine = deps.engine
    form = await request.post()
    only_unenrolled = form.get("only_unenrolled") == "1"
    grid = str(form.get("grid", ""))
    ids = {int(v) for v in form.getall("person", []) if isinstance(v, str) and v.isdigit()}
    if grid:
        if not who.sees(grid):
            raise web.HTTPNotFound(text="no such grid\n", content_type="text/plain")
        people = await people_to_invite(engine, grid, only_unenrolled=only_unenrolled)
    elif ids:
        chosen = await people_to_invite(
            engine, None, only_unenrolled=only_unenrolled, ids=list(ids)
        )
        async with engine.store.read() as tx:
            people = [p for p in chosen if await who.sees_person(tx, p)]
        if len(people) != len(chosen):
            raise web.HTTPNotFound(text="no such person\n", content_type="text/plain")
    else:
        raise BadRequest("choose a grid or some people")
    if not people:
        raise BadRequest("nobody to invite (everyone chosen is enrolled already)")
    if len(people) > MAX_CARDS:
        raise BadRequest(f"at most {MAX_CARDS} cards at once: choose fewer people")
    cards = await make_cards(engine, deps.settings, people)
    html = render_sheet(cards, who.language, engine.config.invite_ttl.days)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/invitations", invitations), web.post("/invitations/sheet", sheet)]
