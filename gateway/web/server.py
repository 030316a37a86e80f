"""One aiohttp application: the web console, the local chat, /healthz and /metrics.

The console's pages live in their own modules (today, alerts, people, needs, week,
settings, invitation sheets); its guards — errors as 400s, sessions, Host, Origin and
CSRF checks, logins — in gateway/web/security.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from adapters.local import LocalChatAdapter
from core.ids import chat_ref
from core.ports import Store
from core.records import Person
from gateway import health
from gateway.engine import Engine
from gateway.settings import Settings
from gateway.web import (
    alerts,
    auth,
    invitations,
    live,
    needs_page,
    people_page,
    person,
    render,
    settings_page,
    today,
    week,
)
from gateway.web.deps import CONSOLE, DEPS, WebDeps, base_url, console_for
from gateway.web.live import ChangeFeed
from gateway.web.principal import principal
from gateway.web.security import (
    STORAGE,
    BadRequest,
    errors,
    guard,
    security_headers,
    session_storage,
    sessions,
)
from workflows.web_login import BASE_URL_KEY

__all__ = ["DEPS", "WebDeps", "announce", "build_web_app"]

ROLES = ("resident", "grid_leader", "care_lead", "family", "team_member", "operator")
STATIC = Path(__file__).parent / "static"
# A people CSV of a whole street fits; a pasted film does not.
MAX_BODY = 8 * 1024 * 1024
MAX_CHAT_TEXT = 4000


def build_web_app(deps: WebDeps, extra_routes: list[web.RouteDef] | None = None) -> web.Application:
    console = console_for(deps.settings, ChangeFeed())
    app = web.Application(middlewares=[errors, sessions, guard], client_max_size=MAX_BODY)
    app[DEPS] = deps
    app[CONSOLE] = console
    render.setup(app)
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_response_prepare.append(security_headers)
    app.router.add_static("/static/", STATIC)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
            web.get("/login", auth.login_form),
            web.post("/login", auth.login_submit),
            web.get("/login/link/{token:[A-Za-z0-9_-]{16,128}}", auth.link_form),
            web.post("/login/link/{token:[A-Za-z0-9_-]{16,128}}", auth.link_submit),
            web.post("/logout", auth.logout),
            web.post("/lang", auth.switch_language),
            web.get("/events", live.events),
            web.get("/", today.dashboard),
            web.post("/rounds", today.start_round),
            *alerts.routes(),
            *person.routes(),
            *needs_page.routes(),
            *people_page.routes(),
            *invitations.routes(),
            *week.routes(),
            *settings_page.routes(),
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
        # An adapter's own routes (a webhook) check their own secret: no login, no CSRF.
        console.public.update(route.path for route in extra_routes)
        app.add_routes(extra_routes)
    return app


async def _startup(app: web.Application) -> None:
    deps, console = app[DEPS], app[CONSOLE]
    app[STORAGE] = await session_storage(deps.engine.store, console.secure_cookies)
    deps.engine.on_change.append(console.feed.notify)


async def _shutdown(app: web.Application) -> None:
    deps, console = app[DEPS], app[CONSOLE]
    if console.feed.notify in deps.engine.on_change:
        deps.engine.on_change.remove(console.feed.notify)
    console.feed.close()


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


# -- the local chat (demo and training) -------------------------------------------------


def _role_names(engine: Engine, lang: str) -> dict[str, str]:
    return {role: engine.texts.render(lang, f"role_{role}") for role in ROLES}


def _chat_allowed(request: web.Request) -> None:
    # Acting as anyone is an operator's tool once accounts exist.
    if not principal(request).is_operator:
        raise web.HTTPForbidden(text="the local chat is for operators\n", content_type="text/plain")


async def chat_picker(request: web.Request) -> web.Response:
    _chat_allowed(request)
    engine = request.app[DEPS].engine
    async with engine.store.read() as tx:
        people = await tx.people()
    lang = principal(request).language
    order = {role: i for i, role in enumerate(ROLES)}
    people.sort(key=lambda p: (order.get(p.role, 99), p.id))
    names = _role_names(engine, lang)
    listed = [(p, names.get(p.role, p.role)) for p in people]
    return render.page(request, "chat_picker.html", {"people": listed})


async def _chat_person(request: web.Request) -> tuple[WebDeps, LocalChatAdapter, Person]:
    _chat_allowed(request)
    deps = request.app[DEPS]
    assert deps.local is not None
    person_id = int(request.match_info["person_id"])
    async with deps.engine.store.transaction() as tx:
        person = await tx.person(person_id)
        if person is None:
            raise web.HTTPNotFound(text="no such person\n", content_type="text/plain")
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
    return deps, deps.local, person


async def chat_room(request: web.Request) -> web.Response:
    deps, _, person = await _chat_person(request)
    lang = principal(request).language
    role = deps.engine.texts.render(lang, f"role_{person.role}")
    return render.page(request, "chat_room.html", {"person": person, "role": role})


async def chat_history(request: web.Request) -> web.Response:
    _, local, person = await _chat_person(request)
    return web.json_response([m.as_json() for m in local.history(str(person.id))])


async def chat_events(request: web.Request) -> web.StreamResponse:
    _, local, person = await _chat_person(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    # Subscribed before the page hears that the stream is open (it then reads the
    # history): nothing sent in between is lost.
    queue = local.subscribe(str(person.id))
    feed = request.app[CONSOLE].feed
    try:
        await response.prepare(request)
        while not feed.closed:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=15)
                data = json.dumps(message.as_json(), ensure_ascii=False)
                await response.write(f"data: {data}\n\n".encode())
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        local.unsubscribe(str(person.id), queue)
    return response


async def _json_object(request: web.Request) -> dict[str, object]:
    try:
        payload = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    return payload


async def chat_send(request: web.Request) -> web.Response:
    _, local, person = await _chat_person(request)
    payload = await _json_object(request)
    text = str(payload.get("text", "")).strip()[:MAX_CHAT_TEXT]
    reply_to = str(payload.get("reply_to", ""))[:64]
    if text:
        await local.post(str(person.id), text, person.name, reply_to)
    return web.json_response({"ok": True})


async def chat_press(request: web.Request) -> web.Response:
    _, local, person = await _chat_person(request)
    payload = await _json_object(request)
    await local.press(
        str(person.id),
        str(payload.get("token", ""))[:512],
        str(payload.get("message_id", ""))[:64],
        person.name,
    )
    return web.json_response({"ok": True})


async def announce(store: Store, settings: Settings, port: int) -> str:
    """Keep the console's address in the store, where the `/web` chat command reads it
    to make login links (whichever instance answers the chat)."""
    url = base_url(settings, port)
    async with store.transaction() as tx:
        await tx.kv_set(BASE_URL_KEY, url)
    return url
