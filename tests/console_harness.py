"""A web console on a real SQLite file and the real engine, served on 127.0.0.1 port 0,
and visitors that talk to it as a browser would: each with its own cookies, sending
the page's CSRF token and our Origin unless a test says otherwise."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from core.config import WorkflowConfig
from core.console import WebRole
from core.ids import chat_ref
from core.records import Person
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.people import import_people
from gateway.settings import Settings
from gateway.users import add_user
from gateway.web.metrics import Metrics
from gateway.web.server import WebDeps, announce, build_web_app
from store.sqlite import Store
from tests.fakes import RecordingAdapter

# 08:30 in Shanghai on a Monday.
START = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
李网格,grid_leader,G1,3栋,zh,,13800000001,,,,
Leader Other,grid_leader,G2,9栋,en,,13800000009,,,,
张组长,care_lead,G1,,zh,,13800000002,,,,
王秀英,resident,G1,3栋,zh,,13800000011,3栋402,,,
陈德福,resident,G1,3栋,zh,,13800000012,3栋201,,,
Zhao Other,resident,G2,9栋,en,,13800000013,9-101,,,
"""

CSRF = re.compile(r'name="csrf-token" content="([^"]*)"')


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Visitor:
    """One browser: its cookie jar, the CSRF token of the last page it read."""

    def __init__(self, base: str) -> None:
        self.base = base
        # unsafe: cookies for an IP address (127.0.0.1), as browsers keep them.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str, **headers: str) -> Answer:
        async with self.http.get(
            self.base + path, allow_redirects=False, headers=headers
        ) as response:
            text = await response.text()
            found = CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return Answer(response.status, text, dict(response.headers))

    async def post(
        self,
        path: str,
        data: dict[str, str] | aiohttp.FormData | None = None,
        *,
        csrf: str | None = None,
        origin: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        sent.setdefault("Origin", self.origin if origin is None else origin)
        if not sent["Origin"]:
            del sent["Origin"]
        token = self.csrf if csrf is None else csrf
        if json is not None:
            sent.setdefault("X-CSRF-Token", token)
            body: Any = None
        elif isinstance(data, aiohttp.FormData):
            data.add_field("csrf", token)
            body = data
        else:
            body = {"csrf": token, **(data or {})}
        async with self.http.post(
            self.base + path, data=body, json=json, allow_redirects=False, headers=sent
        ) as response:
            text = await response.text()
            return Answer(response.status, text, dict(response.headers))

    async def login(self, username: str, password: str = PASSWORD) -> Answer:
        await self.get("/login")
        answer = await self.post("/login", {"username": username, "password": password})
        if answer.status == 303:
            await self.get("/")
        return answer


class Console:
    def __init__(self, tmp: Path, *, host: str = "127.0.0.1", base_url: str = "") -> None:
        self.store = Store(tmp / "console.db")
        self.clock = FakeClock(START)
        self.config: WorkflowConfig = parse_config(builtin_config_text())
        self.adapter = RecordingAdapter()
        self.engine = Engine(self.store, self.clock, self.config, {"test": self.adapter})
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            db=str(tmp / "console.db"),
            config=tmp / "absent.yaml",
            web_host=host,
            web_port=0,
            web_base_url=base_url,
        )
        self.runner: web.AppRunner | None = None
        self.base = ""
        self.visitors: list[Visitor] = []

    async def start(self, people: str = PEOPLE) -> None:
        await self.store.open()
        if people:
            await import_people(self.store, self.config, people, START)
            async with self.store.transaction() as tx:
                for person in await tx.people():
                    chat = chat_ref("test", person.id)
                    await tx.bind_identity(person.id, "test", str(person.id), chat, START)
        await self.engine.prepare()
        await self.engine.start_receiving()
        app = build_web_app(WebDeps(self.engine, None, Metrics(), settings=self.settings))
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = getattr(site, "_server", None)
        port = server.sockets[0].getsockname()[1] if server else 0
        self.base = f"http://127.0.0.1:{port}"
        await announce(self.store, self.settings, port)

    async def stop(self) -> None:
        for visitor in self.visitors:
            await visitor.close()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.engine.stop()
        await self.store.close()

    def visitor(self) -> Visitor:
        visitor = Visitor(self.base)
        self.visitors.append(visitor)
        return visitor

    async def add_user(
        self,
        username: str,
        role: WebRole,
        *,
        grids: tuple[str, ...] = (),
        person: str = "",
        password: str = PASSWORD,
    ) -> None:
        await add_user(
            self.store, self.clock.now(), username, password, role, grids=list(grids), person=person
        )

    async def person(self, name: str) -> Person:
        async with self.store.read() as tx:
            found = await tx.person_by_name(name)
        assert found is not None, name
        return found

    async def settle(self) -> None:
        await self.engine.run_until_idle()

    async def say(self, name: str, text: str) -> None:
        await self.adapter.say(str((await self.person(name)).id), text)
        await self.settle()

    async def advance(self, delta: timedelta) -> None:
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + timedelta(minutes=1)))
            await self.settle()


async def running(tmp: Path, **kw: str) -> AsyncIterator[Console]:
    console = Console(tmp, **kw)
    await console.start()
    try:
        yield console
    finally:
        await console.stop()
