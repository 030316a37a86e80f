"""Sensor pings: `GET`, `HEAD` or `POST /ping/<token>` on the gateway's web server is a
sign of life for the resident the token belongs to (Healthchecks-style).

Each call is handed to the inbox (stored before it is answered 200, so a crash loses
nothing) as a `SignOfLife`; its event id is the caller's `Idempotency-Key` when it
sends one (a retried call counts once), else drawn fresh. An unknown token gets the
same 404 as an unknown page. Calls are limited per address (checked first, so a flood
of guesses never reaches the database) and per token. Tokens are looked up by their
sha256 and never logged in full.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import web

from adapters.base import AdapterContext, DeliveryError, Rate, RateLimits
from core.commands import Delivery
from core.events import Sender, SignOfLife
from core.ids import ChatRef, chat_ref
from core.pings import TOKEN_KEY, TOKEN_PATTERN, digest, shown

log = logging.getLogger(__name__)

NAME = "ping"
PER_TOKEN = Rate(12, 60.0)
PER_ADDRESS = Rate(120, 60.0)
MAX_BODY = 4096
MAX_LITRES = 1_000_000.0
# Keys remembered by the limiter before old ones are forgotten.
FORGET_OVER = 10_000


class SlidingLimit:
    """At most `rate.count` calls per key in any `rate.per_seconds`."""

    def __init__(self, rate: Rate, monotonic: Callable[[], float]) -> None:
        self.rate = rate
        self._monotonic = monotonic
        self._calls: dict[str, deque[float]] = {}

    def wait(self, key: str) -> float:
        """0 and counted when the call may go; otherwise the seconds until it may."""
        now = self._monotonic()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - self.rate.per_seconds:
            calls.popleft()
        if len(calls) >= self.rate.count:
            return calls[0] + self.rate.per_seconds - now
        calls.append(now)
        if len(self._calls) > FORGET_OVER:
            edge = now - self.rate.per_seconds
            self._calls = {k: c for k, c in self._calls.items() if c and c[-1] > edge}
        return 0.0


class PingAdapter:
    platform = NAME
    limits = RateLimits()
    # A ping is stored in the inbox by whichever instance the request reaches.
    every_instance = True
    resends_deduplicated = False

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._per_token = SlidingLimit(PER_TOKEN, monotonic)
        self._per_address = SlidingLimit(PER_ADDRESS, monotonic)
        self._context: AdapterContext | None = None
        # Event ids of calls without an Idempotency-Key: unique across restarts.
        self._boot = secrets.token_hex(4)

    async def start(self, context: AdapterContext) -> None:
        self._context = context

    async def stop(self) -> None:
        self._context = None

    async def deliver(self, delivery: Delivery) -> str:
        raise DeliveryError("a ping URL cannot be written to", permanent=True)

    def is_group(self, chat: ChatRef) -> bool:
        return False

    def routes(self) -> Sequence[web.RouteDef]:
        path = f"/ping/{{token:{TOKEN_PATTERN}}}"
        # GET routes answer HEAD too.
        return [web.get(path, self.ping), web.post(path, self.ping)]

    async def ping(self, request: web.Request) -> web.StreamResponse:
        if self._context is None:
            raise web.HTTPServiceUnavailable(text="starting\n")
        address = request.remote or "-"
        wait = self._per_address.wait(address)
        if wait > 0:
            return _too_many(wait)
        token = request.match_info["token"]
        hashed = digest(token)
        person = await self._context.state.get(TOKEN_KEY + hashed)
        if not person:
            log.info("ping with an unknown token %s from %s", shown(token), address)
            raise web.HTTPNotFound()  # the same answer as any unknown page
        wait = self._per_token.wait(hashed)
        if wait > 0:
            return _too_many(wait)
        litres = await _reading(request)
        key = request.headers.get("Idempotency-Key", "").strip()[:64]
        event_id = f"{hashed[:16]}:{key}" if key else f"{self._boot}:{secrets.token_hex(8)}"
        event = SignOfLife(
            event_id=event_id,
            sender=Sender(NAME, person, chat_ref(NAME, person)),
            chat=chat_ref(NAME, person),
            water_litres=litres,
        )
        await self._context.inbox.receive(event)
        return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def _reading(request: web.Request) -> float | None:
    """`water_litres` from a JSON body or the query string (for devices that can only
    call a URL); None when the call carries none. A reading that is not a number
    is refused with 400, so a broken bridge is noticed rather than counted."""
    raw: object = request.query.get("water_litres")
    if request.method == "POST" and request.can_read_body:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY, len(body))
        if body.strip():
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise web.HTTPBadRequest(text="the body is not JSON\n") from None
            if isinstance(data, dict) and "water_litres" in data:
                raw = data["water_litres"]
    if raw is None:
        return None
    litres = math.nan
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        with contextlib.suppress(ValueError):  # not a number: NaN stays, refused below
            litres = float(raw)
    if not 0 <= litres <= MAX_LITRES:  # NaN fails too
        raise web.HTTPBadRequest(text="water_litres must be a number of litres\n")
    return litres


def _too_many(wait: float) -> web.Response:
    return web.Response(
        status=429, text="too many pings\n", headers={"Retry-After": str(math.ceil(wait))}
    )
