"""Invitation sheets from the console (`/invitations`): for a grid, or for chosen
people, a printable page of cards with new one-time codes (gateway/web/sheets.py).

The sheet opens in a tab of its own; when there is nothing to print (everyone chosen is
enrolled already) or a platform cannot be asked for its link, that tab shows the
invitations page again with the reason, in the account's language.
"""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.base import AdapterStartError
from core.records import Person
from gateway.web.deps import DEPS
from gateway.web.principal import principal
from gateway.web.render import labels, page
from gateway.web.sheets import make_cards, people_to_invite, render_sheet

log = logging.getLogger(__name__)

# One sheet at most this many cards: a street's worth is printed grid by grid.
MAX_CARDS = 400


def _inviter(request: web.Request) -> None:
    if not principal(request).can_invite:
        raise web.HTTPForbidden(
            text="read-only accounts do not invite\n", content_type="text/plain"
        )


async def _page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    who = principal(request)
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        grids = [g for g in await tx.grids() if who.sees(g)]
    everyone = await people_to_invite(engine, None, only_unenrolled=False)
    people: list[Person] = []
    enrolled = set()
    async with engine.store.read() as tx:
        for person in everyone:
            # Family contacts too: they belong where their resident lives.
            if not await who.sees_person(tx, person):
                continue
            people.append(person)
            if any(i.platform in engine.adapters for i in await tx.identities_of(person.id)):
                enrolled.add(person.id)
    return page(
        request,
        "invitations.html",
        {"grids": grids, "people": people, "enrolled": enrolled, "error": error},
        status=status,
    )


async def invitations(request: web.Request) -> web.Response:
    _inviter(request)
    return await _page(request)


async def sheet(request: web.Request) -> web.Response:
    _inviter(request)
    who = principal(request)
    t = labels(request)
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
        return await _page(request, t("invite_choose"), status=400)
    if not people:
        return await _page(request, t("invite_nobody"), status=400)
    if len(people) > MAX_CARDS:
        return await _page(request, t("invite_too_many", limit=MAX_CARDS), status=400)
    try:
        cards = await make_cards(engine, deps.settings, people)
    except AdapterStartError as exc:
        log.warning("invitation sheet: %s", exc)
        return await _page(request, t("invite_platform_failed", reason=exc), status=503)
    html = render_sheet(cards, who.language, engine.config.invite_ttl.days)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/invitations", invitations), web.post("/invitations/sheet", sheet)]
