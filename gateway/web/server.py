"""One aiohttp application: dashboard, local chat, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp import web

from adapters.local import LocalChatAdapter
from core.ids import chat_ref
from core.records import AlertState
from gateway import health
from gateway.engine import Engine
from gateway.status import today
from gateway.web import pages
from gateway.web.metrics import Metrics
from workflows.texts import ui
from workflows.timefmt import day_hm

ROLES = ("resident", "grid_leader", "care_lead", "family", "team_member", "operator")


@dataclass
class WebDeps:
    engine: Engine
    local: LocalChatAdapter | None
    metrics: Metrics
    language: str = "zh"


DEPS: web.AppKey[WebDeps] = web.AppKey("deps", WebDeps)


def build_web_app(deps: WebDeps, extra_routes: list[web.RouteDef] | None = None) -> web.Application:
    app = web.Application()
    app[DEPS] = deps
    app.add_routes(
        [
            web.get("/", dashboard),
            web.post("/rounds", start_round),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
        ]
    )
    if deps.local is not None:
        app.add_routes(
            [
                web.get("/chat", chat_picker),
                web.get("/chat/{person_id:\\d+}", chat_room),
                web.get("/chat/{person_id:\\d+}/history", chat_history),
                web.get("/chat/{person_id:\\d+}/events", chat_events),
                web.post("/chat/{person_id:\\d+}/send", chat_send),
                web.post("/chat/{person_id:\\d+}/press", chat_press),
            ]
        )
    if extra_routes:
        app.add_routes(extra_routes)
    return app


def _lang(request: web.Request) -> str:
    asked = request.query.get("lang")
    return asked if asked in ("zh", "en") else request.app[DEPS].language


async def dashboard(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    engine = deps.engine
    status = await today(engine.store, engine.clock.now(), engine.config.timezone)
    lang = _lang(request)
    texts = engine.texts
    alerts = []
    async with engine.store.read() as tx:
        for alert in await tx.unresolved_alerts():
            person = await tx.person(alert.person_id)
            if person is None:
                continue
            if alert.state is AlertState.ACKNOWLEDGED:
                acker = await tx.person(alert.acked_by) if alert.acked_by else None
                state = texts.render(lang, "state_acknowledged", who=acker.name if acker else "")
            else:
                state = texts.render(lang, "state_open")
            alerts.append(
                pages.AlertLine(
                    id=alert.id,
                    resident=person.name,
                    place=person.place or "-",
                    reason=texts.render(lang, f"reason_{alert.reason.value}"),
                    state=state,
                    opened=day_hm(alert.opened_at, person.timezone),
                    urgent=alert.urgent,
                )
            )
    notice = request.query.get("notice", "")
    return web.Response(
        text=pages.dashboard(status, alerts, lang, notice), content_type="text/html"
    )


async def start_round(request: web.Request) -> web.Response:
    engine = request.app[DEPS].engine
    try:
        form = await request.post()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="bad form") from exc
    result = await engine.start_round(emergency=form.get("emergency") == "1")
    lang = _lang(request)
    if result.deferred_until is not None and not result.opened:
        when = day_hm(result.deferred_until, engine.config.timezone)
        notice = ui(lang, "round_deferred", time=when)
    else:
        notice = ui(lang, "round_result", count=result.opened, skipped=result.skipped)
    raise web.HTTPSeeOther(f"/?{_query(notice=notice)}")


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


async def healthz(request: web.Request) -> web.Response:
    """200 "ok", or 503 with one line per problem (see gateway/health.py)."""
    found = await health.problems(request.app[DEPS].engine)
    return web.Response(
        text="\n".join(found or ["ok"]) + "\n",
        status=503 if found else 200,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    body = await deps.metrics.render(deps.engine)
    return web.Response(
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _role_names(engine: Engine, lang: str) -> dict[str, str]:
    return {role: engine.texts.render(lang, f"role_{role}") for role in ROLES}


async def chat_picker(request: web.Request) -> web.Response:
    engine = request.app[DEPS].engine
    async with engine.store.transaction() as tx:
        people = await tx.people()
    lang = _lang(request)
    order = {role: i for i, role in enumerate(ROLES)}
    people.sort(key=lambda p: (order.get(p.role, 99), p.id))
    return web.Response(
        text=pages.chat_picker(people, _role_names(engine, lang), lang), content_type="text/html"
    )


async def _chat_person(request: web.Request) -> tuple[WebDeps, LocalChatAdapter, int, str]:
    deps = request.app[DEPS]
    assert deps.local is not None
    person_id = int(request.match_info["person_id"])
    async with deps.engine.store.transaction() as tx:
        person = await tx.person(person_id)
        if person is None:
            raise web.HTTPNotFound(text="no such person")
        # Opening someone's chat reaches them here, the way an invite link would.
        platform = deps.local.platform
        if not any(i.platform == platform for i in await tx.identities_of(person.id)):
            await tx.bind_identity(
                person.id,
                platform,
                str(person.id),
                chat_ref(platform, person.id),
                deps.engine.clock.now(),
            )
    return deps, deps.local, person_id, person.name


async def chat_room(request: web.Request) -> web.Response:
    deps, _, person_id, _ = await _chat_person(request)
    async with deps.engine.store.transaction() as tx:
        person = await tx.person(person_id)
    assert person is not None
    lang = _lang(request)
    role = deps.engine.texts.render(lang, f"role_{person.role}")
    return web.Response(text=pages.chat_room(person, role, lang), content_type="text/html")


async def chat_history(request: web.Request) -> web.Response:
    _, local, person_id, _ = await _chat_person(request)
    return web.json_response([m.as_json() for m in local.history(str(person_id))])


async def chat_events(request: web.Request) -> web.StreamResponse:
    _, local, person_id, _ = await _chat_person(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue = local.subscribe(str(person_id))
    try:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=15)
                data = json.dumps(message.as_json(), ensure_ascii=False)
                await response.write(f"data: {data}\n\n".encode())
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        local.unsubscribe(str(person_id), queue)
    return response


async def chat_send(request: web.Request) -> web.Response:
    _, local, person_id, name = await _chat_person(request)
    payload = await request.json()
    text = str(payload.get("text", "")).strip()[:4000]
    reply_to = str(payload.get("reply_to", ""))[:64]
    if text:
        await local.post(str(person_id), text, name, reply_to)
    return web.json_response({"ok": True})


async def chat_press(request: web.Request) -> web.Response:
    _, local, person_id, name = await _chat_person(request)
    payload = await request.json()
    await local.press(
        str(person_id), str(payload.get("token", "")), str(payload.get("message_id", "")), name
    )
    return web.json_response({"ok": True})
