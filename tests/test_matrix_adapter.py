"""The Matrix adapter against a real Synapse, with plain matrix-nio clients playing the
residents and responders on the other side."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from nio import AsyncClient, AsyncClientConfig, JoinResponse, RoomCreateResponse, RoomPreset

from adapters.base import AdapterContext, AdapterStartError, DeliveryError
from adapters.matrix import MatrixAdapter
from adapters.matrix.adapter import (
    STATE_ACCESS_TOKEN,
    STATE_DEVICE_ID,
    STATE_DM_PREFIX,
    STATE_ENCRYPTED_ROOMS,
    STATE_NEXT_BATCH,
    STATE_USER_ID,
)
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, InboundEvent, MessageKind, MessageReceived
from core.ids import ChatRef, OutboxId

if TYPE_CHECKING:
    # Only for annotations: pytest itself imports tests.synapse, as a plugin, below;
    # importing it here first would keep pytest from rewriting its asserts.
    from tests.synapse import Homeserver

pytest_plugins = ["tests.synapse"]
pytestmark = pytest.mark.matrix

WAIT = 15.0  # seconds; every wait below is bounded by it
PASSWORD = "correct horse battery staple"
FINE = Button("我很好 / I'm fine", "tok-ok", "✅")
HELP = Button("需要帮助 / Help", "tok-help", "🆘")


# ---------------------------------------------------------------- test doubles


class RecordingInbox:
    """The gateway's inbox as the adapter sees it: keeps events, drops repeated ids."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []
        self._changed = asyncio.Condition()

    async def receive(self, event: InboundEvent) -> bool:
        if any(seen.event_id == event.event_id for seen in self.events):
            return False
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()
        return True

    async def wait_for(self, predicate: Callable[[InboundEvent], bool]) -> InboundEvent:
        async def first() -> InboundEvent:
            async with self._changed:
                while True:
                    for event in self.events:
                        if predicate(event):
                            return event
                    await self._changed.wait()

        return await asyncio.wait_for(first(), WAIT)


class MemoryState:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


class Person:
    """Someone on the other side, using an ordinary Matrix client."""

    def __init__(self, server: Homeserver, name: str) -> None:
        self.user_id, token, device = server.register(name, PASSWORD)
        self.client = AsyncClient(server.url, self.user_id, config=_plain())
        self.client.restore_login(self.user_id, device, token)
        self.next_batch: str | None = None
        # Everything seen so far, per room: later waits look here first.
        self.timeline: list[tuple[str, dict[str, Any]]] = []
        self.invites: list[str] = []

    async def catch_up(self) -> None:
        response = await self.client.sync(timeout=0, since=self.next_batch)
        self.next_batch = response.next_batch
        for room_id, info in response.rooms.join.items():
            self.timeline += [(room_id, event.source) for event in info.timeline.events]
        for room_id, info in response.rooms.leave.items():
            self.timeline += [(room_id, event.source) for event in info.timeline.events]
        self.invites += [room for room in response.rooms.invite if room not in self.invites]

    async def wait_for(self, predicate: Callable[[str, dict[str, Any]], bool]) -> dict[str, Any]:
        async def first() -> dict[str, Any]:
            while True:
                for room_id, source in self.timeline:
                    if predicate(room_id, source):
                        return source
                await self.catch_up()
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(first(), WAIT)

    async def accept_invite(self) -> str:
        async def invited() -> str:
            while not self.invites:
                await self.catch_up()
                await asyncio.sleep(0.05)
            return self.invites.pop(0)

        room_id = await asyncio.wait_for(invited(), WAIT)
        assert isinstance(await self.client.join(room_id), JoinResponse)
        return room_id

    async def open_room(self, *invite: str, direct: bool = True, **options: Any) -> str:
        response = await self.client.room_create(
            is_direct=direct,
            preset=RoomPreset.trusted_private_chat,
            invite=list(invite),
            **options,
        )
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def say(self, room_id: str, content: dict[str, Any], kind: str = "m.room.message") -> str:
        response = await self.client.room_send(room_id, kind, content)
        return str(response.event_id)

    async def reactions_on(self, room_id: str, event_id: str) -> list[tuple[str, str]]:
        """(sender, key) of the live reactions on a message, as the server has them now."""
        page = await self.client.room_messages(room_id, limit=100)
        return [
            (e.source["sender"], e.source["content"]["m.relates_to"]["key"])
            for e in reversed(page.chunk)
            if e.source["type"] == "m.reaction"
            and e.source.get("content", {}).get("m.relates_to", {}).get("event_id") == event_id
        ]

    async def messages_in(self, room_id: str, marker: str) -> list[dict[str, Any]]:
        """All messages in the room up to a marker this person sends now: once the marker
        is back, everything sent before it has been seen."""
        await self.say(room_id, {"msgtype": "m.text", "body": marker})
        await self.wait_for(lambda room, e: room == room_id and _body(e) == marker)
        return [e for room, e in self.timeline if room == room_id and e["type"] == "m.room.message"]


