"""Logging in and out: `GET/POST /login` (fields `username` and `password`), the
one-time links the `/web` chat command sends (`/login/link/<token>`), `POST /logout`,
and the language switch.

Five failed logins within 15 minutes, for one account or from one address, and
further attempts are refused (before the password is even checked) until the oldest
of them is 15 minutes old. A login starts a fresh session (a session id fixed by
someone else before the login is worth nothing after it).
"""

from __future__ import annotations

import logging
import urllib.parse

import aiohttp_session
from aiohttp import web

from core.console import login_link_hash
from gateway import users
from gateway.web.deps import CONSOLE, DEPS
from gateway.web.render import labels, page
from gateway.web.security import csrf_token, make_principal
from workflows.timefmt import hm

log = logging.getLogger(__name__)


def safe_next(target: str) -> str:
    """Where to go after logging in: a path of ours, never another site."""
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target:
        return "/"
    return target


async def login_form(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    csrf = csrf_token(session)
    found = await make_principal(request, session, csrf)
    if found is not None and found.user is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next", "/")))
    return await _login_page(request, csrf, error="")


async def _login_page(
    request: web.Request, csrf: str, error: str, status: int = 200
) -> web.Response:
    deps = request.app[DEPS]
    async with deps.engine.store.read() as tx:
        accounts = await tx.count_web_users()
    return page(
        request,
        "login.html",
        {
            "csrf": csrf,
            "error": error,
            "next": safe_next(request.query.get("next", "/")),
            "no_accounts": accounts == 0,
            "open_here": accounts == 0 and request.app[CONSOLE].loopback,
        },
        status=status,
    )


async def login_submit(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    store, now = deps.engine.store, deps.engine.clock.now()
    form = await request.post()
    username = users.normalise_username(str(form.get("username", ""))[:200])
    password = str(form.get("password", ""))
    address = request.remote or ""
    session = await aiohttp_session.get_session(request)
    csrf = csrf_token(session)
    t = labels(request)
    throttle = await users.login_throttle(store, username, address, now)
    if throttle is not None:
        minutes = max(1, int((throttle.until - now).total_seconds() + 59) // 60)
        time = hm(throttle.until, deps.engine.config.timezone)
        log.warning("login refused (throttled) for %r from %s", username, address)
        error = t("login_throttled", minutes=minutes, time=time)
        return await _login_page(request, csrf, error, status=429)
    async with store.read() as tx:
        user = await tx.web_user(username) if username else None
    if not await users.password_matches(user, password) or user is None or not user.active:
        async with store.transaction() as tx:
            await tx.add_login_failure(username, address, now)
        log.info("failed login for %r from %s", username, address)
        return await _login_page(request, csrf, t("login_failed"), status=401)
    # A hash made with older parameters is made again now that the password is known
    # (which ends the account's other sessions: rare, and harmless).
    rehashed = await users.hash_password(password) if users.needs_rehash(user) else None
    generation = user.generation
    async with store.transaction() as tx:
        await tx.clear_login_failures(user.username)
        if rehashed is not None:
            await tx.set_web_password(user.id, rehashed)
            generation += 1
        await tx.audit(now, "web.login", f"web_user:{user.id}", user.person_id, address)
    await _start_session(request, user.id, generation)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))


async def _start_session(request: web.Request, user_id: int, generation: int) -> None:
    old = await aiohttp_session.get_session(request)
    language = old.get("lang")
    session = await aiohttp_session.new_session(request)
    session["uid"] = user_id
    session["gen"] = generation
    if language in ("zh", "en"):
        session["lang"] = language
    csrf_token(session)


async def logout(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login")


async def link_form(request: web.Request) -> web.Response:
    # A GET only shows a button: link previews (a chat app fetching the URL to show a
    # card) must not spend the one use.
    session = await aiohttp_session.get_session(request)
    return page(
        request,
        "login_link.html",
        {"csrf": csrf_token(session), "token": request.match_info["token"], "error": ""},
    )


async def link_submit(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    store, now = deps.engine.store, deps.engine.clock.now()
    token = request.match_info["token"]
    async with store.transaction() as tx:
        user_id = await tx.spend_login_link(login_link_hash(token), now)
        user = None if user_id is None else await tx.web_user_by_id(user_id)
        if user is not None and user.active:
            await tx.audit(now, "web.login_link", f"web_user:{user.id}", user.person_id)
    if user is None or not user.active:
        session = await aiohttp_session.get_session(request)
        return page(
            request,
            "login_link.html",
            {"csrf": csrf_token(session), "token": "", "error": labels(request)("link_invalid")},
            status=410,
        )
    await _start_session(request, user.id, user.generation)
    raise web.HTTPSeeOther("/")


async def switch_language(request: web.Request) -> web.Response:
    form = await request.post()
    language = str(form.get("lang", ""))
    if language not in ("zh", "en"):
        raise web.HTTPBadRequest(text="lang must be zh or en\n", content_type="text/plain")
    session = await aiohttp_session.get_session(request)
    session["lang"] = language
    raise web.HTTPSeeOther(safe_next(str(form.get("back", "/"))))
