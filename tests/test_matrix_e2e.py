"""End to end over Matrix: the real MatrixAdapter against a real Synapse, through the
real engine and a SQLite file, on an injected clock. Plain matrix-nio clients play the
residents and responders, as Element would.

The care clock only moves when a test moves it. The only real waiting is bounded: for
an event to travel through the bot's sync into the inbox, for an invite to reach a
client, and (in the rate-limit test) for Synapse's own `retry_after_ms`. What people
see is read back from the homeserver (`/messages`), so a message posted twice would
show up twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinResponse,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from adapters.matrix import DEFAULT_ENCRYPTED_NOTICE, MatrixAdapter
from adapters.matrix.adapter import STATE_DM_PREFIX
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.records import Alert, AlertReason, AlertState, CheckinState, Person
from gateway import status
from gateway.app import build_adapters
from gateway.clock import Clock, FakeClock, SystemClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.invites import create_invitation
from gateway.people import import_people
from gateway.settings import Settings
from store.sqlite import Store
from tests.conftest import START

if TYPE_CHECKING:
    # Annotations only: pytest loads tests.synapse as a plugin (see conftest.py).
    from tests.synapse import Homeserver

pytestmark = pytest.mark.matrix

MIN = timedelta(minutes=1)
# Bounded waits for things that cross HTTP (seconds of real time).
WITHIN = 10.0
PASSWORD = "correct horse battery staple"
HTML = "org.matrix.custom.html"
# The people's clients only need their invites from /sync; rooms are read by /messages.
INVITES_ONLY: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 1}, "ephemeral": {"not_types": ["*"]}},
}
HEADER = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of"


# ---------------------------------------------------------------- the people's side


class Member:
    """Someone with an ordinary Matrix client: registered on the homeserver, and
    reading rooms the way the server stores them."""

    def __init__(self, server: Homeserver, prefix: str) -> None:
        self.user_id, token, device = server.register(f"{prefix}{uuid.uuid4().hex[:8]}", PASSWORD)
        config = AsyncClientConfig(encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0)
        self.client = AsyncClient(server.url, self.user_id, config=config)
        self.client.restore_login(self.user_id, device, token)
        self._since: str | None = None
        # Invited room id → whether the inviter marked it a direct chat.
        self.invites: dict[str, bool] = {}

    async def accept_invite(self, room_id: str | None = None) -> str:
        """Wait (bounded) for the next invite — or for the one to `room_id`, when other
        invitations may be pending (the bot asking a family member's consent) — and
        join it, as tapping "Accept" does."""
        async with asyncio.timeout(WITHIN):
            while not self.invites if room_id is None else room_id not in self.invites:
                response = await self.client.sync(
                    timeout=500, since=self._since, sync_filter=INVITES_ONLY
                )
                assert isinstance(response, SyncResponse), response
                self._since = response.next_batch
                for invited, info in response.rooms.invite.items():
                    self.invites[invited] = any(
                        isinstance(e, InviteMemberEvent)
                        and e.state_key == self.user_id
                        and bool(e.content.get("is_direct"))
                        for e in info.invite_state
                    )
        room_id = room_id or next(iter(self.invites))
        assert isinstance(await self.client.join(room_id), JoinResponse)
        return room_id

    async def open_room(self, *invite: str, direct: bool = True, name: str = "") -> str:
        response = await self.client.room_create(
            is_direct=direct,
            preset=RoomPreset.trusted_private_chat,
            invite=list(invite),
            name=name or None,
        )
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def send(self, room_id: str, kind: str, content: dict[str, Any]) -> str:
        response = await self.client.room_send(room_id, kind, content)
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send(room_id, "m.reaction", {"m.relates_to": relation})

    async def room(self, room_id: str) -> Room:
        """Every event of the room as the homeserver holds it now, oldest first."""
        events: list[dict[str, Any]] = []
        start: str | None = None
        for _ in range(50):  # 5,000 events: far more than any test writes
            page = await self.client.room_messages(room_id, start=start, limit=100)
            assert isinstance(page, RoomMessagesResponse), page
            events += [event.source for event in page.chunk]
            if not page.chunk or not page.end:
                break
            start = page.end
        return Room(room_id, events[::-1])


class Room:
    """What a room shows: messages with their latest edit applied, and reactions."""

    def __init__(self, room_id: str, events: list[dict[str, Any]]) -> None:
        self.room_id, self.events = room_id, events

    def messages(self, sender: str) -> list[dict[str, Any]]:
        """Messages `sender` posted, without the edit events."""
        return [
            e
            for e in self.events
            if e["type"] == "m.room.message"
            and e["sender"] == sender
            and _relation(e).get("rel_type") != "m.replace"
        ]

    def bodies(self, sender: str) -> list[str]:
        return [self.shown(e["event_id"]) for e in self.messages(sender)]

    def edits(self, event_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if _relation(e).get("rel_type") == "m.replace" and _relation(e)["event_id"] == event_id
        ]

    def shown(self, event_id: str) -> str:
        """The body Element shows for a message: that of its latest edit."""
        return str(self.content(event_id)["body"])

    def content(self, event_id: str) -> dict[str, Any]:
        edits = self.edits(event_id)
        if edits:
            new: dict[str, Any] = edits[-1]["content"]["m.new_content"]
            return new
        original = next(e for e in self.events if e["event_id"] == event_id)
        content: dict[str, Any] = original["content"]
        return content

    def reactions(self, event_id: str) -> list[tuple[str, str]]:
        """(sender, key) of every reaction on a message, in order."""
        return [
            (e["sender"], str(_relation(e)["key"]))
            for e in self.events
            if e["type"] == "m.reaction" and _relation(e).get("event_id") == event_id
        ]

    def about(self, sender: str, resident: str) -> str:
        """The event id of the one message from `sender` about `resident` (an alert)."""
        found = [e["event_id"] for e in self.messages(sender) if mentions(_body(e), resident)]
        assert len(found) == 1, f"{len(found)} messages about {resident} in {self.room_id}"
        return found[0]

    def assert_rich(self, sender: str) -> None:
        """Every message from `sender`, and every edit of one, has both renderings."""
        for event in self.events:
            if event["type"] != "m.room.message" or event["sender"] != sender:
                continue
            contents = [event["content"]]
            if _relation(event).get("rel_type") == "m.replace":
                contents.append(event["content"]["m.new_content"])
            for content in contents:
                assert content["body"] and isinstance(content["body"], str), event
                assert content["format"] == HTML and content["formatted_body"], event


def mentions(body: str, resident: str) -> bool:
    """Whether a message is about `resident`: an alert's second line is their name and
    place, in parentheses (full-width ones in Chinese)."""
    return f"\n{resident} (" in body or f"\n{resident}（" in body


def _relation(event: dict[str, Any]) -> dict[str, Any]:
    relation = event.get("content", {}).get("m.relates_to")
    return relation if isinstance(relation, dict) else {}


def _body(event: dict[str, Any]) -> str:
    return str(event.get("content", {}).get("body", ""))


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = WITHIN) -> None:
    """Poll, bounded, until `check` holds: the bot syncs in the background, on its own."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {within} s: {what}") from None


