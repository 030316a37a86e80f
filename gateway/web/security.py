"""The console's guards, as middlewares, outermost first:

1. `errors`: a bad request gets 400 with one short line, anything else that goes
   wrong 500 with one short line (the traceback goes to the log, never to the client).
2. `sessions`: an encrypted, signed cookie (aiohttp-session's EncryptedCookieStorage,
   Fernet); its key is made once per database and kept in the store, like the key that
   signs chat buttons, so every instance and every restart reads the same cookies.
3. `guard`: for everything but health, metrics, sensor pings, static files and the
   adapters' own routes — the Host must be one of ours (a page on another site that
   resolves its name to 127.0.0.1 must not read the console: DNS rebinding); every
   POST must come from our own origin and carry the session's CSRF token; and a
   login is needed as soon as one account exists. With no account at all the console
   is open, but only while it listens on loopback and the request comes from there.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from core.console import WebUser
from core.ports import Store
from gateway.web.deps import CONSOLE, DEPS, Console, is_loopback
from gateway.web.principal import CHOSEN_LANGUAGE, PRINCIPAL, Principal
from gateway.web.render import base_context, labels, page

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_KEY = "web.session_key"
COOKIE = "carecheck_session"
# A session lasts a working day; the account's `generation` ends it earlier.
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that need no login (but are otherwise guarded like the console).
LOGIN_PATHS = ("/login", "/logout", "/lang")
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class BadRequest(web.HTTPBadRequest):
    """400 with a short plain-text reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=reason + "\n", content_type="text/plain")


class Refused(web.HTTPForbidden):
    """403 with a short plain-text reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=reason + "\n", content_type="text/plain")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except (ValueError, UnicodeError, json.JSONDecodeError) as exc:
            # Malformed input that a handler did not name itself: still the client's.
            log.info("bad request %s %s: %s", request.method, request.path, exc)
            raise BadRequest("bad request") from None
        except ConnectionResetError:
            raise
        except Exception:
            log.exception("request %s %s failed", request.method, request.path)
            raise web.HTTPInternalServerError(
                text="internal error (see the gateway's log)\n", content_type="text/plain"
            ) from None
    except web.HTTPException as refused:
        if not _shown_as_page(request, refused):
            raise
        return await _error_page(request, refused)


def _shown_as_page(request: web.Request, refused: web.HTTPException) -> bool:
    """A person in a browser (a page, or a form sent from one) reads a refusal as a
    page in their language; scripts, htmx and the chat page's calls keep the short
    plain-text line."""
    return (
        refused.status >= 400
        and refused.content_type == "text/plain"
        and "text/html" in request.headers.get("Accept", "")
        and not request.headers.get("HX-Request")
        and not is_public(request.path, request.app[CONSOLE])
    )


async def _error_page(request: web.Request, refused: web.HTTPException) -> web.StreamResponse:
    t = labels(request)
    kind = str(refused.status) if refused.status in (400, 401, 403, 404) else "other"
    return page(
        request,
        "error.html",
        {
            "heading": t(f"error_{kind}"),
            "advice": t(f"error_advice_{kind}"),
            "detail": (refused.text or "").strip(),
            "csrf": "",
            # Refused before the page's own context was made (Host, Origin, CSRF).
            **await base_context(request),
        },
        status=refused.status,
    )


async def session_storage(store: Store, secure: bool) -> EncryptedCookieStorage:
    async with store.transaction() as tx:
        # One key for every instance of a shared database: a session made by one of
        # them is read by the others.
        key = await tx.kv_setdefault(SESSION_KEY, Fernet.generate_key().decode())
    return EncryptedCookieStorage(
        # A Fernet, not the key's bytes: aiohttp-session would base64 the bytes again.
        Fernet(key.encode()),
        cookie_name=COOKIE,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    storage = request.app[STORAGE]
    middleware = aiohttp_session.session_middleware(storage)
    return await middleware(request, handler)


STORAGE: web.AppKey[EncryptedCookieStorage] = web.AppKey("storage", EncryptedCookieStorage)


def is_public(path: str, console: Console) -> bool:
    return path in console.public or path.startswith(console.public_prefixes)


def check_host(request: web.Request, console: Console) -> None:
    if not console.hosts:
        return
    name = (urllib.parse.urlsplit(f"//{request.host}").hostname or "").lower()
    if name not in console.hosts:
        raise BadRequest(f"unknown host {name!r}: open the console by its own address")


def check_origin(request: web.Request, console: Console) -> None:
    """A POST must come from a page of ours: the Origin header (or, without one, the
    Referer) names our own scheme, host and port."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        referer = request.headers.get("Referer", "")
        parts = urllib.parse.urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
    if origin is None:
        raise Refused("refused: a form must be sent from the console's own pages")
    own = f"{request.scheme}://{request.host}".lower()
    if origin.lower() != own and origin.lower() not in console.origins:
        raise Refused("refused: this form was sent from another site")


async def check_csrf(request: web.Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD, "")
        given = value if isinstance(value, str) else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused("refused: the form has expired or did not come from this console; reload")


async def current_user(store: Store, session: aiohttp_session.Session) -> WebUser | None:
    uid, generation = session.get("uid"), session.get("gen")
    if not isinstance(uid, int) or not isinstance(generation, int):
        return None
    async with store.read() as tx:
        user = await tx.web_user_by_id(uid)
    if user is None or not user.active or user.generation != generation:
        return None
    return user


async def make_principal(
    request: web.Request, session: aiohttp_session.Session, csrf: str
) -> Principal | None:
    """The principal for this request, or None when a login is needed."""
    deps, console = request.app[DEPS], request.app[CONSOLE]
    store = deps.engine.store
    language = session.get("lang")
    async with store.read() as tx:
        accounts = await tx.count_web_users()
    if accounts == 0:
        if console.loopback and is_loopback(request.remote or ""):
            lang = language if language in ("zh", "en") else deps.language
            return Principal(user=None, person=None, language=lang, csrf=csrf)
        return None
    user = await current_user(store, session)
    if user is None:
        return None
    person = None
    if user.person_id is not None:
        async with store.read() as tx:
            person = await tx.person(user.person_id)
    lang = language if language in ("zh", "en") else user.language
    return Principal(user=user, person=person, language=lang, csrf=csrf)


def csrf_token(session: aiohttp_session.Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = request.app[CONSOLE]
    if is_public(request.path, console):
        return await handler(request)
    check_host(request, console)
    session = await aiohttp_session.get_session(request)
    csrf = csrf_token(session)
    if session.get("lang") in ("zh", "en"):
        request[CHOSEN_LANGUAGE] = str(session["lang"])
    if request.method not in SAFE_METHODS:
        check_origin(request, console)
        await check_csrf(request, csrf)
    found = await make_principal(request, session, csrf)
    if found is None:
        if request.path.startswith(LOGIN_PATHS):
            return await handler(request)
        raise login_needed(request)
    request[PRINCIPAL] = found
    return await handler(request)


def login_needed(request: web.Request) -> web.HTTPException:
    if request.method == "GET" and not request.headers.get("HX-Request"):
        target = request.path_qs
        return web.HTTPSeeOther("/login?" + urllib.parse.urlencode({"next": target}))
    # htmx follows HX-Redirect with a full page load; other clients read the 401.
    return web.HTTPUnauthorized(
        text="log in first\n", content_type="text/plain", headers={"HX-Redirect": "/login"}
    )


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if is_public(request.path, request.app[CONSOLE]) and not request.path.startswith("/static/"):
        return
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
