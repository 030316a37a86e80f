"""Local fakes of what outbound-only channels post to, on 127.0.0.1 and a free port: a
WeCom group robot API that keeps its 20-a-minute limit per robot (on a clock the test
moves), and a webhook receiver that records what it got."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeRobots:
    keys: set[str]
    monotonic: Callable[[], float]
    per_minute: int = 20
    posts: list[tuple[str, str]] = field(default_factory=list)  # (key, markdown)
    refused: int = 0
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def use_up(self, key: str) -> None:
        """Someone else's messages filled this robot's minute."""
        self._sent[key] = deque([self.monotonic()] * self.per_minute)

    async def send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key not in self.keys:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = await request.json()
        now = self.monotonic()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= self.per_minute:
            self.refused += 1
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        assert body["msgtype"] == "markdown"
        sent.append(now)
        self.posts.append((key, body["markdown"]["content"]))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@dataclass
class FakeReceiver:
    """Answers each post with the next status of `answers` (then 200)."""

    answers: list[int] = field(default_factory=list)
    got: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        self.got.append((await request.read(), dict(request.headers)))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text=json.dumps({"status": status}))


@asynccontextmanager
async def serving(*routes: web.RouteDef) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: Any = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