def _plain() -> AsyncClientConfig:
    return AsyncClientConfig(encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0)


def _body(source: dict[str, Any]) -> str:
    body = source.get("content", {}).get("body", "")
    return body if isinstance(body, str) else ""


def _text(body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body}


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def server(synapse_server: Homeserver) -> Homeserver:
    return synapse_server


@pytest.fixture
async def people(server: Homeserver) -> AsyncIterator[Callable[[str], Person]]:
    made: list[Person] = []

    def make(prefix: str) -> Person:
        person = Person(server, _name(prefix))
        made.append(person)
        return person

    yield make
    for person in made:
        await person.client.close()


@pytest.fixture
def bot_id(server: Homeserver) -> str:
    user_id, _, _ = server.register(_name("carebot"), PASSWORD)
    return user_id


@pytest.fixture
def context() -> AdapterContext:
    return AdapterContext(inbox=RecordingInbox(), state=MemoryState())


def inbox_of(context: AdapterContext) -> RecordingInbox:
    assert isinstance(context.inbox, RecordingInbox)
    return context.inbox


def state_of(context: AdapterContext) -> dict[str, str]:
    assert isinstance(context.state, MemoryState)
    return context.state.values


@contextlib.asynccontextmanager
async def running(adapter: MatrixAdapter, context: AdapterContext) -> AsyncIterator[MatrixAdapter]:
    await asyncio.wait_for(adapter.start(context), WAIT)
    try:
        yield adapter
    finally:
        await asyncio.wait_for(adapter.stop(), WAIT)


def adapter_for(server: Homeserver, bot_id: str, **options: Any) -> MatrixAdapter:
    return MatrixAdapter(
        server.url, bot_id, password=PASSWORD, **{"sync_timeout_ms": 5000} | options
    )


def to(chat: str, text: str, outbox_id: int, **fields: Any) -> Delivery:
    return Delivery(outbox_id=OutboxId(outbox_id), chat=ChatRef(chat), text=text, **fields)


async def dm_with(person: Person, bot_id: str, context: AdapterContext) -> str:
    """A direct room the resident opened with the (running) bot, once the bot is in."""
    room_id = await person.open_room(bot_id)
    await person.wait_for(
        lambda room, e: room == room_id and e.get("state_key") == bot_id and _joined(e)
    )
    return room_id


def _joined(source: dict[str, Any]) -> bool:
    return bool(source.get("content", {}).get("membership") == "join")


# ---------------------------------------------------------------- sign-in


async def test_it_logs_in_once_and_reuses_the_stored_device_after_a_restart(
    server: Homeserver, bot_id: str, context: AdapterContext
) -> None:
    async with running(adapter_for(server, bot_id), context):
        pass
    first = dict(state_of(context))

    async with running(adapter_for(server, bot_id), context):
        pass

    assert first[STATE_USER_ID] == bot_id and first[STATE_ACCESS_TOKEN] and first[STATE_DEVICE_ID]
    assert {k: state_of(context)[k] for k in (STATE_ACCESS_TOKEN, STATE_DEVICE_ID)} == {
        k: first[k] for k in (STATE_ACCESS_TOKEN, STATE_DEVICE_ID)
    }
    checker = AsyncClient(server.url, bot_id, config=_plain())
    checker.restore_login(bot_id, first[STATE_DEVICE_ID], first[STATE_ACCESS_TOKEN])
    devices = await checker.devices()
    await checker.close()
    # The one from registration and the adapter's: a restart added none.
    assert len(devices.devices) == 2