def with_choices(text: str, *choices: str) -> str:
    """A message as Matrix shows it: no buttons, so the choices are listed under it."""
    return "\n".join([text, "", *choices]) if choices else text


# ---------------------------------------------------------------- the gateway's side


def settings_for(server: Homeserver, db: Path, bot_id: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=db,
        web_host="127.0.0.1",
        web_port=0,
        local_chat=False,
        demo_seed=False,
        telegram_token="",  # type: ignore[arg-type]
        matrix_homeserver=server.url,
        matrix_user_id=bot_id,
        matrix_password=PASSWORD,  # type: ignore[arg-type]
        matrix_access_token="",  # type: ignore[arg-type]
    )


class Line:
    """One gateway on Matrix: the store, the engine with the Matrix adapter exactly as
    the composition root builds it, and the clock."""

    def __init__(
        self, server: Homeserver, store: Store, clock: Clock, config: WorkflowConfig, bot_id: str
    ) -> None:
        self.server, self.store, self.clock, self.config = server, store, clock, config
        self.bot_id = bot_id
        adapter = build_adapters(settings_for(server, store.path, bot_id), store, config)["matrix"]
        assert isinstance(adapter, MatrixAdapter)
        self.adapter = adapter
        self.engine = Engine(store, clock, config, {"matrix": adapter})
        self.texts = self.engine.texts

    def text(self, language: str, key: str, **fields: object) -> str:
        return self.texts.render(language, key, **fields)

    async def received(self, event_id: str) -> bool:
        return await self.count("SELECT count(*) FROM inbox WHERE event_id = ?", event_id) > 0

    async def arrived(self, *event_ids: str) -> None:
        """Wait (bounded) until the bot's sync has stored these events in the inbox."""

        async def stored() -> bool:
            return all([await self.received(event_id) for event_id in event_ids])

        await until(stored, f"events {', '.join(event_ids)} in the inbox")

    async def settle(self, *event_ids: str) -> None:
        """Wait for these events to arrive, then do everything that is due."""
        await self.arrived(*event_ids)
        await self.engine.run_until_idle()

    async def advance(self, delta: timedelta) -> None:
        """Move the clock in one-minute steps, doing everything due at each step."""
        assert isinstance(self.clock, FakeClock)
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + MIN))
            await self.settle()

    async def person(self, name: str) -> Person:
        async with self.store.read() as tx:
            person = await tx.person_by_name(name)
        assert person is not None, name
        return person

    async def bound_to(self, user_id: str) -> tuple[str, str] | None:
        """(name, chat) of the person a Matrix user is enrolled as, if any."""
        async with self.store.read() as tx:
            identity = await tx.identity("matrix", user_id)
            person = None if identity is None else await tx.person(identity.person_id)
        return None if person is None or identity is None else (person.name, identity.chat)

    async def open_alert(self, name: str) -> Alert | None:
        person = await self.person(name)
        async with self.store.read() as tx:
            return await tx.unresolved_alert_of(person.id)

    async def alert(self, alert_id: int) -> Alert:
        async with self.store.read() as tx:
            alert = await tx.alert(alert_id)
        assert alert is not None
        return alert

    async def checkin_state(self, name: str) -> CheckinState:
        person = await self.person(name)
        rows = await self.rows(
            "SELECT state FROM checkins WHERE person_id = ? ORDER BY id DESC LIMIT 1", person.id
        )
        return CheckinState(rows[0][0])

    async def count(self, sql: str, *params: object) -> int:
        return int((await self.rows(sql, *params))[0][0])

    async def rows(self, sql: str, *params: object) -> list[Any]:
        async with self.store.read() as tx:
            return list(await tx._all(sql, params))

    async def dm_of(self, user_id: str) -> str:
        """The direct room the bot opened with a user (read from the adapter's state)."""
        async with self.store.read() as tx:
            room_id = await tx.kv_get(STATE_DM_PREFIX + user_id)
        assert room_id, f"the bot has no direct room with {user_id}"
        return room_id


