"""Playing a chaos run's world (see `chaos.py`): the gateway as a subprocess that is
started, killed and started again; a reader of the Bot API server's call log; the
residents and responders acting at their scripted times; and the kills, at random
moments and at busy ones, each followed by `PRAGMA integrity_check`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.chaos_record import (
    BUTTON,
    CARE_LEAD,
    GRID_LEADER,
    HELP,
    HELP_BUTTON,
    IN_TIME,
    LATE,
    LATE_BUTTON,
    MEDIA,
    SILENT,
    WROTE_INSTEAD,
    Answer,
    Behaviour,
    Kill,
    Resident,
    Responder,
    ResponderAction,
    RunRecord,
    Send,
)
from benchmarks.chaos_texts import Classifier
from tests.synapse import _die_with_parent
from tests.telegram_server import Fault, TelegramTestServer

OK_TEXT = "我很好"
HELP_WORDS = "救命，我摔倒了"
KILL_KINDS = (
    "round-open",
    "answers",
    "reminder",
    "window-close",
    "stand-down",
    "escalation",
    "random",
)
TICK = 0.05
READY_WITHIN = 90.0  # a start that takes longer is a failure of the run
MAX_CRASHES = 30


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the gateway as a subprocess -------------------------------------------------


class GatewayProcess:
    """`python -m gateway run`, started, killed and started again; a start that fails
    on its own is retried as a service manager would."""

    def __init__(
        self, workdir: Path, env: dict[str, str], server: TelegramTestServer, record: RunRecord
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.server = server
        self.record = record
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.ready_at: float | None = None
        self.starts = 0
        self._expected_exit = False
        self._watch: asyncio.Task[None] | None = None
        self._log = (workdir / "gateway.log").open("ab")
        self.gave_up = False

    async def start(self) -> None:
        self.starts += 1
        self._expected_exit = False
        self.ready_at = None
        self._log.write(f"\n=== start {self.starts} at {time.time():.3f} ===\n".encode())
        self._log.flush()
        self.spawned_at = time.monotonic()
        self.record.starts.append(time.time())
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            "run",
            cwd=self.workdir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=_die_with_parent,
        )
        self._watch = asyncio.create_task(self._watch_exit(self.process))

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if self._expected_exit or process is not self.process:
            return
        self.record.crashes.append(f"exit {code} at {time.time():.1f}")
        log(f"the gateway exited by itself (code {code}); starting it again")
        if len(self.record.crashes) >= MAX_CRASHES:
            self.gave_up = True
            return
        await asyncio.sleep(1.0)
        await self.start()

    def ready(self) -> bool:
        """Serving: it asked for updates since it was started."""
        if self.ready_at is not None:
            return True
        for call in reversed(self.server.calls):
            if call.at < self.spawned_at:
                break
            if call.method.lower() == "getupdates":
                self.ready_at = time.time()
                return True
        return False

    async def wait_ready(self) -> float:
        deadline = time.monotonic() + READY_WITHIN
        crashes = len(self.record.crashes)
        while not self.ready():
            # Three exits in a row before serving: it cannot start (a broken checkout, a
            # bad setting); say why rather than wait.
            if self.gave_up or len(self.record.crashes) - crashes >= 3:
                raise RuntimeError(f"the gateway keeps exiting at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway was not serving {READY_WITHIN:.0f} s after start")
            await asyncio.sleep(TICK)
        assert self.ready_at is not None
        return self.ready_at

    def log_tail(self, size: int = 3000) -> str:
        self._log.flush()
        with (self.workdir / "gateway.log").open("rb") as log_file:
            log_file.seek(0, 2)
            log_file.seek(max(0, log_file.tell() - size))
            return log_file.read().decode("utf-8", "replace")

    async def kill(self) -> None:
        process = self.process
        if process is None:
            return
        self._expected_exit = True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self) -> bool:
        """SIGTERM and wait; True when it stopped by itself."""
        process = self.process
        if process is None or process.returncode is not None:
            return False
        self._expected_exit = True
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await process.wait()
            return True
        except TimeoutError:
            process.send_signal(signal.SIGKILL)
            await process.wait()
            return False

    def close(self) -> None:
        self._log.close()


def integrity(db: Path) -> str:
    """PRAGMA integrity_check on the file the killed gateway left (read-only)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"error: {exc}"
    return "; ".join(str(r[0]) for r in rows)[:300]


