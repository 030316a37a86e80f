"""The contract every adapter keeps (adapters/base.py), held against each of them: the
fake, the local web chat, Telegram (real aiogram against the Bot API test server) and
Matrix (real matrix-nio against a real Synapse; skipped without Synapse on a laptop,
failed on CI).

Each case plays the other side of its platform: someone who writes to the bot and sees
what the bot sent them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
)

from adapters.base import Adapter, AdapterContext, DeliveryError, Platform, PlatformDeps
from adapters.fake import FakeAdapter, FakePlatform, FakeSettings
from adapters.local import LocalChatAdapter
from adapters.local.platform import LOCAL, LocalSettings
from adapters.matrix import MatrixAdapter
from adapters.matrix.platform import MATRIX, MatrixSettings
from adapters.telegram import TelegramAdapter
from adapters.telegram.platform import TELEGRAM, TelegramSettings
from core.commands import Button, Delivery
from core.events import InboundEvent, MessageReceived
from core.ids import ChatRef, OutboxId, split_chat_ref
from tests.conftest_telegram import RecordingInbox, make_context
from tests.telegram_server import Fault, TelegramTestServer

if TYPE_CHECKING:
    from tests.synapse import Homeserver

pytest_plugins = ["tests.synapse"]

WAIT = 15.0
PASSWORD = "correct horse battery staple"
BUTTONS = ((Button("我很好 / I'm fine", "tok-ok", "✅"),),)


class Case:
    """One adapter and the person on the other side of its platform."""

    platform: Platform[Any]
    settings: Any
    # A chat the adapter can deliver to, and one that can never be reached.
    chat: ChatRef
    unreachable: ChatRef

    def make(self) -> Adapter:
        """A new instance over the same platform account: what a restart starts."""
        raise NotImplementedError

    async def ready(self, adapter: Adapter) -> None:
        """Anything the person does once the adapter runs (Matrix: open a direct room)."""

    async def write(self, adapter: Adapter, text: str) -> None:
        raise NotImplementedError

    async def shown(self, message_id: str) -> str:
        """The text the person sees now for the bot's message `message_id`."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


class FakeCase(Case):
    def __init__(self) -> None:
        self.platform = FakePlatform("test")
        self.settings = FakeSettings()
        self.chat, self.unreachable = ChatRef("test:7"), ChatRef("elsewhere:7")
        self.adapters: list[FakeAdapter] = []

    def make(self) -> Adapter:
        self.adapters.append(FakeAdapter())
        return self.adapters[-1]

    async def write(self, adapter: Adapter, text: str) -> None:
        assert isinstance(adapter, FakeAdapter)
        await adapter.say("7", text)

    async def shown(self, message_id: str) -> str:
        for adapter in reversed(self.adapters):
            for sent in reversed(adapter.sent):
                if adapter.message_ids.get(sent.outbox_id) == message_id:
                    return sent.text
        raise LookupError(message_id)


class LocalCase(Case):
    def __init__(self) -> None:
        self.platform = LOCAL
        self.settings = LocalSettings(local_chat=True, _env_file=None)  # type: ignore[call-arg]
        self.chat, self.unreachable = ChatRef("local:7"), ChatRef("telegram:7")
        self.adapter: LocalChatAdapter | None = None

    def make(self) -> Adapter:
        self.adapter = LocalChatAdapter()
        return self.adapter

    async def write(self, adapter: Adapter, text: str) -> None:
        assert isinstance(adapter, LocalChatAdapter)
        await adapter.post("7", text, "Mei")

    async def shown(self, message_id: str) -> str:
        assert self.adapter is not None
        (message,) = [m for m in self.adapter.history("7") if m.id == message_id]
        return message.text


MEI, GONE = 5550001, 5550099


class TelegramCase(Case):
    def __init__(self, server: TelegramTestServer) -> None:
        self.server = server
        self.platform = TELEGRAM
        self.settings = TelegramSettings(
            telegram_token=server.token,  # type: ignore[arg-type]
            telegram_api_base=server.base_url,
            _env_file=None,  # type: ignore[call-arg]
        )
        self.chat, self.unreachable = ChatRef(f"telegram:{MEI}"), ChatRef(f"telegram:{GONE}")
        # Someone who blocked the bot: Telegram answers 403 to every send.
        server.fail("sendMessage", Fault.BLOCKED, times=1_000_000, chat_id=GONE)

    def make(self) -> Adapter:
        return TelegramAdapter(
            self.server.token,
            self.server.base_url,
            polling_timeout=1,
            request_timeout=2.0,
            poll_backoff=(0.05, 0.2),
        )

    async def write(self, adapter: Adapter, text: str) -> None:
        self.server.send_text(MEI, text)

    async def shown(self, message_id: str) -> str:
        return self.server.message(MEI, int(message_id)).text