async def open_line(
    server: Homeserver,
    db: Path,
    clock: Clock,
    config: WorkflowConfig,
    bot_id: str,
    *,
    people: str | None = None,
    loops: bool = False,
) -> Line:
    """`loops`: run the engine's own inbox, timer and outbox loops, as `carecheck run`
    does, instead of letting the test drive them."""
    store = Store(db)
    await store.open()
    if people is not None:
        await import_people(store, config, people, clock.now())
    line = Line(server, store, clock, config, bot_id)
    await line.engine.prepare()
    if loops:
        await line.engine.start()
    else:
        await line.engine.start_receiving()
    return line


async def close_line(line: Line) -> None:
    await line.engine.stop()
    await line.store.close()


@pytest.fixture
def config() -> WorkflowConfig:
    return parse_config(builtin_config_text())


@pytest.fixture
def server(synapse_server: Homeserver) -> Homeserver:
    return synapse_server


@pytest.fixture
def bot_id(server: Homeserver) -> str:
    """A fresh bot account per test: its first sync must not see other tests' rooms."""
    user_id, _, _ = server.register(f"carebot{uuid.uuid4().hex[:8]}", PASSWORD)
    return user_id


@pytest.fixture
async def people(server: Homeserver) -> AsyncIterator[Callable[[str], Member]]:
    made: list[Member] = []

    def make(prefix: str) -> Member:
        member = Member(server, prefix)
        made.append(member)
        return member

    yield make
    for member in made:
        await member.client.close()


# ---------------------------------------------------------------- enrollment


async def test_a_resident_links_herself_with_a_code_sent_in_a_direct_room_she_opened(
    server: Homeserver, tmp_path: Path, bot_id: str, people: Callable[[str], Member]
) -> None:
    # Nobody's Matrix id is known before they link, and under the default policy
    # (`known`) the bot declines rooms from unknown people: linking needs `anyone`.
    config = parse_config(builtin_config_text() + "\ninvite_policy: anyone\n")
    csv = (
        f"{HEADER}\nLeader Li,grid_leader,G1,B3,en,,1380001,,,,,\n"
        "王秀英,resident,G1,B3,zh,,1380011,,,,,\n"
    )
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=csv)
    wang, leader, stranger = people("wang"), people("leader"), people("stranger")
    try:
        code = await create_invitation(line.store, clock, config, "王秀英")
        room_id = await wang.open_room(bot_id)
        await line.settle(await wang.say(room_id, f"!link {code}"))

        assert await line.bound_to(wang.user_id) == ("王秀英", chat_ref("matrix", room_id))
        welcome = line.text("zh", "welcome_resident", name="王秀英", when="09:00")
        notice = line.text("zh", "privacy_notice", days=90)
        assert (await wang.room(room_id)).bodies(bot_id) == [welcome + "\n\n" + notice]

        # The same code again (a photo of the card), and a made-up one: refused plainly.
        invalid = line.text("zh", "invite_invalid") + "\n" + line.text("en", "invite_invalid")
        elsewhere = await stranger.open_room(bot_id)
        await line.settle(
            await stranger.say(elsewhere, f"!link {code}"),
            await stranger.say(elsewhere, "/start ZZZZ2345"),
        )
        assert (await stranger.room(elsewhere)).bodies(bot_id) == [invalid, invalid]
        assert await line.bound_to(stranger.user_id) is None

        # A responder may use /start as on Telegram, and is welcomed in English.
        code = await create_invitation(line.store, clock, config, "Leader Li")
        leader_room = await leader.open_room(bot_id)
        await line.settle(await leader.say(leader_room, f"/start {code.lower()}"))
        role = line.text("en", "role_grid_leader")
        assert (await leader.room(leader_room)).bodies(bot_id) == [
            line.text("en", "welcome_responder", name="Leader Li", role=role)
        ]

        # From now on the check-in comes to the room she opened, with its two reactions.
        await line.advance(30 * MIN)
        room = await wang.room(room_id)
        prompt = room.messages(bot_id)[-1]
        checkin = line.text("zh", "checkin", name="王秀英")
        ok, help_ = line.text("zh", "btn_ok"), line.text("zh", "btn_help")
        assert _body(prompt) == with_choices(checkin, ok, help_)
        assert room.reactions(prompt["event_id"]) == [(bot_id, "✅"), (bot_id, "🆘")]
        room.assert_rich(bot_id)
    finally:
        await close_line(line)