def read_db(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- watching the Bot API server -------------------------------------------------


class Observer:
    """Reads the server's call log as it grows: what arrived in which chat, and when."""

    def __init__(self, server: TelegramTestServer, record: RunRecord, texts: Classifier) -> None:
        self.server = server
        self.record = record
        self.texts = texts
        self.offset = time.time() - time.monotonic()
        self.seen = 0
        self.sent_in_chat: dict[int, int] = {}
        self.by_chat: dict[int, Resident] = {r.chat: r for r in record.residents}
        self.family_chats = {r.family_chat for r in record.residents if r.family_chat}
        self.responder_chat: dict[int, Responder] = {r.chat: r for r in record.responders}
        self.prompts: dict[tuple[int, int], Send] = {}
        self.chat_sends: dict[int, list[Send]] = {}
        self.prompt_count: dict[int, int] = {}
        self.first_prompt: dict[int, float] = {}
        self.reminders: dict[int, int] = {}
        self.step2: dict[int, int] = {}
        self.alert_resident: dict[int, int] = {}
        self.on_prompt: Callable[[int, int, Send], None] = lambda k, i, s: None
        self.on_copy: Callable[[Send, int, int, Responder], None] = lambda s, a, i, r: None
        self.on_menu: Callable[[Send, int], None] = lambda s, a: None

    def round_of(self, at: float) -> int:
        """The round a moment belongs to; -1 before the first."""
        k = -1
        for index, start in enumerate(self.record.round_times):
            if at >= start - 2:
                k = index
        return k

    def scan(self) -> None:
        calls = self.server.calls
        end = len(calls)
        for call in calls[self.seen : end]:
            method = call.method.lower()
            name = call.method
            self.record.calls[name] = self.record.calls.get(name, 0) + 1
            if method == "sendmessage" and call.status == 200:
                self._sent(call.at + self.offset, call.params, call.fault is Fault.RESPONSE_LOST)
        self.seen = end

    def _sent(self, at: float, params: dict[str, Any], lost: bool) -> None:
        chat = params.get("chat_id")
        if not isinstance(chat, int):
            return
        index = self.sent_in_chat.get(chat, 0)
        self.sent_in_chat[chat] = index + 1
        ours = self.server.messages(chat)
        message_id = ours[index].message_id if index < len(ours) else -1
        markup = params.get("reply_markup")
        send = Send(
            at=at,
            chat=chat,
            text=str(params.get("text", "")),
            markup=json.dumps(markup, ensure_ascii=False, sort_keys=True) if markup else "",
            lost=lost,
            message_id=message_id,
        )
        self.record.sends.append(send)
        self.chat_sends.setdefault(chat, []).append(send)
        resident = self.by_chat.get(chat)
        if resident is not None:
            k = self.round_of(at)
            if k < 0:
                return
            kind = self.texts.resident_kind(send.text, resident.name)
            if kind == "prompt":
                self.prompt_count[k] = self.prompt_count.get(k, 0) + 1
                self.first_prompt.setdefault(k, at)
                if (k, resident.index) not in self.prompts:
                    self.prompts[(k, resident.index)] = send
                    self.on_prompt(k, resident.index, send)
            elif kind == "reminder":
                self.reminders[k] = self.reminders.get(k, 0) + 1
            return
        if chat in self.family_chats and self.texts.consent_yes_label in send.markup:
            self._agree(send, markup)
            return
        responder = self.responder_chat.get(chat)
        copy = self.texts.alert_copy(send.text)
        if copy is not None:
            alert, name = copy
            number = self.texts.resident_index(name)
            if number is None:
                return
            self.alert_resident.setdefault(alert, number)
            if responder is not None:
                if responder.role == CARE_LEAD:
                    k = self.round_of(at)
                    self.step2[k] = self.step2.get(k, 0) + 1
                self.on_copy(send, alert, number, responder)
            return
        menu = self.texts.outcome_menu(send.text)
        if menu is not None:
            self.on_menu(send, menu)

    def _agree(self, send: Send, markup: Any) -> None:
        """A family contact says yes to hearing about their resident, at once."""
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        if isinstance(markup, str):
            rows = json.loads(markup).get("inline_keyboard", [])
        for row in rows:
            for button in row:
                if button.get("text") == self.texts.consent_yes_label and send.message_id > 0:
                    self.server.press(send.chat, send.message_id, str(button["callback_data"]))
                    return


# --- playing the people ----------------------------------------------------------


Action = Callable[[], Awaitable[None]]


class Players:
    """Residents and responders, acting at their times on the server."""

    def __init__(
        self,
        server: TelegramTestServer,
        record: RunRecord,
        observer: Observer,
        texts: Classifier,
    ) -> None:
        self.server = server
        self.record = record
        self.observer = observer
        self.texts = texts
        self.timing = record.timing
        self._heap: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()
        self._acked: set[int] = set()
        self._menus_wanted: dict[tuple[int, int], str] = {}
        self._late_answers: dict[int, int] = {}
        self.answers_in_round: dict[int, int] = {}
        self.leader_of = {r.grid: r for r in record.responders if r.role == GRID_LEADER}
        observer.on_prompt = self.prompt_arrived
        observer.on_copy = self.copy_arrived
        observer.on_menu = self.menu_arrived

    @property
    def idle(self) -> bool:
        return not self._heap

    def later(self, at: float, action: Action) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), action))

    async def run_due(self) -> None:
        now = time.time()
        while self._heap and self._heap[0][0] <= now:
            _, _, action = heapq.heappop(self._heap)
            await action()

    def behaviour(self, k: int, i: int) -> Behaviour:
        return self.record.behaviours[(k, i)]

    # -- residents

    def prompt_arrived(self, k: int, i: int, send: Send) -> None:
        if not 0 <= k < len(self.record.round_times):
            return
        b = self.behaviour(k, i)
        if b.kind in IN_TIME:
            self.later(send.at + b.delay, lambda: self.answer(k, i, b.kind))
        elif b.kind in LATE:
            deadline = send.at + self.timing.window
            self.later(deadline + b.delay, lambda: self.answer(k, i, b.kind))

    async def answer(self, k: int, i: int, kind: str) -> None:
        resident = self.record.residents[i]
        chat = resident.chat
        note = ""
        if kind in (BUTTON, HELP_BUTTON, LATE_BUTTON):
            label = self.texts.help_label if kind == HELP_BUTTON else self.texts.ok_label
            if self._press_prompt(k, i, label):
                self._answered(k, i, kind)
                return
            # The prompt lost its buttons (or never came): the resident writes instead.
            note = WROTE_INSTEAD
        text = HELP_WORDS if kind in HELP else OK_TEXT
        if kind == MEDIA:
            update = self.server.send_media(
                chat, random.Random(f"{k}/{i}").choice(["voice", "sticker"])
            )
        else:
            update = self.server.send_text(chat, text)
        self._answered(k, i, kind, update_id=int(update["update_id"]), note=note)

    def _press_prompt(self, k: int, i: int, label: str) -> bool:
        chat = self.record.residents[i].chat
        send = self.observer.prompts.get((k, i))
        candidates = [] if send is None else [send.message_id]
        start = self.record.round_times[k] - 2
        candidates += [
            s.message_id
            for s in reversed(self.observer.chat_sends.get(chat, []))
            if s.at >= start and s.message_id not in candidates
        ][:5]
        for message_id in candidates:
            try:
                message = self.server.message(chat, message_id)
                data = str(message.button(label)["callback_data"])
            except LookupError:
                continue
            self.server.press(chat, message_id, data)
            return True
        return False

    def _answered(self, k: int, i: int, kind: str, *, update_id: int = 0, note: str = "") -> None:
        if not update_id:
            update_id = int(self.server.pending_updates[-1]["update_id"])
        self.record.answers.append(Answer(k, i, kind, time.time(), update_id, note))
        self.answers_in_round[k] = self.answers_in_round.get(k, 0) + 1
        if kind in LATE:
            self._late_answers[k] = self._late_answers.get(k, 0) + 1

    def late_answers(self, k: int) -> int:
        return self._late_answers.get(k, 0)

    # -- responders

    def copy_arrived(self, send: Send, alert: int, i: int, responder: Responder) -> None:
        k = self.observer.round_of(send.at)
        if not 0 <= k < len(self.record.round_times) or alert in self._acked:
            return
        b = self.behaviour(k, i)
        if not (b.kind == SILENT or b.kind in HELP) or b.ack_by != responder.role:
            return
        self._acked.add(alert)
        rng = random.Random(f"{self.record.seed}/ack/{alert}")
        at = send.at + rng.uniform(0.2, 0.8) * self.timing.step
        self.later(at, lambda: self.ack(alert, responder, b, rng))

    async def ack(self, alert: int, responder: Responder, b: Behaviour, rng: random.Random) -> None:
        if not self._press_alert(alert, responder, self.texts.ack_label, "ack"):
            return
        if b.resolve:
            at = time.time() + rng.uniform(0.2, 0.6) * self.timing.step
            self.later(at, lambda: self.resolve(alert, responder, b))

    async def resolve(self, alert: int, responder: Responder, b: Behaviour) -> None:
        self._menus_wanted[(responder.chat, alert)] = b.outcome
        self._press_alert(alert, responder, self.texts.resolve_label, "resolve")

    def menu_arrived(self, send: Send, alert: int) -> None:
        outcome = self._menus_wanted.pop((send.chat, alert), None)
        if outcome is None:
            return
        rng = random.Random(f"{self.record.seed}/menu/{alert}")
        at = send.at + rng.uniform(0.1, 0.4) * self.timing.step

        async def press() -> None:
            label = self.texts.outcome_label(outcome)
            try:
                data = str(
                    self.server.message(send.chat, send.message_id).button(label)["callback_data"]
                )
            except LookupError:
                return
            self.server.press(send.chat, send.message_id, data)
            self._acted(send.chat, "outcome", alert)

        self.later(at, press)

    def _press_alert(self, alert: int, responder: Responder, label: str, kind: str) -> bool:
        chat = responder.chat
        for message in reversed(self.server.messages(chat)):
            if self.texts.alert_id(message.text) != alert or label not in message.labels:
                continue
            data = str(message.button(label)["callback_data"])
            self.server.press(chat, message.message_id, data)
            self._acted(chat, kind, alert)
            return True
        return False

    def _acted(self, chat: int, kind: str, alert: int) -> None:
        update_id = int(self.server.pending_updates[-1]["update_id"])
        self.record.actions.append(ResponderAction(time.time(), chat, kind, alert, update_id))

    async def sweep(self, k: int) -> int:
        """Close whatever is still open, as an operator would at the end of a round."""
        rows = await asyncio.to_thread(
            read_db,
            self.record.db,
            "SELECT a.id, p.name FROM alerts a JOIN people p ON p.id = a.person_id "
            "WHERE a.state != 'resolved' ORDER BY a.id",
        )
        swept = 0
        for alert, name in rows:
            index = self.texts.resident_index(str(name))
            if index is None:
                continue
            leader = self.leader_of[self.record.residents[index].grid]
            update = self.server.send_text(leader.chat, f"/resolve {alert} ok")
            self.record.actions.append(
                ResponderAction(
                    time.time(), leader.chat, "sweep", int(alert), int(update["update_id"])
                )
            )
            swept += 1
        log(f"round {k + 1}: swept {swept} open alert(s) with /resolve")
        return swept


