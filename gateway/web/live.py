"""Live pages: the engine says "something changed" after each committed transaction;
each open page hears it over server-sent events and fetches its own part again.

The stream carries no data at all, only that something changed: what a page then
fetches is scoped like any other request, so the stream cannot show a grid leader
anything of another grid. Pages also poll now and then, for a browser or a proxy that
drops the stream (static/console.js).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp_sse import sse_response

from gateway.web.deps import CONSOLE

# A burst of changes (a round of answers) becomes one refresh per this many seconds.
COALESCE = 0.4
# How long a stream waits before it looks whether the page is still there.
IDLE = 15.0


class ChangeFeed:
    """A counter that goes up on every change, and a way to wait for it to."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()
        self.closed = False

    def notify(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        """Let every stream end (the server is shutting down)."""
        self.closed = True
        self.notify()

    async def wait_past(self, seen: int, at_most: float) -> int:
        """The version once it is past `seen`, or `seen` after `at_most` seconds."""
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(at_most):
                    await self._event.wait()
        return self.version


async def events(request: web.Request) -> web.StreamResponse:
    feed = request.app[CONSOLE].feed
    async with sse_response(request, sep="\n", ping_interval=IDLE) as stream:
        seen = feed.version
        try:
            await stream.send("ready", event="ready")
            while stream.is_connected() and not feed.closed:
                now = await feed.wait_past(seen, IDLE)
                if feed.closed:
                    break
                if now != seen:
                    seen = now
                    await stream.send(str(now), event="changed")
                    await asyncio.sleep(COALESCE)
        except ConnectionResetError:
            # The page went away (a click to another page, a closed tab) just as a change
            # was being said: the ordinary end of a stream, not an error to log.
            pass
    return stream