async def test_the_default_invite_policy_turns_away_rooms_from_unknown_people(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    stranger = people("stranger")
    # Nobody has a Matrix id in carecheck, and no invitation code is outstanding.
    csv = f"{HEADER}\nLeader Li,grid_leader,G1,B3,en,,1380001,,,,,\n"
    line = await open_line(server, tmp_path / "c.db", FakeClock(START), config, bot_id, people=csv)
    try:
        room_id = await stranger.open_room(bot_id)

        async def declined() -> bool:
            return any(
                e.get("state_key") == bot_id and e["content"].get("membership") == "leave"
                for e in (await stranger.room(room_id)).events
            )

        await until(declined, "the bot declining the stranger's room")
        room = await stranger.room(room_id)
        assert not [
            e for e in room.events if e["sender"] == bot_id and e["type"] != "m.room.member"
        ]
    finally:
        await close_line(line)


# ---------------------------------------------------------------- a day of answers


DAY_PEOPLE = """\
Leader Li,grid_leader,G1,B3,en,,1380001,,,,{leader},
Lead Zhang,care_lead,G1,,en,,1380002,,,,{lead},
王秀英,resident,G1,B3,zh,,1380011,B3-402,,,{wang},
Chen,resident,G1,B3,en,,1380012,B3-201,,,{chen},
赵大爷,resident,G1,B5,zh,,1380013,B5-101,,,{zhao},
孙阿姨,resident,G1,B5,zh,,1380014,B5-301,,,{sun},
"""


def day_csv(**user_ids: str) -> str:
    return HEADER + "\n" + DAY_PEOPLE.format(**user_ids)


async def test_residents_from_the_people_file_are_invited_and_answer_by_reaction_or_text(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    who = {name: people(name) for name in ("leader", "lead", "wang", "chen", "zhao", "sun")}
    ids = {name: member.user_id for name, member in who.items()}
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=day_csv(**ids))
    wang, chen = who["wang"], who["chen"]
    try:
        await line.advance(30 * MIN)  # 09:00 in Shanghai: the round
        # The bot opened a direct room with each resident and invited them.
        wang_room = await wang.accept_invite()
        assert wang.invites[wang_room] is True
        assert wang_room == await line.dm_of(wang.user_id)
        room = await wang.room(wang_room)
        [prompt] = room.messages(bot_id)
        checkin_zh = line.text("zh", "checkin", name="王秀英")
        ok_zh, help_zh = line.text("zh", "btn_ok"), line.text("zh", "btn_help")
        assert _body(prompt) == with_choices(checkin_zh, ok_zh, help_zh)
        assert room.reactions(prompt["event_id"]) == [(bot_id, "✅"), (bot_id, "🆘")]

        # 王秀英 taps the ✅ the bot put under its message.
        await line.settle(await wang.react(wang_room, prompt["event_id"], "✅"))
        assert await line.checkin_state("王秀英") is CheckinState.OK
        room = await wang.room(wang_room)
        recorded = line.text("zh", "recorded_ok", time="09:00")
        assert room.shown(prompt["event_id"]) == f"{checkin_zh}\n{recorded}"
        assert len(room.edits(prompt["event_id"])) == 1
        # Like buttons elsewhere, the bot's reactions went with the answer; hers stays.
        assert room.reactions(prompt["event_id"]) == [(wang.user_id, "✅")]
        assert len(room.messages(bot_id)) == 1  # the edit said it all: no extra message

        # Chen answers in words, a few minutes later.
        await line.advance(4 * MIN)
        chen_room = await chen.accept_invite()
        [chen_prompt] = (await chen.room(chen_room)).messages(bot_id)
        await line.settle(await chen.say(chen_room, "Fine, thanks. Going to the market."))
        assert await line.checkin_state("Chen") is CheckinState.OK
        room = await chen.room(chen_room)
        checkin_en = line.text("en", "checkin", name="Chen")
        recorded = line.text("en", "recorded_ok", time="09:04")
        assert room.shown(chen_prompt["event_id"]) == f"{checkin_en}\n{recorded}"
        assert room.bodies(bot_id)[1:] == [line.text("en", "thanks")]
        # He wrote from the room the bot opened: that room is now his chat.
        assert await line.bound_to(chen.user_id) == ("Chen", chat_ref("matrix", chen_room))

        # Nobody else heard about either of them, the rest of the day.
        await line.advance(90 * MIN)
        assert len((await wang.room(wang_room)).messages(bot_id)) == 1
        assert len((await chen.room(chen_room)).messages(bot_id)) == 2
        leader_room = await who["leader"].accept_invite()
        bodies = (await who["leader"].room(leader_room)).bodies(bot_id)
        assert not [b for b in bodies if "王秀英" in b or "Chen" in b]
        for room in (await wang.room(wang_room), await chen.room(chen_room)):
            room.assert_rich(bot_id)
    finally:
        await close_line(line)


async def test_silence_is_escalated_and_the_alert_is_acknowledged_and_closed_by_reaction(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    who = {name: people(name) for name in ("leader", "lead", "wang", "chen", "zhao", "sun")}
    ids = {name: member.user_id for name, member in who.items()}
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=day_csv(**ids))
    leader, lead, zhao = who["leader"], who["lead"], who["zhao"]
    try:
        await line.advance(30 * MIN)  # 09:00: the round; 王秀英 and Chen answer at once
        for name in ("wang", "chen"):
            room_id = await who[name].accept_invite()
            [prompt] = (await who[name].room(room_id)).messages(bot_id)
            await line.settle(await who[name].react(room_id, prompt["event_id"], "✅"))

        # 赵大爷 (who accepts the invite but says nothing) and 孙阿姨 (who never opens
        # it) stay silent: a reminder at 09:30, the grid leader at 10:00.
        zhao_room = await zhao.accept_invite()
        await line.advance(30 * MIN)
        reminder = line.text("zh", "reminder", name="赵大爷")
        ok_zh, help_zh = line.text("zh", "btn_ok"), line.text("zh", "btn_help")
        room = await zhao.room(zhao_room)
        assert room.bodies(bot_id)[-1] == with_choices(reminder, ok_zh, help_zh)
        assert await line.checkin_state("赵大爷") is CheckinState.REMINDED

        await line.advance(30 * MIN)
        missed = await line.open_alert("赵大爷")
        assert missed is not None and missed.reason is AlertReason.MISSED
        leader_room = await leader.accept_invite()
        room = await leader.room(leader_room)
        alert_id = room.about(bot_id, "赵大爷")
        ack, close = line.text("en", "btn_ack"), line.text("en", "btn_resolve")
        alert_text = line.text(
            "en",
            "alert_missed",
            alert=missed.id,
            name="赵大爷",
            place="G1 B5",
            phone="1380013",
            due="11-23 09:00",
            deadline="10:00",
        )
        alert_text += "\n" + line.text(
            "en",
            "alert_details",
            address="B5-101",
            phone="1380013",
            family="-",
            last_heard=line.text("en", "never"),
            missed=1,
        )
        open_footer = line.text("en", "alert_footer_open")
        assert room.shown(alert_id) == with_choices(f"{alert_text}\n{open_footer}", ack, close)
        assert room.reactions(alert_id) == [(bot_id, "👀"), (bot_id, "✅")]
        assert not [b for b in room.bodies(bot_id) if mentions(b, "王秀英") or mentions(b, "Chen")]

        # Nobody acknowledged in 20 minutes: the care lead is told too.
        await line.advance(20 * MIN)
        lead_room = await lead.accept_invite()
        lead_alert = (await lead.room(lead_room)).about(bot_id, "赵大爷")

        # The grid leader takes it with 👀: every copy says who has it.
        await line.settle(await leader.react(leader_room, alert_id, "👀"))
        assert (await line.alert(missed.id)).state is AlertState.ACKNOWLEDGED
        acked = line.text("en", "alert_footer_acked", who="Leader Li", time="10:20")
        for member, room_id, event_id in (
            (leader, leader_room, alert_id),
            (lead, lead_room, lead_alert),
        ):
            room = await member.room(room_id)
            assert room.shown(event_id) == with_choices(f"{alert_text}\n{acked}", close)
            assert len(room.edits(event_id)) == 1
            # Only ✅ is left to tap; the bot took its 👀 back.
            assert [r for r in room.reactions(event_id) if r[0] == bot_id] == [(bot_id, "✅")]
        room = await leader.room(leader_room)
        assert room.bodies(bot_id)[-1] == line.text("en", "acked", alert=missed.id)

        # ✅ asks for the outcome; 🚪 on that question closes the alert as visited.
        await line.advance(15 * MIN)
        await line.settle(await leader.react(leader_room, alert_id, "✅"))
        room = await leader.room(leader_room)
        menu = room.messages(bot_id)[-1]
        outcomes = [
            f"{emoji} {line.text('en', f'outcome_{outcome}')}"
            for outcome, emoji in (
                ("ok", "🙂"),
                ("visited", "🚪"),
                ("hospital", "🏥"),
                ("unreachable", "❓"),
            )
        ]
        question = line.text("en", "choose_outcome", alert=missed.id, name="赵大爷")
        assert _body(menu) == with_choices(question, *outcomes)
        assert [key for _, key in room.reactions(menu["event_id"])] == ["🙂", "🚪", "🏥", "❓"]
        await line.settle(await leader.react(leader_room, menu["event_id"], "🚪"))
        closed = await line.alert(missed.id)
        assert closed.state is AlertState.RESOLVED and closed.outcome == "visited"
        visited = line.text("en", "outcome_visited")
        resolved = line.text(
            "en", "alert_footer_resolved", who="Leader Li", time="10:35", outcome=visited
        )
        for member, room_id, event_id in (
            (leader, leader_room, alert_id),
            (lead, lead_room, lead_alert),
        ):
            room = await member.room(room_id)
            assert room.shown(event_id) == f"{alert_text}\n{resolved}"
            assert [r for r in room.reactions(event_id) if r[0] == bot_id] == []
        room = await leader.room(leader_room)
        assert room.bodies(bot_id)[-1] == line.text(
            "en", "resolved", alert=missed.id, outcome=visited
        )

        # The care lead closes 孙阿姨's alert with a command instead.
        sun_alert = await line.open_alert("孙阿姨")
        assert sun_alert is not None
        await line.settle(await lead.say(lead_room, f"!resolve {sun_alert.id} visited"))
        assert (await line.alert(sun_alert.id)).outcome == "visited"
        resolved = line.text(
            "en", "alert_footer_resolved", who="Lead Zhang", time="10:35", outcome=visited
        )
        for member, room_id in ((leader, leader_room), (lead, lead_room)):
            room = await member.room(room_id)
            assert room.shown(room.about(bot_id, "孙阿姨")).endswith(f"\n{resolved}")
        room = await lead.room(lead_room)
        assert room.bodies(bot_id)[-1] == line.text(
            "en", "resolved", alert=sun_alert.id, outcome=visited
        )

        # Each alert went once to each responder; every message has both renderings.
        for member, room_id in ((leader, leader_room), (lead, lead_room)):
            room = await member.room(room_id)
            for name in ("赵大爷", "孙阿姨"):
                room.about(bot_id, name)
            room.assert_rich(bot_id)
        (await zhao.room(zhao_room)).assert_rich(bot_id)
    finally:
        await close_line(line)


async def test_a_resident_who_leaves_her_room_is_reported_unreachable_once(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    who = {name: people(name) for name in ("leader", "lead", "wang", "chen", "zhao", "sun")}
    ids = {name: member.user_id for name, member in who.items()}
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=day_csv(**ids))
    leader = who["leader"]
    try:
        await line.advance(30 * MIN)
        wang_room = await who["wang"].accept_invite()
        await line.advance(5 * MIN)
        await who["wang"].client.room_leave(wang_room)

        async def reported() -> bool:
            like = '%"type": "ChatLeft"%'
            return await line.count("SELECT count(*) FROM inbox WHERE payload LIKE ?", like) == 1

        await until(reported, "her leaving reported")
        await line.settle()

        unreachable = await line.open_alert("王秀英")
        assert unreachable is not None and unreachable.reason is AlertReason.UNREACHABLE
        leader_room = await leader.accept_invite()
        room = await leader.room(leader_room)
        alert_text = line.text(
            "en",
            "alert_unreachable",
            alert=unreachable.id,
            name="王秀英",
            place="G1 B3",
            phone="1380011",
            time="09:05",
            reason=chat_ref("matrix", wang_room),
        )
        assert room.shown(room.about(bot_id, "王秀英")).startswith(alert_text)

        # The bot left the empty room too: the reminder to it fails for good, and that,
        # like her window closing, joins the alert already open instead of a new one.
        await line.advance(60 * MIN)
        wang = await line.person("王秀英")
        assert await line.count("SELECT count(*) FROM alerts WHERE person_id = ?", wang.id) == 1
        assert await line.checkin_state("王秀英") is CheckinState.UNREACHABLE
        failed = await line.rows("SELECT purpose, last_error FROM outbox WHERE state = 'failed'")
        assert [(purpose, "M_FORBIDDEN" in error) for purpose, error in failed] == [
            ("reminder", True)
        ]
        # Unacknowledged, the walk came back round to the grid leader (care lead at 09:25,
        # no family, the leader again at 09:55): the same alert, not a new one.
        # The older copy now points to the newer one and has no reactions to use.
        room = await leader.room(leader_room)
        about_her = [b for b in room.bodies(bot_id) if mentions(b, "王秀英")]
        assert [b.startswith(alert_text) for b in about_her] == [True]
        superseded = line.text("en", "alert_superseded", alert=unreachable.id)
        assert superseded in room.bodies(bot_id)
        assert (await line.alert(unreachable.id)).state is AlertState.OPEN
    finally:
        await close_line(line)


async def test_an_encrypted_room_still_counts_as_a_sign_of_life_and_is_listed_for_the_operator(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    wang = people("wang")
    csv = (
        f"{HEADER}\nLeader Li,grid_leader,G1,B3,en,,1380001,,,,,\n"
        f"王秀英,resident,G1,B3,zh,,1380011,,,,{wang.user_id},\n"
    )
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=csv)
    try:
        # Her phone made the room encrypted, as Element does by default for direct chats.
        encryption = {"algorithm": "m.megolm.v1.aes-sha2"}
        response = await wang.client.room_create(
            is_direct=True,
            preset=RoomPreset.trusted_private_chat,
            invite=[bot_id],
            initial_state=[{"type": "m.room.encryption", "state_key": "", "content": encryption}],
        )
        assert isinstance(response, RoomCreateResponse), response
        room_id = str(response.room_id)

        async def joined() -> bool:
            async with line.store.read() as tx:
                return await tx.kv_get(STATE_DM_PREFIX + wang.user_id) == room_id

        await until(joined, "the bot in her encrypted room")
        await line.advance(30 * MIN)  # the prompt goes out (readable: the bot sends plain)
        ciphertext = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnACgAkLmt6qF84IK",
            "device_id": "RJYKSTBOIE",
            "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
            "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
        }
        await line.settle(await wang.send(room_id, "m.room.encrypted", ciphertext))

        # Unreadable, but she wrote: that is an answer.
        assert await line.checkin_state("王秀英") is CheckinState.OK
        room = await wang.room(room_id)
        assert DEFAULT_ENCRYPTED_NOTICE in room.bodies(bot_id)
        shown = status.render_table(await status.today(line.store, clock.now(), "Asia/Shanghai"))
        assert f"warning: Matrix room {room_id} is encrypted; the bot cannot read it" in shown
    finally:
        await close_line(line)