# --- killing ---------------------------------------------------------------------


class Killer:
    def __init__(
        self,
        gateway: GatewayProcess,
        record: RunRecord,
        observer: Observer,
        players: Players,
        kills: int,
        min_gap: float,
    ) -> None:
        self.gateway = gateway
        self.record = record
        self.observer = observer
        self.players = players
        self.min_gap = min_gap
        self.rng = random.Random(f"{record.seed}/kills")
        rounds = len(record.round_times)
        self.plan: list[tuple[int, str]] = []
        for j in range(kills):
            self.plan.append((j * rounds // kills, KILL_KINDS[j % len(KILL_KINDS)]))
        self.plan.sort(key=lambda p: (p[0], KILL_KINDS.index(p[1])))

    async def run(self) -> None:
        for k, kind in self.plan:
            start = self.record.round_times[k]
            fallback = start + self.record.timing.sweep - 3
            await self._until(_after(start - 1), start + 60)
            detail = await self._trigger(k, kind, fallback)
            await self._until(self._may_kill, time.time() + READY_WITHIN)
            await self.kill(kind, f"round {k + 1}: {detail}")

    def _may_kill(self) -> bool:
        ready = self.gateway.ready_at
        return self.gateway.ready() and ready is not None and time.time() >= ready + self.min_gap

    async def _until(self, condition: Callable[[], bool], deadline: float) -> bool:
        while not condition():
            if time.time() >= deadline:
                return False
            await asyncio.sleep(TICK)
        return True

    async def _trigger(self, k: int, kind: str, fallback: float) -> str:
        timing = self.record.timing
        residents = len(self.record.residents)
        o, p = self.observer, self.players
        match kind:
            case "round-open":
                n = self.rng.randint(1, max(1, residents // 3))
                ok = await self._until(lambda: o.prompt_count.get(k, 0) >= n, fallback)
                detail = f"after {n} prompts of the round went out"
            case "answers":
                n = self.rng.randint(3, max(3, residents // 5))
                ok = await self._until(lambda: p.answers_in_round.get(k, 0) >= n, fallback)
                detail = f"just after answer {n} of the round arrived"
            case "reminder":
                n = self.rng.randint(1, 10)
                ok = await self._until(lambda: o.reminders.get(k, 0) >= n, fallback)
                detail = f"after {n} reminders went out"
            case "window-close":
                await self._until(lambda: k in o.first_prompt, fallback)
                at = o.first_prompt.get(k, time.time()) + timing.window + self.rng.uniform(-1, 2)
                ok = await self._until(lambda: time.time() >= at, fallback)
                detail = "as the first windows closed"
            case "stand-down":
                ok = await self._until(lambda: p.late_answers(k) >= 1, fallback)
                if ok:
                    await asyncio.sleep(self.rng.uniform(0.1, 1.0))
                detail = "just after a late answer (an alert being called off)"
            case "escalation":
                ok = await self._until(lambda: o.step2.get(k, 0) >= 1, fallback)
                if ok:
                    await asyncio.sleep(self.rng.uniform(0.0, 0.5))
                detail = "at an escalation step (the first care lead's copy)"
            case _:
                at = self.record.round_times[k] + self.rng.uniform(0, timing.sweep - 5)
                ok = await self._until(lambda: time.time() >= at, fallback)
                detail = "at a random moment"
        return detail if ok else f"{detail} — not seen in time, killed at the round's end"

    async def kill(self, kind: str, detail: str) -> None:
        at = time.time()
        await self.gateway.kill()
        entry = Kill(at=at, kind=kind, detail=detail)
        self.record.kills.append(entry)
        entry.integrity = await asyncio.to_thread(integrity, self.record.db)
        log(f"kill {len(self.record.kills)} ({detail}); integrity_check: {entry.integrity}")
        await self.gateway.start()
        entry.ready_at = await self.gateway.wait_ready()


def _after(moment: float) -> Callable[[], bool]:
    return lambda: time.time() >= moment