class MatrixCase(Case):
    """The bot and a resident, both accounts on the session's Synapse."""

    def __init__(self, server: Homeserver) -> None:
        self.server = server
        self.platform = MATRIX
        suffix = uuid.uuid4().hex[:8]
        self.bot_id, _, _ = server.register(f"carebot{suffix}", PASSWORD)
        self.user_id, token, device = server.register(f"grandma{suffix}", PASSWORD)
        self.client = AsyncClient(
            server.url,
            self.user_id,
            config=AsyncClientConfig(
                encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0
            ),
        )
        self.client.restore_login(self.user_id, device, token)
        self.settings = MatrixSettings(
            matrix_homeserver=server.url,
            matrix_user_id=self.bot_id,
            matrix_password=PASSWORD,  # type: ignore[arg-type]
            _env_file=None,  # type: ignore[call-arg]
        )
        # Through the resident's user id, as the people file names them: the adapter
        # finds the direct room they opened.
        self.chat = ChatRef(f"matrix:{self.user_id}")
        self.unreachable = ChatRef(f"matrix:@nobody{suffix}:{server.server_name}")
        self.room_id = ""

    def make(self) -> Adapter:
        return MatrixAdapter(self.server.url, self.bot_id, password=PASSWORD, sync_timeout_ms=1000)

    async def ready(self, adapter: Adapter) -> None:
        if self.room_id:
            return
        response = await self.client.room_create(
            is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[self.bot_id]
        )
        assert isinstance(response, RoomCreateResponse), response
        self.room_id = str(response.room_id)

        async def bot_joined() -> None:
            while True:
                members = await self.client.joined_members(self.room_id)
                if self.bot_id in [m.user_id for m in getattr(members, "members", [])]:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(bot_joined(), WAIT)

    async def write(self, adapter: Adapter, text: str) -> None:
        await self.client.room_send(
            self.room_id, "m.room.message", {"msgtype": "m.text", "body": text}
        )

    async def shown(self, message_id: str) -> str:
        page = await self.client.room_messages(self.room_id, limit=100)
        assert isinstance(page, RoomMessagesResponse), page
        body = ""
        # Newest first: the latest edit wins over the original.
        for event in getattr(page, "chunk", []):
            content = event.source.get("content", {})
            relation = content.get("m.relates_to", {})
            if relation.get("rel_type") == "m.replace" and relation.get("event_id") == message_id:
                return str(content.get("m.new_content", {}).get("body", ""))
            if event.source.get("event_id") == message_id:
                body = str(content.get("body", ""))
        return body

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture(
    params=[
        "fake",
        "local",
        pytest.param("telegram", marks=pytest.mark.telegram),
        pytest.param("matrix", marks=pytest.mark.matrix),
    ]
)
async def case(request: pytest.FixtureRequest) -> AsyncIterator[Case]:
    made: Case
    if request.param == "fake":
        made = FakeCase()
    elif request.param == "local":
        made = LocalCase()
    elif request.param == "telegram":
        server = TelegramTestServer()
        await server.start()
        made = TelegramCase(server)
    else:
        # Only this case starts Synapse (once per session).
        made = MatrixCase(request.getfixturevalue("synapse_server"))
    try:
        yield made
    finally:
        await made.close()
        if isinstance(made, TelegramCase):
            await made.server.close()