# ---------------------------------------------------------------- rooms with several people


async def test_an_operator_brings_the_bot_into_a_team_room_and_links_it_with_a_code(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    operator, member = people("operator"), people("member")
    csv = (
        f"{HEADER}\nLeader Li,grid_leader,G1,B3,en,,1380001,,,,,\n"
        f"Zhou,operator,,,en,,1380099,,,,{operator.user_id},\n"
    )
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=csv)
    try:
        team = "medicine"
        code = await create_invitation(line.store, clock, config, "", team=team)
        # The default policy: the operator is known by their Matrix id, so the bot joins.
        room_id = await operator.open_room(
            bot_id, member.user_id, direct=False, name="Medicine team"
        )
        assert await member.accept_invite() == room_id
        await line.settle(await operator.say(room_id, f"!link {code}"))
        async with line.store.read() as tx:
            assert await tx.team_chats(team) == [chat_ref("matrix", room_id)]
        room = await operator.room(room_id)
        assert room.bodies(bot_id) == [line.text("zh", "welcome_team", team=team)]

        # Ordinary chatter in the team room, from a member nobody enrolled and from the
        # operator: the bot stays quiet, and the operator's own chat stays theirs.
        await line.settle(
            await member.say(room_id, "I'll pick up the prescriptions at three."),
            await operator.say(room_id, "Thanks! 谢谢"),
            await member.say(room_id, "1"),
        )
        room = await operator.room(room_id)
        assert len(room.messages(bot_id)) == 1
        assert await line.bound_to(operator.user_id) == (
            "Zhou",
            chat_ref("matrix", operator.user_id),
        )
        assert await line.bound_to(member.user_id) is None
        assert await line.count("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0
    finally:
        await close_line(line)


async def test_reactions_from_anyone_but_the_addressee_change_nothing(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    who = {name: people(name) for name in ("leader", "lead", "wang", "chen", "zhao", "sun")}
    ids = {name: member.user_id for name, member in who.items()}
    son, other = people("son"), people("other")
    csv = (
        day_csv(**ids)
        + f"Son Wang,family,,,en,,1390021,,,,{son.user_id},王秀英\n"
        + f"Leader Other,grid_leader,G2,B9,en,,1380009,,,,{other.user_id},\n"
    )
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=csv)
    wang, leader = who["wang"], who["leader"]
    try:
        await line.advance(30 * MIN)
        wang_room = await wang.accept_invite()
        [prompt] = (await wang.room(wang_room)).messages(bot_id)
        # Her son, who helped her set up the phone, is in her room too.
        await wang.client.room_invite(wang_room, son.user_id)
        assert await son.accept_invite(wang_room) == wang_room

        # He taps her 🆘 and her ✅: neither is his to press.
        await line.settle(
            await son.react(wang_room, prompt["event_id"], "🆘"),
            await son.react(wang_room, prompt["event_id"], "✅"),
        )
        assert await line.checkin_state("王秀英") is CheckinState.SENT
        assert await line.open_alert("王秀英") is None
        room = await wang.room(wang_room)
        assert room.edits(prompt["event_id"]) == []
        refused = line.text("en", "not_allowed")
        assert room.bodies(bot_id)[1:] == [refused, refused]

        # Her own tap still counts.
        await line.settle(await wang.react(wang_room, prompt["event_id"], "✅"))
        assert await line.checkin_state("王秀英") is CheckinState.OK
        assert len((await wang.room(wang_room)).edits(prompt["event_id"])) == 1

        # The silent residents' alerts reach the grid leader at 10:00. A grid leader of
        # another grid, whom he asked into his room, reacts 👀 on one: refused.
        await line.advance(60 * MIN)
        leader_room = await leader.accept_invite()
        alert_event = (await leader.room(leader_room)).about(bot_id, "赵大爷")
        await leader.client.room_invite(leader_room, other.user_id)
        assert await other.accept_invite() == leader_room
        await line.settle(await other.react(leader_room, alert_event, "👀"))
        missed = await line.open_alert("赵大爷")
        assert missed is not None and missed.state is AlertState.OPEN
        room = await leader.room(leader_room)
        assert room.edits(alert_event) == []
        assert room.bodies(bot_id)[-1] == refused
        # Synapse itself refuses a reaction sent from another room to her prompt.
        chen_room = await who["chen"].accept_invite()
        relation = {"rel_type": "m.annotation", "event_id": prompt["event_id"], "key": "🆘"}
        response = await who["chen"].client.room_send(
            chen_room, "m.reaction", {"m.relates_to": relation}
        )
        assert not isinstance(response, RoomSendResponse)
    finally:
        await close_line(line)


# ---------------------------------------------------------------- restart


@pytest.mark.parametrize(
    "resend_first",
    [
        pytest.param(True, id="interrupted-sends-first"),
        # The acknowledgement is handled before the interrupted sends go again: the
        # copies still pending are sent (Synapse recognises their transaction ids) and
        # edited, not cancelled and posted anew beside the ones already showing.
        pytest.param(False, id="inbox-first"),
    ],
)
async def test_a_restart_mid_escalation_posts_nothing_twice_and_loses_no_event(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
    resend_first: bool,
) -> None:
    who = {name: people(name) for name in ("leader", "lead", "wang", "chen", "zhao", "sun")}
    ids = {name: member.user_id for name, member in who.items()}
    db = tmp_path / "c.db"
    clock = FakeClock(START)
    line = await open_line(server, db, clock, config, bot_id, people=day_csv(**ids))
    leader, lead = who["leader"], who["lead"]
    try:
        await line.advance(90 * MIN)  # everyone silent: the grid leader is told at 10:00
        leader_room = await leader.accept_invite()
        header = line.text("en", "alerts_header")
        await line.settle(await leader.say(leader_room, "!alerts"))
        assert (await leader.room(leader_room)).bodies(bot_id)[-1].startswith(header)

        # 10:20: the care lead's step fires and its messages go out, but the process dies
        # before it writes down that they were sent.
        clock.advance(20 * MIN)
        await line.engine.fire_due_timers()
        async with line.store.read() as tx:
            pending = await tx.sendable("matrix", clock.now(), 100)
        assert len(pending) == 4 and {row.purpose for row in pending} == {"alert"}
        for row in pending:
            await line.adapter.deliver(row.delivery())
        # The leader's next command reached the inbox, and then the process died.
        asked = await leader.say(leader_room, "!alerts")
        await line.arrived(asked)
    finally:
        await line.engine.stop()
        await line.store.close()

    # While it is down the leader takes 赵大爷's alert with 👀.
    zhao_alert = (await leader.room(leader_room)).about(bot_id, "赵大爷")
    took = await leader.react(leader_room, zhao_alert, "👀")
    clock.advance(5 * MIN)

    line = await open_line(server, db, clock, config, bot_id)
    try:
        if resend_first:
            await line.engine.flush_outbox()  # the interrupted sends, before the answers
        await line.settle(took)
        await line.advance(2 * MIN)

        for event_id in (asked, took):
            assert await line.count("SELECT count(*) FROM inbox WHERE event_id = ?", event_id) == 1
        lead_room = await lead.accept_invite()
        lead_view = await lead.room(lead_room)
        leader_view = await leader.room(leader_room)
        for name in ("王秀英", "Chen", "赵大爷", "孙阿姨"):
            lead_view.about(bot_id, name)  # exactly one each: the resend was recognised
            leader_view.about(bot_id, name)
        # Both copies of 赵大爷's alert were edited once to say who has it.
        acked = await line.open_alert("赵大爷")
        assert acked is not None and acked.state is AlertState.ACKNOWLEDGED
        for view in (lead_view, leader_view):
            event_id = view.about(bot_id, "赵大爷")
            assert len(view.edits(event_id)) == 1
            assert "Acknowledged by Leader Li (10:25)" in view.shown(event_id)
        # Two "!alerts" asked, two answered; one "#N is yours".
        bodies = leader_view.bodies(bot_id)
        assert len([b for b in bodies if b.startswith(header)]) == 2
        assert bodies.count(line.text("en", "acked", alert=acked.id)) == 1
        leader_view.assert_rich(bot_id)
        lead_view.assert_rich(bot_id)
    finally:
        await close_line(line)


# ---------------------------------------------------------------- Synapse's own limits


async def test_a_burst_under_synapses_default_limits_is_paced_by_retry_after_and_all_arrive(
    synapse_server_default_limits: Homeserver, tmp_path: Path
) -> None:
    server = synapse_server_default_limits
    # Real time, so no quiet hours: at night in Shanghai the round would wait for morning.
    config = parse_config(builtin_config_text().replace('quiet_hours: "21:30-07:00"', ""))
    assert all(plan.quiet_hours is None for plan in config.plans.values())
    bot_id, _, _ = server.register(f"carebot{uuid.uuid4().hex[:8]}", PASSWORD)
    # Synapse's default rc_message is 0.2/s with a burst of 10, and the bot's joins count
    # too: 3 joins, then 3 prompts with 2 reactions each, is 2 events over the burst.
    residents = [Member(server, f"res{index}") for index in range(3)]
    rows = [f"{HEADER}", "Leader Li,grid_leader,G1,B3,en,,1380001,,,,,"]
    rows += [
        f"R{index},resident,G1,B3,en,,139000{index},,,,{member.user_id},"
        for index, member in enumerate(residents)
    ]
    # Real time and the engine's own loops: the outbox worker waits out retry_after.
    line = await open_line(
        server,
        tmp_path / "c.db",
        SystemClock(),
        config,
        bot_id,
        people="\n".join(rows) + "\n",
        loops=True,
    )
    try:
        rooms = [await member.open_room(bot_id) for member in residents]

        async def joined() -> bool:
            async with line.store.read() as tx:
                known = [await tx.kv_get(STATE_DM_PREFIX + m.user_id) for m in residents]
            return known == rooms

        await until(joined, "the bot in every resident's room")
        began = time.monotonic()
        assert await line.engine.start_round_now() == 3

        async def all_sent() -> bool:
            return await line.count("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0

        await until(all_sent, "the whole round delivered", within=60)
        took = time.monotonic() - began

        attempts = await line.rows(
            "SELECT outbox_id, ok, permanent, error, at FROM delivery_attempts ORDER BY id"
        )
        limited = [a for a in attempts if not a[1]]
        assert limited, f"Synapse never limited the burst: {attempts}"
        assert all("M_LIMIT_EXCEEDED" in a[3] and not a[2] for a in limited)
        # Each limited row went out on a later attempt, after Synapse's wait.
        for outbox_id, _, _, _, failed_at in limited:
            done = [a[4] for a in attempts if a[0] == outbox_id and a[1]]
            assert len(done) == 1 and done[0] - failed_at >= 1.0, attempts
        assert took >= 8.0  # two more events at 0.2/s: Synapse's pace, not ours
        for member, room_id in zip(residents, rooms, strict=True):
            room = await member.room(room_id)
            [prompt] = room.messages(bot_id)
            assert room.reactions(prompt["event_id"]) == [(bot_id, "✅"), (bot_id, "🆘")]
    finally:
        await close_line(line)
        for member in residents:
            await member.client.close()


# ---------------------------------------------------------------- need to know


async def test_a_need_taken_in_a_team_room_shows_the_address_only_privately_until_done(
    server: Homeserver,
    tmp_path: Path,
    config: WorkflowConfig,
    bot_id: str,
    people: Callable[[str], Member],
) -> None:
    operator, ma, wang = people("operator"), people("ma"), people("wang")
    csv = (
        f"{HEADER}\nLeader Li,grid_leader,G1,B3,en,,1380001,,,,,\n"
        f"Zhou,operator,,,en,,1380099,,,,{operator.user_id},\n"
        f"Volunteer Ma,team_member,G1,,en,,1380004,,,,{ma.user_id},\n"
        f"王秀英,resident,G1,B3,zh,,1380011,B3-402,,,{wang.user_id},\n"
    )
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, bot_id, people=csv)
    try:
        code = await create_invitation(line.store, clock, config, "", team="medicine")
        team_room = await operator.open_room(bot_id, ma.user_id, direct=False, name="药品组")
        assert await ma.accept_invite() == team_room
        await line.settle(await operator.say(team_room, f"!link {code}"))

        wang_room = await wang.open_room(bot_id)
        await line.settle(await wang.say(wang_room, "/need 药 降压药没了"))
        room = await operator.room(team_room)
        posted = room.messages(bot_id)[-1]
        body = _body(posted)
        # The room sees the need, a first name and the building: nothing more.
        assert "王*英（B3）" in body and "降压药没了" in body
        assert "王秀英" not in body and "1380011" not in body and "B3-402" not in body

        # Ma takes it with the 🙋 under the post: the details come to Ma alone.
        await line.settle(await ma.react(team_room, posted["event_id"], "🙋"))
        ma_dm = await line.dm_of(ma.user_id)
        assert isinstance(await ma.client.join(ma_dm), JoinResponse)
        # Asked first (a volunteer from the people file), then told what they took.
        question, revealed = (await ma.room(ma_dm)).messages(bot_id)
        assert "Receive alerts and needs of G1's residents?" in _body(question)
        assert "B3-402" in _body(revealed) and "1380011" in _body(revealed)
        assert "B3-402" not in (await operator.room(team_room)).shown(posted["event_id"])

        # Done: the message that carried them is edited, and they are gone.
        await line.settle(await ma.say(team_room, "!done 1"))
        dm = await ma.room(ma_dm)
        assert len(dm.edits(revealed["event_id"])) == 1
        shown = dm.shown(revealed["event_id"])
        assert "B3-402" not in shown and "1380011" not in shown and "Need #1" in shown
        dm.assert_rich(bot_id)
    finally:
        await close_line(line)
