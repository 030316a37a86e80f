"""The composition root: settings → config → store → adapters → engine → web."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.base import Adapter, AdapterStartError, PlatformDeps, ReceiveHealth
from adapters.local import LocalChatAdapter
from core.config import WorkflowConfig
from core.ports import Store, StoreOpenError
from gateway.clock import Clock, ScaledClock, SystemClock
from gateway.config import load_config
from gateway.database import create_store
from gateway.demo import seed_demo
from gateway.engine import Engine
from gateway.platforms import enabled_platforms
from gateway.settings import Settings
from gateway.web.deps import base_url
from gateway.web.metrics import Metrics
from gateway.web.server import WebDeps, announce, build_web_app

log = logging.getLogger(__name__)

CHECKPOINT_MINUTES = 10


class StartupError(Exception):
    """Something an operator must fix before the gateway can run: one clear line.
    `exit_code` is what `carecheck run` exits with (2: the configuration is wrong)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StoredDeadLetters:
    """Where the adapters set aside updates they cannot read: a row each, kept for an
    operator and counted in /metrics."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def dead_letter(self, platform: str, ref: str, raw: str, reason: str) -> None:
        async with self.store.transaction() as tx:
            await tx.add_dead_letter(platform, ref, raw, reason, self.clock.now())


def make_clock(settings: Settings) -> Clock:
    return ScaledClock(settings.demo_speed) if settings.demo_speed != 1 else SystemClock()


def build_adapters(
    settings: Settings, store: Store, config: WorkflowConfig, clock: Clock | None = None
) -> dict[str, Adapter]:
    """One adapter per platform the settings turn on, built by its platform."""
    clock = clock or SystemClock()
    clock_now = clock.now
    dead_letters = StoredDeadLetters(store, clock)

    async def invites_open() -> bool:
        async with store.read() as tx:
            return await tx.has_open_person_invites(clock_now())

    def known_on(platform: str) -> Callable[[str], Awaitable[bool]]:
        async def is_known(address: str) -> bool:
            async with store.read() as tx:
                return await tx.identity(platform, address) is not None

        return is_known

    adapters: dict[str, Adapter] = {}
    for platform in enabled_platforms(settings):
        deps = PlatformDeps(
            dead_letters=dead_letters,
            is_known=known_on(platform.name),
            invites_open=invites_open,
            invite_policy=config.invite_policy,
            console_url=base_url(settings),
        )
        try:
            adapters[platform.name] = platform.build(settings, deps)
        except AdapterStartError as exc:  # settings that cannot work, named
            raise StartupError(str(exc)) from None
    return adapters


@dataclass
class Gateway:
    settings: Settings
    config: WorkflowConfig
    clock: Clock
    store: Store
    engine: Engine
    local: LocalChatAdapter | None
    runner: web.AppRunner | None = None
    scheduler: AsyncIOScheduler | None = None
    port: int = 0
    seeded: int = 0
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def create(
        cls, settings: Settings, clock: Clock | None = None, config: WorkflowConfig | None = None
    ) -> Gateway:
        if config is None:
            config, _ = load_config(settings.config)  # raises ConfigError before any I/O
        clock = clock or make_clock(settings)
        store = create_store(settings.db)
        # Adapters first: a setting that cannot work stops us before any file is opened.
        adapters = build_adapters(settings, store, config, clock)
        try:
            await store.open()
        except StoreOpenError as exc:
            raise StartupError(str(exc)) from None
        engine = Engine(store, clock, config, adapters)
        local = next((a for a in adapters.values() if isinstance(a, LocalChatAdapter)), None)
        return cls(settings, config, clock, store, engine, local)

    async def start(self) -> None:
        async with self.store.transaction() as tx:
            empty = await tx.count_people() == 0
        if empty and self.settings.demo_seed and self.local is not None:
            self.seeded = await seed_demo(
                self.store, self.config, self.clock.now(), self.local.platform
            )
        await self.engine.prepare()
        try:
            await self.engine.start()
        except AdapterStartError as exc:
            # Everything, the store included: its thread would keep the process alive.
            await self.stop()
            raise StartupError(str(exc)) from None
        if self.seeded:
            # A newcomer should see a check-in at once, not at nine tomorrow.
            await self.engine.start_round_now()
        extra = [route for a in self.engine.adapters.values() for route in a.routes()]
        app = build_web_app(
            WebDeps(self.engine, self.local, Metrics(), settings=self.settings), extra
        )
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.web_host, self.settings.web_port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise StartupError(
                f"cannot listen on {self.settings.web_host}:{self.settings.web_port}: "
                f"{exc.strerror}",
                exit_code=1,
            ) from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.web_port
        await announce(self.store, self.settings, self.port)
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        # Coarse rhythms only; every care deadline is a durable timer row instead.
        self.scheduler.add_job(
            self.engine.ensure_rounds,
            IntervalTrigger(minutes=5),
            id="ensure-rounds",
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.add_job(
            self._purge, IntervalTrigger(hours=6), id="purge-inbox", coalesce=True, max_instances=1
        )
        # Keeps the WAL file from staying at its largest size (see Store.checkpoint).
        self.scheduler.add_job(
            self.store.checkpoint,
            IntervalTrigger(minutes=CHECKPOINT_MINUTES),
            id="wal-checkpoint",
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.start()

    def waiting_platforms(self) -> dict[str, str]:
        """Platforms whose receiving does not work yet, with why (shown at start-up;
        they keep trying in the background)."""
        waiting: dict[str, str] = {}
        for name, adapter in self.engine.adapters.items():
            if isinstance(adapter, ReceiveHealth):
                problem = adapter.receive_problem(float("inf"))
                if problem is not None:
                    waiting[name] = problem
        return waiting

    async def _purge(self) -> None:
        async with self.store.transaction() as tx:
            await tx.purge_inbox(self.clock.now() - timedelta(days=30))

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.port}"

    async def stop(self) -> None:
        """Stop everything that was started; safe to call more than once."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.engine.stop()
        await self.store.close()

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self._stopped.set)
        await self._stopped.wait()
