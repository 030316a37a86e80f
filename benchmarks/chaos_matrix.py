"""The Matrix side of a chaos run (`chaos.py --matrix N`): a real Synapse on
127.0.0.1 (tests/synapse.py), the gateway's bot account, and N residents reached on
Matrix only, each played by its own client: it joins the direct room the bot opens,
reads the prompts, and answers as its scripted behaviour says (✅ or 🆘 as a reaction,
or a message). At the end every room is read back from the homeserver: a kill must not
post an event twice (the outbox's row id is the transaction id) nor open a second room.

The homeserver itself does not fail calls; the kills are the chaos here.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
)

from benchmarks.chaos_record import (
    BUTTON,
    HELP,
    HELP_BUTTON,
    IN_TIME,
    LATE,
    LATE_BUTTON,
    Answer,
    MatrixEvent,
    RunRecord,
)
from tests.synapse import Homeserver, start_synapse

if TYPE_CHECKING:
    from benchmarks.chaos_play import Players

PASSWORD = "chaos-password-1"
SYNC_EVERY = 1.0
OK_TEXT = "我很好"
HELP_WORDS = "救命，我摔倒了"
QUIET: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 50}, "ephemeral": {"not_types": ["*"]}},
}


class MatrixSide:
    def __init__(self, workdir: Path, residents: int, seed: int) -> None:
        self.workdir = workdir
        self.count = residents
        self.seed = seed
        self.server: Homeserver | None = None
        self.bot_id = ""
        self.accounts: list[tuple[str, str, str]] = []
        self.clients: list[AsyncClient] = []
        self.record: RunRecord | None = None
        self.players: Players | None = None
        self._next_sync = 0.0
        self._syncing: asyncio.Task[None] | None = None
        self._tokens: dict[int, str | None] = {}
        self._prompts: dict[tuple[int, int], tuple[str, str, float]] = {}
        self._index: dict[str, int] = {}

    async def start(self) -> list[str]:
        """Synapse up, the bot and the residents registered; their user ids."""
        # From this thread: Synapse is tied to it and dies with it (see tests/synapse.py).
        self.server = start_synapse(self.workdir / "synapse")
        server = self.server
        tag = secrets.token_hex(3)
        self.bot_id = server.register(f"carecheck{tag}", PASSWORD)[0]

        def one(index: int) -> tuple[str, str, str]:
            return server.register(f"resident{tag}{index:04d}", PASSWORD)

        with ThreadPoolExecutor(max_workers=4) as pool:
            self.accounts = list(pool.map(one, range(self.count)))
        config = AsyncClientConfig(encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0)
        for user_id, token, device in self.accounts:
            client = AsyncClient(server.url, user_id, config=config)
            client.restore_login(user_id, device, token)
            self.clients.append(client)
        return [user_id for user_id, _, _ in self.accounts]

    def env(self) -> dict[str, str]:
        assert self.server is not None
        return {
            "CARECHECK_MATRIX_HOMESERVER": self.server.url,
            "CARECHECK_MATRIX_USER_ID": self.bot_id,
            "CARECHECK_MATRIX_PASSWORD": PASSWORD,
        }

    def attach(self, record: RunRecord, players: Players) -> None:
        self.record = record
        self.players = players
        self._index = {r.matrix_id: r.index for r in record.residents if r.matrix_id}

    async def tick(self) -> None:
        """Every second: each resident's client syncs (in the background)."""
        now = time.monotonic()
        if now < self._next_sync or (self._syncing is not None and not self._syncing.done()):
            return
        if self._syncing is not None:
            self._syncing.result()  # raises what went wrong
        self._next_sync = now + SYNC_EVERY
        self._syncing = asyncio.create_task(self._sync_all())

    async def _sync_all(self) -> None:
        await asyncio.gather(*(self._sync(i, c) for i, c in enumerate(self.clients)))

    async def _sync(self, number: int, client: AsyncClient) -> None:
        response = await client.sync(
            timeout=0, since=self._tokens.get(number), sync_filter=QUIET, full_state=False
        )
        if not isinstance(response, SyncResponse):
            return
        self._tokens[number] = response.next_batch
        for room_id, invited in response.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in invited.invite_state):
                await client.join(room_id)
        for room_id, joined in response.rooms.join.items():
            for event in joined.timeline.events:
                source = event.source
                if source.get("sender") != self.bot_id or source.get("type") != "m.room.message":
                    continue
                content = source.get("content", {})
                if content.get("m.relates_to", {}).get("rel_type") == "m.replace":
                    continue
                self._bot_message(client.user_id, room_id, source)

    def _bot_message(self, user_id: str, room_id: str, source: dict[str, Any]) -> None:
        record, players = self.record, self.players
        assert record is not None and players is not None
        index = self._index.get(user_id)
        if index is None:
            return
        resident = record.residents[index]
        at = float(source.get("origin_server_ts", 0)) / 1000
        body = str(source.get("content", {}).get("body", ""))
        if players.texts.resident_kind(body, resident.name) != "prompt":
            return
        k = players.observer.round_of(at)
        if not 0 <= k < len(record.round_times) or (k, index) in self._prompts:
            return
        self._prompts[(k, index)] = (room_id, str(source["event_id"]), at)
        b = record.behaviours[(k, index)]
        if b.kind in IN_TIME:
            players.later(at + b.delay, lambda: self.answer(k, index, b.kind))
        elif b.kind in LATE:
            at_late = at + record.timing.window + b.delay
            players.later(at_late, lambda: self.answer(k, index, b.kind))

    async def answer(self, k: int, index: int, kind: str) -> None:
        record, players = self.record, self.players
        assert record is not None and players is not None
        room_id, prompt_id, _ = self._prompts[(k, index)]
        client = self.clients[index]
        if kind in (BUTTON, HELP_BUTTON, LATE_BUTTON):
            key = "🆘" if kind == HELP_BUTTON else "✅"
            event_type = "m.reaction"
            content: dict[str, Any] = {
                "m.relates_to": {"rel_type": "m.annotation", "event_id": prompt_id, "key": key}
            }
        else:
            event_type = "m.room.message"
            content = {"msgtype": "m.text", "body": HELP_WORDS if kind in HELP else OK_TEXT}
        response = await client.room_send(room_id, event_type, content)
        event_id = str(response.event_id) if isinstance(response, RoomSendResponse) else ""
        note = "" if event_id else f"send failed: {response}"
        record.answers.append(Answer(k, index, kind, time.time(), 0, note, event_id=event_id))
        players.answers_in_round[k] = players.answers_in_round.get(k, 0) + 1

    async def collect(self, record: RunRecord) -> None:
        """Every room of every Matrix resident, read back from the homeserver."""
        if self._syncing is not None:
            await asyncio.wait({self._syncing})
        for number, client in enumerate(self.clients):
            await self._sync(number, client)
            index = self._index[client.user_id]
            for room_id in list(client.rooms):
                record.matrix_rooms.setdefault(index, [])
                if room_id not in record.matrix_rooms[index]:
                    record.matrix_rooms[index].append(room_id)
                token: str | None = None
                for _ in range(20):
                    page = await client.room_messages(room_id, start=token or "", limit=200)
                    if not isinstance(page, RoomMessagesResponse):
                        record.notes.append(f"cannot read {room_id}: {page}")
                        break
                    for event in page.chunk:
                        source = event.source
                        if source.get("sender") != self.bot_id:
                            continue
                        if not source.get("content"):
                            continue  # redacted: a reaction taken back after an edit
                        record.matrix_events.append(
                            MatrixEvent(
                                room=room_id,
                                resident=index,
                                at=float(source.get("origin_server_ts", 0)) / 1000,
                                kind=str(source.get("type", "")),
                                body=_body(source),
                                relates=_relates(source),
                                event_id=str(source.get("event_id", "")),
                            )
                        )
                    if not page.chunk or page.end is None:
                        break
                    token = page.end

    async def stop(self) -> None:
        if self._syncing is not None and not self._syncing.done():
            self._syncing.cancel()
        for client in self.clients:
            await client.close()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)


def _body(source: dict[str, Any]) -> str:
    content = source.get("content", {})
    if source.get("type") == "m.reaction":
        return str(content.get("m.relates_to", {}).get("key", ""))
    return str(content.get("body", ""))


def _relates(source: dict[str, Any]) -> str:
    """What the event refers to: `replace:<id>` for an edit, `react:<id>` for a reaction."""
    relation = source.get("content", {}).get("m.relates_to", {})
    kind = relation.get("rel_type", "")
    if kind == "m.replace":
        return f"replace:{relation.get('event_id', '')}"
    if kind == "m.annotation":
        return f"react:{relation.get('event_id', '')}"
    return ""