class Running:
    """An adapter started on a context; `restart` stops it and starts a new instance
    on the same stored state, as a restarted gateway would."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.context: AdapterContext = make_context()
        self.adapter = case.make()

    @property
    def inbox(self) -> RecordingInbox:
        assert isinstance(self.context.inbox, RecordingInbox)
        return self.context.inbox

    async def start(self) -> Adapter:
        await asyncio.wait_for(self.adapter.start(self.context), WAIT)
        await self.case.ready(self.adapter)
        return self.adapter

    async def stop(self) -> None:
        await asyncio.wait_for(self.adapter.stop(), WAIT)

    async def restart(self) -> Adapter:
        await self.stop()
        self.adapter = self.case.make()
        return await self.start()

    async def written(self, text: str) -> MessageReceived:
        """Someone writes `text`; the event that reached the inbox for it."""
        await self.case.write(self.adapter, text)
        await self.inbox.journal.wait_for(
            lambda: any(_text(e) == text for e in self.inbox.events), repr(text), within=WAIT
        )
        (event,) = [e for e in self.inbox.events if _text(e) == text]
        assert isinstance(event, MessageReceived)
        return event


def _text(event: InboundEvent) -> str:
    return event.text if isinstance(event, MessageReceived) else ""


@pytest.fixture
async def running(case: Case) -> AsyncIterator[Running]:
    run = Running(case)
    await run.start()
    try:
        yield run
    finally:
        await run.stop()


def delivery(chat: ChatRef, text: str, outbox_id: int, **fields: Any) -> Delivery:
    return Delivery(outbox_id=OutboxId(outbox_id), chat=chat, text=text, **fields)


# ---------------------------------------------------------------- the contract


async def test_it_starts_stops_and_starts_again_as_a_new_instance(running: Running) -> None:
    adapter = await running.restart()
    assert adapter is running.adapter
    message_id = await adapter.deliver(delivery(running.case.chat, "after a restart", 1))
    assert message_id


async def test_a_delivery_returns_a_message_id_and_an_edit_keeps_the_message(
    running: Running,
) -> None:
    case, adapter = running.case, running.adapter
    message_id = await adapter.deliver(delivery(case.chat, "今天身体还好吗？", 11, buttons=BUTTONS))
    assert message_id
    assert "今天身体还好吗" in await case.shown(message_id)
    edited = await adapter.deliver(
        delivery(case.chat, "谢谢，已收到 / Thank you", 12, edit_of=message_id)
    )
    assert edited == message_id
    assert "谢谢，已收到" in await case.shown(message_id)
    other = await adapter.deliver(delivery(case.chat, "a second message", 13))
    assert other and other != message_id


async def test_a_chat_that_can_never_be_reached_fails_permanently(running: Running) -> None:
    with pytest.raises(DeliveryError) as caught:
        await running.adapter.deliver(delivery(running.case.unreachable, "hello?", 21))
    assert caught.value.permanent


async def test_what_people_write_reaches_the_inbox_with_ids_unique_across_a_restart(
    running: Running,
) -> None:
    before = await running.written("早上好 before the restart")
    await running.restart()
    after = await running.written("早上好 after the restart")
    assert before.event_id != after.event_id
    # Nothing was dropped as a duplicate, and nothing came twice.
    assert [_text(e) for e in running.inbox.events] == [before.text, after.text]


async def test_it_declares_its_limits_and_its_routes(running: Running) -> None:
    limits = running.adapter.limits
    assert limits.max_in_flight >= 1
    for rate in (limits.overall, limits.per_chat, limits.per_group):
        assert rate is None or (rate.count >= 1 and rate.per_seconds > 0)
    assert all(route.path.startswith("/") for route in running.adapter.routes())


async def test_its_platform_description_matches_what_it_produces(running: Running) -> None:
    case, adapter = running.case, running.adapter
    platform = case.platform
    assert adapter.platform == platform.name
    assert split_chat_ref(case.chat)[0] == platform.name
    event = await running.written("who am I?")
    for chat in (event.chat, event.sender.chat):
        assert split_chat_ref(chat)[0] == platform.name
    assert event.sender.platform == platform.name
    # The people file takes the address the platform reports, and the chat it maps
    # that address to reaches the person.
    address, chat = platform.identity_from_csv(event.sender.address)
    assert address == event.sender.address
    assert split_chat_ref(chat)[0] == platform.name
    message_id = await adapter.deliver(delivery(chat, "found you", 31))
    assert "found you" in await case.shown(message_id)
    # Built from its settings, the platform's adapter is of the same platform.
    built = platform.build(case.settings, PlatformDeps())
    assert built.platform == platform.name
    assert platform.enabled(case.settings) is True
