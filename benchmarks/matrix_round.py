"""Matrix delivery against a local Synapse: how soon a message arrives, how fast a
round goes, and that Synapse's default limits slow a round down without losing any of it.

    .venv/bin/python benchmarks/matrix_round.py                  # 1,000 residents
    .venv/bin/python benchmarks/matrix_round.py --quick          # 100 residents, ~1.5 min

It starts its own Synapse on 127.0.0.1 (tests/synapse.py) with Synapse's default rate
limits, registers the bot and the residents, and lifts the bot's limit with the admin
API `override_ratelimit`, as docs/matrix.md tells an operator to. Then, through the real
engine (its own inbox, timer and outbox loops on the real clock), the real Matrix
adapter and a SQLite file, it measures:

(a) latency: from an outbox row written to the event arriving in the resident's own
    client, by /sync; p50 and p95 over 200 messages sent one at a time;
(b) a round for N residents enrolled from a people file with their Matrix ids: the
    first (the bot opens a direct room with each) and the next (the rooms exist), in
    prompts/s and Matrix events/s (a prompt is a message plus two reactions);
(c) a round for M residents with a second bot left at Synapse's DEFAULT limits
    (rc_message 0.2/s, burst 10; its rooms were opened beforehand with the override on,
    then the override was deleted): paced by M_LIMIT_EXCEEDED and `retry_after_ms`,
    how long it took, how many sends were retried, and that nothing was lost.

"Lost" and "doubled" are read back from the homeserver (/messages of every room): each
room must hold exactly one prompt per round and the bot's two reactions on each.
It prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the Synapse helpers live in tests/
    sys.path.insert(0, str(ROOT))

from nio import (  # noqa: E402
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    RoomMessagesResponse,
    SyncResponse,
)

from adapters.matrix.adapter import (  # noqa: E402
    STATE_ACCESS_TOKEN,
    STATE_DEVICE_ID,
    STATE_DM_PREFIX,
)
from core.commands import Priority  # noqa: E402
from core.ids import ChatRef  # noqa: E402
from core.outbox import NewMessage  # noqa: E402
from gateway.app import build_adapters  # noqa: E402
from gateway.clock import SystemClock  # noqa: E402
from gateway.config import builtin_config_text, parse_config  # noqa: E402
from gateway.engine import Engine  # noqa: E402
from gateway.people import import_people  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from store.sqlite import Store  # noqa: E402
from tests.synapse import Homeserver, SynapseUnavailable, start_synapse  # noqa: E402

PASSWORD = "benchmark-password-1"
HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix"
POLL = 0.1
# Bounds on every wait (seconds of real time).
MESSAGE_WITHIN = 10.0
SETUP_WITHIN = 120.0
EVENTS_PER_PROMPT = 3  # the message and the bot's ✅ and 🆘 reactions
DEFAULT_RATE = 0.2  # Synapse's rc_message default, events per second per user
DEFAULT_BURST = 10
QUIET: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 50}, "ephemeral": {"not_types": ["*"]}},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str
    device: str


def register_many(server: Homeserver, prefix: str, count: int) -> list[Account]:
    """Residents register in parallel: Synapse spends its time on password hashing."""
    tag = uuid.uuid4().hex[:6]

    def one(index: int) -> Account:
        return Account(*server.register(f"{prefix}{tag}{index:05d}", PASSWORD))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def delete_override(server: Homeserver, admin_token: str, user_id: str) -> None:
    """Back to the homeserver's own limits (DELETE on the same admin endpoint)."""
    quoted = urllib.parse.quote(user_id, safe="")
    request = urllib.request.Request(
        f"{server.url}/_synapse/admin/v1/users/{quoted}/override_ratelimit", method="DELETE"
    )
    request.add_header("Authorization", f"Bearer {admin_token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def people_csv(residents: list[Account]) -> str:
    rows = [HEADER, "Leader,grid_leader,G1,B1,en,,1380000,,,,"]
    rows += [
        f"R{index:05d},resident,G1,B1,en,,139{index:08d},,,,{account.user_id}"
        for index, account in enumerate(residents)
    ]
    return "\n".join(rows) + "\n"


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise RuntimeError(f"not within {within:.0f} s: {what}") from None


def client_for(server: Homeserver, account: Account) -> AsyncClient:
    config = AsyncClientConfig(encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0)
    client = AsyncClient(server.url, account.user_id, config=config)
    client.restore_login(account.user_id, account.device, account.token)
    return client


class Line:
    """One gateway on Matrix, as `carecheck run` builds it, on the real clock."""

    def __init__(self, server: Homeserver, db: Path, bot: Account) -> None:
        self.server, self.db, self.bot = server, db, bot
        self.store = Store(db)
        self.config = parse_config(builtin_config_text())
        self.clock = SystemClock()
        self.engine: Engine | None = None

    async def start(self, residents: list[Account]) -> None:
        await self.store.open()
        await import_people(self.store, self.config, people_csv(residents), self.clock.now())
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            db=self.db,
            local_chat=False,
            demo_seed=False,
            telegram_token="",  # type: ignore[arg-type]
            matrix_homeserver=self.server.url,
            matrix_user_id=self.bot.user_id,
            matrix_password=PASSWORD,  # type: ignore[arg-type]
            matrix_access_token="",  # type: ignore[arg-type]
        )
        adapters = build_adapters(settings, self.store, self.config)
        self.engine = Engine(self.store, self.clock, self.config, adapters)
        await self.engine.prepare()
        await self.engine.start()

    async def stop(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
        await self.store.close()

    async def count(self, sql: str, *params: object) -> int:
        async with self.store.read() as tx:
            rows = await tx._all(sql, params)
        return int(rows[0][0])

    async def round(self, expected: int, within: float) -> Round:
        """Open a round now and wait until every message of it has been sent."""
        assert self.engine is not None
        first = await self.count("SELECT coalesce(max(id), 0) FROM outbox") + 1
        began = time.monotonic()
        opened = await self.engine.start_round_now()
        if opened != expected:
            raise RuntimeError(f"the round opened {opened} check-ins, not {expected}")

        async def done() -> bool:
            return await self.count("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0

        await until(done, f"a round of {expected} delivered", within)
        took = time.monotonic() - began
        failed = await self.count(
            "SELECT count(*) FROM outbox WHERE state = 'failed' AND id >= ?", first
        )
        retried = await self.count(
            "SELECT count(*) FROM delivery_attempts WHERE ok = 0 AND outbox_id >= ?", first
        )
        limited = await self.count(
            "SELECT count(*) FROM delivery_attempts WHERE ok = 0 AND outbox_id >= ? "
            "AND error LIKE '%M_LIMIT_EXCEEDED%'",
            first,
        )
        attempts = await self.count(
            "SELECT coalesce(max(attempts), 0) FROM outbox WHERE id >= ?", first
        )
        return Round(expected, took, failed, retried, limited, attempts)

    async def rooms(self) -> dict[str, str]:
        """Resident user id → the direct room the bot opened with them."""
        async with self.store.read() as tx:
            rows = await tx._all(
                "SELECT key, value FROM kv WHERE key LIKE ?", (STATE_DM_PREFIX + "%",)
            )
        return {str(r[0])[len(STATE_DM_PREFIX) :]: str(r[1]) for r in rows}

    async def bot_session(self) -> Account:
        async with self.store.read() as tx:
            token = await tx.kv_get(STATE_ACCESS_TOKEN)
            device = await tx.kv_get(STATE_DEVICE_ID)
        assert token and device
        return Account(self.bot.user_id, token, device)


@dataclass
class Round:
    prompts: int
    seconds: float
    failed: int
    retried: int
    limited: int
    # The outbox gives a message up after 30 attempts, refusals for rate included.
    most_attempts: int

    @property
    def prompts_per_second(self) -> float:
        return self.prompts / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.prompts * EVENTS_PER_PROMPT / self.seconds


@dataclass(frozen=True)
class Check:
    """Every room read back from the homeserver after `rounds` rounds."""

    rooms: int
    rounds: int
    lost: int
    doubled: int

    def line(self, label: str) -> str:
        return (
            f"| {label}: every room read back ({self.rooms:,} rooms × {self.rounds} prompts, "
            f"each with the bot's 2 reactions) | {self.lost} lost, {self.doubled} doubled |"
        )


async def check_rooms(line: Line, rounds: int) -> Check:
    """Lost and doubled events over every room, as the homeserver holds them."""
    bot = await line.bot_session()
    client = client_for(line.server, bot)
    rooms = await line.rooms()
    lost = doubled = 0
    gate = asyncio.Semaphore(8)

    async def one(room_id: str) -> tuple[int, int]:
        async with gate:
            page = await client.room_messages(room_id, limit=100)
        if not isinstance(page, RoomMessagesResponse):
            raise RuntimeError(f"cannot read {room_id}: {page}")
        events = [e.source for e in page.chunk]
        prompts = [
            e["event_id"]
            for e in events
            if e["type"] == "m.room.message" and e["sender"] == bot.user_id
        ]
        reactions = [
            e
            for e in events
            if e["type"] == "m.reaction"
            and e["sender"] == bot.user_id
            and e["content"]["m.relates_to"]["event_id"] in prompts
        ]
        missing = max(0, rounds - len(prompts)) + max(0, 2 * len(prompts) - len(reactions))
        extra = max(0, len(prompts) - rounds) + max(0, len(reactions) - 2 * len(prompts))
        return missing, extra

    try:
        async with asyncio.timeout(SETUP_WITHIN + len(rooms)):
            results = await asyncio.gather(*(one(room) for room in rooms.values()))
    finally:
        await client.close()
    for missing, extra in results:
        lost += missing
        doubled += extra
    return Check(len(rooms), rounds, lost, doubled)


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure_latency(line: Line, resident: Account, count: int) -> Latency:
    """Outbox row written → the event in the resident's own /sync, one at a time."""
    assert line.engine is not None
    room_id = (await line.rooms())[resident.user_id]
    client = client_for(line.server, resident)
    arrived: dict[str, float] = {}
    changed = asyncio.Event()
    result = Latency()
    try:
        async with asyncio.timeout(SETUP_WITHIN):
            assert isinstance(await client.join(room_id), JoinResponse)
            first = await client.sync(timeout=0, sync_filter=QUIET)
        assert isinstance(first, SyncResponse), first

        async def receive(since: str) -> None:
            while True:
                response = await client.sync(timeout=30000, since=since, sync_filter=QUIET)
                if not isinstance(response, SyncResponse):
                    await asyncio.sleep(0.5)
                    continue
                seen = time.monotonic()
                since = response.next_batch
                for info in response.rooms.join.values():
                    for event in info.timeline.events:
                        body = event.source.get("content", {}).get("body", "")
                        if isinstance(body, str) and body.startswith("latency "):
                            arrived[body] = seen
                changed.set()

        receiver = asyncio.create_task(receive(first.next_batch))
        try:
            for index in range(count):
                body = f"latency {index}"
                message = NewMessage(ChatRef(f"matrix:{room_id}"), body, Priority.REPLY)
                async with line.store.transaction() as tx:
                    await tx.enqueue("matrix", message, line.clock.now())
                written = time.monotonic()
                line.engine.wake()
                async with asyncio.timeout(MESSAGE_WITHIN):
                    while body not in arrived:
                        changed.clear()
                        await changed.wait()
                result.samples.append(arrived[body] - written)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
    finally:
        await client.close()
    return result


@dataclass
class Report:
    residents: int
    default_residents: int
    latency: Latency
    first: Round
    next: Round
    checked: Check
    default: Round | None
    default_checked: Check | None
    synapse: str
    started: float

    def table(self) -> str:
        cpu = os.cpu_count() or 0
        lines = [
            f"Matrix on a local Synapse {self.synapse} (SQLite), {cpu} cores, "
            f"Python {platform.python_version()}; bot limit lifted with override_ratelimit "
            "unless marked *default limits*.",
            "",
            "| measurement | result |",
            "|---|---|",
            f"| (a) outbox row written → event in the resident's /sync, "
            f"{len(self.latency.samples)} messages one at a time | "
            f"p50 {self.latency.percentile(0.5) * 1000:.0f} ms, "
            f"p95 {self.latency.percentile(0.95) * 1000:.0f} ms, "
            f"max {max(self.latency.samples) * 1000:.0f} ms |",
        ]
        for label, result in (
            (f"(b) first round, {self.residents:,} residents (opens each DM room)", self.first),
            (f"(b) next round, {self.residents:,} residents (rooms exist)", self.next),
        ):
            lines.append(self._row(label, result))
        lines.append(self.checked.line("(b)"))
        if self.default is not None and self.default_checked is not None:
            lines.append(
                self._row(
                    f"(c) *default limits* (0.2/s, burst 10), a round for "
                    f"{self.default_residents} residents, "
                    f"{self.default_residents * EVENTS_PER_PROMPT} events",
                    self.default,
                )
            )
            lines.append(self.default_checked.line("(c)"))
        lines.append("")
        lines.append(f"Whole run: {time.monotonic() - self.started:.0f} s.")
        return "\n".join(lines)

    @staticmethod
    def _row(label: str, result: Round) -> str:
        return (
            f"| {label} | {result.seconds:.1f} s: {result.prompts_per_second:.1f} prompts/s, "
            f"{result.events_per_second:.1f} events/s; {result.limited} sends refused with "
            f"M_LIMIT_EXCEEDED and retried (at most {result.most_attempts} "
            f"attempt{'' if result.most_attempts == 1 else 's'} for one message), "
            f"{result.retried - result.limited} other retries; "
            f"{result.failed} failed for good |"
        )


async def run(server: Homeserver, workdir: Path, residents: int, default_residents: int) -> Report:
    started = time.monotonic()
    _, admin_token, _ = server.register(f"admin{uuid.uuid4().hex[:6]}", PASSWORD, admin=True)

    # (a) and (b): the bot as an operator would set it up, its limit lifted.
    log(f"registering the bot and {residents} residents")
    bot = Account(*server.register(f"carebot{uuid.uuid4().hex[:6]}", PASSWORD))
    server.override_ratelimit(admin_token, bot.user_id)
    people = register_many(server, "resident", residents)
    line = Line(server, workdir / "lifted.db", bot)
    await line.start(people)
    try:
        budget = SETUP_WITHIN + residents * 1.0
        log("(b) the first round: the bot opens a direct room with each resident")
        first = await line.round(residents, budget)
        log(f"    {first.seconds:.1f} s")
        log("(b) the next round")
        nxt = await line.round(residents, budget)
        log(f"    {nxt.seconds:.1f} s")
        checked = await check_rooms(line, 2)
        log("(a) latency, 200 messages")
        latency = await measure_latency(line, people[0], 200)
    finally:
        await line.stop()

    # (c): a second bot at Synapse's default limits. Its rooms are opened beforehand,
    # with the override on: opening rooms has limits of its own (rc_room_creation).
    default: Round | None = None
    default_checked: Check | None = None
    if default_residents:
        log(f"(c) default limits: {default_residents} residents")
        slow_bot = Account(*server.register(f"slowbot{uuid.uuid4().hex[:6]}", PASSWORD))
        server.override_ratelimit(admin_token, slow_bot.user_id)
        slow_people = register_many(server, "slow", default_residents)
        slow = Line(server, workdir / "default.db", slow_bot)
        await slow.start(slow_people)
        try:
            await slow.round(default_residents, SETUP_WITHIN)
            delete_override(server, admin_token, slow_bot.user_id)
            expected = max(0.0, default_residents * EVENTS_PER_PROMPT - DEFAULT_BURST)
            default = await slow.round(default_residents, SETUP_WITHIN + 2 * expected / 0.2)
            default_checked = await check_rooms(slow, 2)
            log(f"    {default.seconds:.1f} s")
        finally:
            await slow.stop()
    return Report(
        residents,
        default_residents,
        latency,
        first,
        nxt,
        checked,
        default,
        default_checked,
        synapse_version(),
        started,
    )


def synapse_version() -> str:
    try:
        from synapse import __version__
    except ImportError:
        return "?"
    return str(__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1000, help="for (b)")
    parser.add_argument(
        "--default-residents",
        type=int,
        default=15,
        help="for (c): each adds 3 events at 0.2/s, about 15 s (0 skips it)",
    )
    parser.add_argument("--quick", action="store_true", help="100 and 6 residents")
    args = parser.parse_args(argv)
    residents, default_residents = args.residents, args.default_residents
    if args.quick:
        residents, default_residents = 100, 6
    if residents < 1:
        parser.error("--residents must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="carecheck-matrix-bench-") as tmp:
        workdir = Path(tmp)
        try:
            # From the main thread: Synapse is tied to it and dies with it.
            server = start_synapse(workdir / "synapse", relaxed_rate_limits=False)
        except SynapseUnavailable as exc:
            log(f"cannot run: {exc}")
            return 2
        try:
            report = asyncio.run(run(server, workdir, residents, default_residents))
        finally:
            server.stop()
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