async def test_it_refuses_to_start_with_a_wrong_password_without_repeating_it(
    server: Homeserver, bot_id: str, context: AdapterContext
) -> None:
    wrong = "hunter2-wrong-password"
    adapter = MatrixAdapter(server.url, bot_id, password=wrong)

    with pytest.raises(AdapterStartError) as refused:
        await asyncio.wait_for(adapter.start(context), WAIT)

    message = str(refused.value)
    assert wrong not in message and "\n" not in message
    assert "M_FORBIDDEN" in message and bot_id in message
    assert STATE_ACCESS_TOKEN not in state_of(context)


async def test_it_keeps_trying_when_the_homeserver_is_unreachable(
    context: AdapterContext,
) -> None:
    adapter = MatrixAdapter("http://127.0.0.1:9", "@bot:localhost", access_token="syt_secret")

    async with running(adapter, context):  # starting neither fails nor hangs
        problem = adapter.receive_problem(120)

    assert problem is not None and "cannot reach the homeserver" in problem
    assert "syt_secret" not in problem


# ---------------------------------------------------------------- receiving


async def test_it_ignores_history_from_before_its_first_start(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    room_id = await grandma.open_room(bot_id)
    await grandma.say(room_id, _text("written before the bot ever started"))

    async with running(adapter_for(server, bot_id), context):
        # The invite from before the first start is still answered.
        await grandma.wait_for(lambda room, e: e.get("state_key") == bot_id and _joined(e))
        await grandma.say(room_id, _text("good morning"))
        await inbox_of(context).wait_for(lambda e: getattr(e, "text", "") == "good morning")

    texts = [getattr(e, "text", None) for e in inbox_of(context).events]
    assert texts == ["good morning"]
    assert STATE_NEXT_BATCH in state_of(context)


async def test_it_reports_text_voice_photo_and_reactions_but_not_its_own_messages(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    inbox = inbox_of(context)
    async with running(adapter_for(server, bot_id), context) as adapter:
        room_id = await dm_with(grandma, bot_id, context)
        prompt_id = await adapter.deliver(
            to(f"matrix:{room_id}", "今天好吗?", 1, buttons=((FINE,),))
        )
        await grandma.say(room_id, _text("我很好"))
        await grandma.say(room_id, {"msgtype": "m.audio", "body": "Voice", "url": "mxc://l/a"})
        await grandma.say(room_id, {"msgtype": "m.image", "body": "x.jpg", "url": "mxc://l/i"})
        await grandma.say(
            room_id,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": prompt_id, "key": "✅"}},
            kind="m.reaction",
        )
        pressed = await inbox.wait_for(lambda e: isinstance(e, ButtonPressed))

    messages = [e for e in inbox.events if isinstance(e, MessageReceived)]
    assert [(m.kind, m.text) for m in messages] == [
        (MessageKind.TEXT, "我很好"),
        (MessageKind.VOICE, ""),
        (MessageKind.PHOTO, ""),
    ]
    assert isinstance(pressed, ButtonPressed)
    assert (pressed.platform_message_id, pressed.reaction_key) == (prompt_id, "✅")
    assert {e.sender.address for e in inbox.events} == {grandma.user_id}
    assert {e.sender.chat for e in inbox.events} == {ChatRef(f"matrix:{room_id}")}
    assert not any(e.chat != ChatRef(f"matrix:{room_id}") for e in inbox.events)


async def test_it_keeps_what_a_resident_wrote_before_it_accepted_the_invite(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context):
        pass  # the first start: from now on nothing is history
    room_id = await grandma.open_room(bot_id)
    await grandma.say(room_id, _text("!link 4711"))

    async with running(adapter_for(server, bot_id), context):
        linked = await inbox_of(context).wait_for(lambda e: getattr(e, "text", "") == "!link 4711")

    assert linked.chat == ChatRef(f"matrix:{room_id}")
    assert state_of(context)[STATE_DM_PREFIX + grandma.user_id] == room_id


async def test_it_tells_group_rooms_from_direct_ones(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    lead, member = people("lead"), people("member")
    async with running(adapter_for(server, bot_id), context) as adapter:
        team = await lead.open_room(bot_id, member.user_id, direct=False, name="Team A")
        await member.accept_invite()
        await lead.wait_for(lambda room, e: e.get("state_key") == bot_id and _joined(e))
        await member.say(team, _text("on my way"))
        said = await inbox_of(context).wait_for(lambda e: getattr(e, "text", "") == "on my way")
        direct = await dm_with(lead, bot_id, context)

        assert isinstance(said, MessageReceived) and said.is_group
        assert said.sender.chat == ChatRef(f"matrix:{member.user_id}")
        assert adapter.is_group(ChatRef(f"matrix:{team}"))
        assert not adapter.is_group(ChatRef(f"matrix:{direct}"))
        assert not adapter.is_group(ChatRef(f"matrix:{member.user_id}"))


async def test_it_declines_invites_that_may_join_rejects(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma, stranger = people("grandma"), people("stranger")
    asked: list[tuple[str, str]] = []

    async def may_join(room_id: str, inviter: str) -> bool:
        asked.append((room_id, inviter))
        return inviter == grandma.user_id

    async with running(adapter_for(server, bot_id, may_join=may_join), context):
        spam = await stranger.open_room(bot_id)
        declined = await stranger.wait_for(
            lambda room, e: (
                e.get("state_key") == bot_id and (e.get("content", {}).get("membership") == "leave")
            )
        )
        welcome = await dm_with(grandma, bot_id, context)

    assert declined["sender"] == bot_id
    assert (spam, stranger.user_id) in asked and (welcome, grandma.user_id) in asked
    assert not any(
        e["content"].get("membership") == "join" and e.get("state_key") == bot_id
        for room, e in stranger.timeline
        if room == spam
    )


async def test_it_counts_encrypted_messages_and_says_once_that_it_cannot_read_them(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    ciphertext = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK",
        "device_id": "RJYKSTBOIE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    }
    encryption = {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
    notice = "cannot read encrypted messages"
    async with running(adapter_for(server, bot_id, encrypted_notice=notice), context):
        room_id = await grandma.open_room(bot_id, initial_state=[encryption])
        await grandma.wait_for(lambda room, e: e.get("state_key") == bot_id and _joined(e))
        for _ in range(2):
            await grandma.say(room_id, ciphertext, kind="m.room.encrypted")
        await inbox_of(context).wait_for(lambda e: len(inbox_of(context).events) == 2)
        seen = await grandma.messages_in(room_id, "marker")

    unreadable = [e for e in inbox_of(context).events if getattr(e, "text", "") != "marker"]
    assert [(e.kind, e.text) for e in unreadable if isinstance(e, MessageReceived)] == [
        (MessageKind.OTHER, ""),
        (MessageKind.OTHER, ""),
    ]
    assert [e["sender"] for e in seen if _body(e) == notice] == [bot_id]
    assert room_id in state_of(context)[STATE_ENCRYPTED_ROOMS]


# ---------------------------------------------------------------- sending


async def test_it_opens_a_direct_room_for_a_user_and_adds_one_reaction_per_button(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        prompt = to(f"matrix:{grandma.user_id}", "今天好吗? <3", 7, buttons=((FINE, HELP),))
        event_id = await adapter.deliver(prompt)
        room_id = await grandma.accept_invite()
        message = await grandma.wait_for(lambda room, e: e.get("event_id") == event_id)
        reactions = [
            await grandma.wait_for(lambda room, e: _reaction_key(e, event_id) == "✅"),
            await grandma.wait_for(lambda room, e: _reaction_key(e, event_id) == "🆘"),
        ]
        second = await adapter.deliver(to(f"matrix:{grandma.user_id}", "again", 8))

    assert state_of(context)[STATE_DM_PREFIX + grandma.user_id] == room_id
    assert message["sender"] == bot_id
    assert message["content"]["body"] == "今天好吗? <3\n\n✅ 我很好 / I'm fine\n🆘 需要帮助 / Help"
    assert message["content"]["format"] == "org.matrix.custom.html"
    assert message["content"]["formatted_body"].startswith("今天好吗? &lt;3<br>")
    assert [r["sender"] for r in reactions] == [bot_id, bot_id]
    await grandma.wait_for(lambda room, e: room == room_id and e.get("event_id") == second)


def _reaction_key(source: dict[str, Any], event_id: str) -> str:
    relation = source.get("content", {}).get("m.relates_to", {})
    if source.get("type") != "m.reaction" or relation.get("event_id") != event_id:
        return ""
    return str(relation.get("key", ""))


async def test_it_edits_a_message_in_place(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        room_id = await dm_with(grandma, bot_id, context)
        original = await adapter.deliver(to(f"matrix:{room_id}", "今天好吗?", 11))
        edited = await adapter.deliver(
            to(f"matrix:{room_id}", "谢谢! Thanks", 12, edit_of=original)
        )
        edit = await grandma.wait_for(
            lambda room, e: (
                e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
            )
        )

    assert edited == original
    assert edit["content"]["m.relates_to"]["event_id"] == original
    assert edit["content"]["m.new_content"]["body"] == "谢谢! Thanks"
    assert edit["content"]["body"] == "* 谢谢! Thanks"


async def test_an_edit_takes_back_the_reactions_for_choices_it_no_longer_offers(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        room_id = await dm_with(grandma, bot_id, context)
        chat = f"matrix:{room_id}"
        prompt = await adapter.deliver(to(chat, "今天好吗?", 61, buttons=((FINE, HELP),)))
        await grandma.say(
            room_id,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": prompt, "key": "✅"}},
            kind="m.reaction",
        )
        await adapter.deliver(to(chat, "still open", 62, edit_of=prompt, buttons=((FINE,),)))
        after_one = await grandma.reactions_on(room_id, prompt)
        answered = to(chat, "谢谢! answered", 63, edit_of=prompt)
        await adapter.deliver(answered)
        await adapter.deliver(answered)  # a retry of the same edit
        after_all = await grandma.reactions_on(room_id, prompt)

    assert sorted(after_one) == sorted([(bot_id, "✅"), (grandma.user_id, "✅")])
    # The resident's own reaction is hers: only the bot's are taken back.
    assert after_all == [(grandma.user_id, "✅")]


async def test_it_posts_a_retried_delivery_once_even_after_a_restart(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        room_id = await dm_with(grandma, bot_id, context)
        prompt = to(f"matrix:{room_id}", "只发一次 / once only", 21, buttons=((FINE,),))
        first = await adapter.deliver(prompt)
        again = await adapter.deliver(prompt)
    async with running(adapter_for(server, bot_id), context) as restarted:
        after_restart = await restarted.deliver(prompt)

    seen = await grandma.messages_in(room_id, "marker")
    assert first == again == after_restart
    assert [e["event_id"] for e in seen if _body(e).startswith(prompt.text)] == [first]
    reactions = [e for room, e in grandma.timeline if _reaction_key(e, first) == "✅"]
    assert len(reactions) == 1


async def test_it_reports_a_resident_leaving_and_then_refuses_to_deliver_there(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        await adapter.deliver(to(f"matrix:{grandma.user_id}", "hello", 31))
        room_id = await grandma.accept_invite()
        await grandma.client.room_leave(room_id)
        left = await inbox_of(context).wait_for(lambda e: isinstance(e, ChatLeft))

        with pytest.raises(DeliveryError) as to_room:
            await adapter.deliver(to(f"matrix:{room_id}", "are you there?", 32))
        with pytest.raises(DeliveryError) as to_person:
            await adapter.deliver(to(f"matrix:{grandma.user_id}", "are you there?", 33))

    assert left.sender.address == grandma.user_id and left.chat == ChatRef(f"matrix:{room_id}")
    assert to_room.value.permanent and to_person.value.permanent
    assert "M_FORBIDDEN" in str(to_room.value)


async def test_it_passes_on_the_homeservers_rate_limit_as_a_retry_after(
    synapse_server_default_limits: Homeserver, context: AdapterContext
) -> None:
    server = synapse_server_default_limits
    bot_id, _, _ = server.register(_name("carebot"), PASSWORD)
    admin_id, admin_token, _ = server.register(_name("admin"), PASSWORD, admin=True)
    grandma = Person(server, _name("grandma"))
    try:
        async with running(adapter_for(server, bot_id), context) as adapter:
            chat = f"matrix:{grandma.user_id}"
            with pytest.raises(DeliveryError) as limited:
                # Default rc_message: 0.2/s with a burst of 10.
                for outbox_id in range(1, 30):
                    await adapter.deliver(to(chat, f"message {outbox_id}", outbox_id))
            server.override_ratelimit(admin_token, bot_id)
            lifted = await adapter.deliver(to(chat, "after the operator lifted the limit", 99))
    finally:
        await grandma.client.close()

    error = limited.value
    assert not error.permanent and error.whole_platform
    assert error.retry_after is not None and 0 < error.retry_after <= 60
    assert "M_LIMIT_EXCEEDED" in str(error)
    assert lifted.startswith("$") and admin_id


async def test_it_gives_up_on_people_and_rooms_that_do_not_exist(
    server: Homeserver, bot_id: str, context: AdapterContext
) -> None:
    async with running(adapter_for(server, bot_id), context) as adapter:
        with pytest.raises(DeliveryError) as no_person:
            await adapter.deliver(to("matrix:@nobody-here:localhost", "hello", 41))
        with pytest.raises(DeliveryError) as no_room:
            await adapter.deliver(to("matrix:!nowhere:localhost", "hello", 42))
        with pytest.raises(DeliveryError) as not_matrix:
            await adapter.deliver(to("telegram:123", "hello", 43))

    assert no_person.value.permanent and no_room.value.permanent and not_matrix.value.permanent
    assert STATE_DM_PREFIX + "@nobody-here:localhost" not in state_of(context)


async def test_it_sends_anew_when_the_message_to_edit_is_unknown(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    async with running(adapter_for(server, bot_id), context) as adapter:
        room_id = await dm_with(grandma, bot_id, context)
        sent = await adapter.deliver(
            to(f"matrix:{room_id}", "谢谢! Thanks", 44, edit_of="$gone", buttons=((FINE,),))
        )
        message = await grandma.wait_for(lambda room, e: e.get("event_id") == sent)
        await grandma.wait_for(lambda room, e: _reaction_key(e, sent) == "✅")

    assert sent != "$gone"
    assert "m.relates_to" not in message["content"]
    assert message["content"]["body"].startswith("谢谢! Thanks")


# ---------------------------------------------------------------- the sync loop


class FailingOnceInbox(RecordingInbox):
    """An inbox whose database is briefly unavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def receive(self, event: InboundEvent) -> bool:
        if self.failures == 0:
            self.failures += 1
            raise OSError("database is locked")
        return await super().receive(event)


async def test_it_replays_a_batch_the_inbox_could_not_store(
    server: Homeserver, bot_id: str, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    inbox = FailingOnceInbox()
    context = AdapterContext(inbox=inbox, state=MemoryState())
    async with running(adapter_for(server, bot_id), context):
        room_id = await dm_with(grandma, bot_id, context)
        await grandma.say(room_id, _text("still here"))
        arrived = await inbox.wait_for(lambda e: getattr(e, "text", "") == "still here")

    # The cursor did not move past the failed batch: the message came again, once.
    assert inbox.failures == 1 and arrived.sender.address == grandma.user_id


async def test_it_stops_promptly_even_right_after_sending(
    server: Homeserver, bot_id: str, context: AdapterContext, people: Callable[[str], Person]
) -> None:
    grandma = people("grandma")
    loop = asyncio.get_running_loop()
    async with running(adapter_for(server, bot_id), context):
        room_id = await dm_with(grandma, bot_id, context)
    for outbox_id in range(51, 56):
        adapter = adapter_for(server, bot_id, sync_timeout_ms=30000)
        await asyncio.wait_for(adapter.start(context), WAIT)
        # Our own message wakes the long poll just as stop() cancels it.
        await adapter.deliver(to(f"matrix:{room_id}", "bye", outbox_id))
        began = loop.time()
        await asyncio.wait_for(adapter.stop(), WAIT)
        assert loop.time() - began < 2


# ---------------------------------------------------------------- the fixture itself


def test_it_skips_without_synapse_on_a_laptop_but_fails_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests import synapse as helpers  # already loaded by pytest as a plugin

    # An interpreter that cannot run Synapse: the real start path gives up at once.
    monkeypatch.setattr(sys, "executable", "/bin/false")

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Synapse is required on CI"):
        helpers.start_or_give_up(tmp_path / "ci")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="Synapse did not start"):
        helpers.start_or_give_up(tmp_path / "laptop")
