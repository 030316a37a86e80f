"""The Telegram adapter with real aiogram over HTTP against the Bot API test server."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.base import AdapterContext, AdapterStartError, DeliveryError
from adapters.telegram import OFFSET_KEY, TelegramAdapter
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, MessageKind, MessageReceived
from core.ids import ChatRef, OutboxId
from tests.conftest_telegram import Journal, MemoryState, RecordingInbox, make_context
from tests.telegram_server import Fault, TelegramTestServer

pytestmark = pytest.mark.telegram

MEI = 5550001
MEI_CHAT = ChatRef(f"telegram:{MEI}")
GROUP = -1001234567890


def make_adapter(server: TelegramTestServer, **options: Any) -> TelegramAdapter:
    settings: dict[str, Any] = {
        "polling_timeout": 1,
        "request_timeout": 1.0,
        "poll_backoff": (0.05, 0.2),
    }
    settings.update(options)
    return TelegramAdapter(server.token, server.base_url, **settings)


def delivery(text: str = "今天好吗？", chat: ChatRef = MEI_CHAT, **fields: Any) -> Delivery:
    return Delivery(outbox_id=OutboxId(1), chat=chat, text=text, **fields)


@pytest.fixture
async def server() -> AsyncIterator[TelegramTestServer]:
    async with TelegramTestServer() as server:
        yield server


@pytest.fixture
def context() -> AdapterContext:
    return make_context()


@pytest.fixture
async def adapter(
    server: TelegramTestServer, context: AdapterContext
) -> AsyncIterator[TelegramAdapter]:
    adapter = make_adapter(server)
    await adapter.start(context)
    yield adapter
    await adapter.stop()


def inbox_of(context: AdapterContext) -> RecordingInbox:
    assert isinstance(context.inbox, RecordingInbox)
    return context.inbox


async def deliver_error(adapter: TelegramAdapter, item: Delivery) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await adapter.deliver(item)
    return caught.value


# --- starting --------------------------------------------------------------------


async def test_it_learns_its_username_at_start(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    assert adapter.username == server.username
    assert adapter.bot_id == server.bot_id
    assert server.calls_of("deleteWebhook")


async def test_it_refuses_to_start_with_a_wrong_token_without_revealing_it(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    token = "987654321:WRONG-secret-value"
    adapter = TelegramAdapter(token, server.base_url, polling_timeout=1)
    with pytest.raises(AdapterStartError) as caught:
        await adapter.start(context)
    message = str(caught.value)
    assert "401" in message
    assert "\n" not in message
    assert token not in message
    assert "WRONG-secret-value" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_it_refuses_a_malformed_token(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    adapter = TelegramAdapter("not a token", server.base_url)
    with pytest.raises(AdapterStartError, match="malformed"):
        await adapter.start(context)


async def test_it_keeps_trying_in_the_background_while_the_bot_api_cannot_be_reached(
    context: AdapterContext,
) -> None:
    async with TelegramTestServer() as gone:
        pass  # a port that was just ours and now has nobody listening
    adapter = make_adapter(gone)
    # Starting does not fail (nor hang): the rest of the gateway can run meanwhile.
    await asyncio.wait_for(adapter.start(context), 5)
    try:
        problem = adapter.receive_problem(120)
        assert problem is not None and problem.startswith("not connected: ")
        assert "Cannot connect" in problem
        assert gone.token.partition(":")[2] not in problem
        async with TelegramTestServer(port=gone.port) as back:
            update = back.send_text(MEI, "还在吗")
            events = await inbox_of(context).wait_for(1)
            assert [e.event_id for e in events] == [f"tg:{update['update_id']}"]
            assert adapter.username == back.username
            assert adapter.receive_problem(120) is None
            await adapter.stop()
    finally:
        await adapter.stop()


async def test_it_says_so_when_the_token_is_refused_once_the_bot_api_is_back(
    context: AdapterContext,
) -> None:
    async with TelegramTestServer() as gone:
        pass
    adapter = make_adapter(gone)
    await adapter.start(context)
    try:
        async with TelegramTestServer("42:another-bots-token", port=gone.port) as back:
            await back.wait_for_call("getMe")
            await back.wait_for_call("getMe", 2)
            problem = adapter.receive_problem(120)
            assert problem is not None and "401 Unauthorized" in problem
            assert not back.calls_of("getUpdates")
            await adapter.stop()
    finally:
        await adapter.stop()


# --- receiving by long polling ---------------------------------------------------


class RecordingDeadLetters:
    """The dead-letter seam: keeps what was set aside, in the shared journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.kept: list[tuple[str, str, str, str]] = []

    async def dead_letter(self, platform: str, ref: str, raw: str, reason: str) -> None:
        self.kept.append((platform, ref, raw, reason))
        self.journal.add("dead", ref)


def malformed(server: TelegramTestServer) -> dict[str, Any]:
    """An update Telegram's schema does not allow: aiogram cannot read it."""
    return {
        "update_id": server.next_update_id(),
        "message": {"message_id": "not-a-number", "date": "x", "chat": {"id": 1}, "text": 5},
    }


async def test_it_sets_an_unreadable_update_aside_and_reads_on_past_it(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    journal = inbox_of(context).journal
    dead = RecordingDeadLetters(journal)
    adapter = make_adapter(server, dead_letters=dead)
    before = server.send_text(MEI, "早上好")
    poison = server.queue_raw(malformed(server))
    after = server.send_text(MEI, "救命")
    await adapter.start(context)
    try:
        await journal.wait_until(OFFSET_KEY, str(after["update_id"] + 1))
    finally:
        await adapter.stop()

    assert [e.event_id for e in inbox_of(context).events] == [
        f"tg:{before['update_id']}",
        f"tg:{after['update_id']}",
    ]
    ((platform, ref, raw, reason),) = dead.kept
    assert (platform, ref) == ("telegram", f"tg:{poison['update_id']}")
    assert json.loads(raw) == poison
    assert "message.message_id" in reason and "not-a-number" not in reason
    # Set aside before the offset moved past it, and the offset did move past it.
    entries = journal.entries
    assert entries.index(("dead", ref)) < entries.index((OFFSET_KEY, str(after["update_id"] + 1)))
    assert server.confirmed_offset == after["update_id"] + 1
    assert adapter.receive_problem(120) is None


async def test_it_sets_aside_a_page_entry_that_is_not_even_an_object(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    dead = RecordingDeadLetters(inbox_of(context).journal)
    adapter = make_adapter(server, dead_letters=dead)
    server.queue_raw(["not", "an", "update"])
    after = server.send_text(MEI, "hello")
    await adapter.start(context)
    try:
        await inbox_of(context).wait_for(1)
    finally:
        await adapter.stop()
    assert [(ref, raw) for _, ref, raw, _ in dead.kept] == [("", '["not", "an", "update"]')]
    assert inbox_of(context).events[0].event_id == f"tg:{after['update_id']}"


async def test_the_bot_api_test_server_serves_a_raw_update_as_given(
    server: TelegramTestServer,
) -> None:
    poison = server.queue_raw(malformed(server))
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}/bot{server.token}/getUpdates"
        async with session.post(url, json={"timeout": 0}) as response:
            page = await response.json()
    assert page == {"ok": True, "result": [poison]}
    assert server.pending_updates == [poison]


async def test_it_stores_updates_before_it_advances_the_offset(
    adapter: TelegramAdapter, server: TelegramTestServer, context: AdapterContext
) -> None:
    first = server.send_text(MEI, "早上好")
    second = server.send_media(MEI, "voice")
    journal = inbox_of(context).journal
    next_offset = str(second["update_id"] + 1)
    await journal.wait_until(OFFSET_KEY, next_offset)

    events = inbox_of(context).events
    assert [e.event_id for e in events] == [f"tg:{first['update_id']}", f"tg:{second['update_id']}"]
    assert isinstance(events[0], MessageReceived)
    assert (events[0].kind, events[0].text) == (MessageKind.TEXT, "早上好")
    assert isinstance(events[1], MessageReceived)
    assert events[1].kind is MessageKind.VOICE
    offset_at = journal.entries.index((OFFSET_KEY, next_offset))
    stored_at = journal.entries.index(("event", f"tg:{second['update_id']}"))
    assert stored_at < offset_at


async def test_it_asks_only_for_the_updates_it_understands(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    call = await server.wait_for_call("getUpdates")
    assert call.params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert call.params["timeout"] == 1


async def test_it_resumes_from_the_stored_offset_after_a_restart(
    server: TelegramTestServer,
) -> None:
    journal = Journal()
    state = MemoryState(journal)
    first_inbox = RecordingInbox(journal)
    first = make_adapter(server)
    await first.start(AdapterContext(inbox=first_inbox, state=state))
    before = server.send_text(MEI, "before the restart")
    await journal.wait_until(OFFSET_KEY, str(before["update_id"] + 1))
    await first.stop()

    after = server.send_text(MEI, "after the restart")
    second_inbox = RecordingInbox(journal)
    second = make_adapter(server)
    await second.start(AdapterContext(inbox=second_inbox, state=state))
    try:
        events = await second_inbox.wait_for(1)
    finally:
        await second.stop()
    assert [e.event_id for e in events] == [f"tg:{after['update_id']}"]
    # Every poll since the second start carried the stored offset (or a later one).
    second_start = server.calls.index(server.calls_of("getMe")[1])
    polls = [c for c in server.calls[second_start:] if c.method == "getUpdates"]
    assert polls
    assert all(c.params.get("offset", 0) > before["update_id"] for c in polls)


async def test_it_keeps_the_offset_until_a_failed_store_succeeds(
    server: TelegramTestServer,
) -> None:
    context = make_context(failures=2)
    adapter = make_adapter(server)
    await adapter.start(context)
    try:
        update = server.send_text(MEI, "are you there?")
        await inbox_of(context).journal.wait_until(OFFSET_KEY, str(update["update_id"] + 1))
    finally:
        await adapter.stop()
    inbox = inbox_of(context)
    assert inbox.calls == 3
    assert [e.event_id for e in inbox.events] == [f"tg:{update['update_id']}"]
    # The offset was written once: after the store finally worked, never before.
    assert [e for e in inbox.journal.entries if e[0] == OFFSET_KEY] == [
        (OFFSET_KEY, str(update["update_id"] + 1))
    ]


async def test_it_backs_off_when_polling_fails(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    server.fail("getUpdates", Fault.SERVER_ERROR, times=3)
    adapter = make_adapter(server)
    await adapter.start(context)
    try:
        server.send_text(MEI, "hello?")
        await inbox_of(context).wait_for(1)
    finally:
        await adapter.stop()
    polls = server.calls_of("getUpdates")
    assert [call.status for call in polls[:4]] == [500, 500, 500, 200]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(polls[:4])]
    # 0.05 s, then 0.1 s, then 0.2 s: growing, never a hot loop.
    assert gaps[0] >= 0.04
    assert gaps[1] >= 0.09
    assert gaps[2] >= 0.18


async def test_it_reports_presses_group_messages_and_blocks(
    adapter: TelegramAdapter, server: TelegramTestServer, context: AdapterContext
) -> None:
    prompt = delivery(buttons=((Button("我很好", "ok.17"),),))
    message_id = await adapter.deliver(prompt)
    query_id = server.press_button(MEI, "我很好")
    server.send_group_text(GROUP, 5550002, "我去看看")
    server.block_bot(MEI)
    events = await inbox_of(context).wait_for(3)

    press, group_message, left = events
    assert isinstance(press, ButtonPressed)
    assert (press.token, press.callback_id, press.platform_message_id) == (
        "ok.17",
        query_id,
        message_id,
    )
    assert isinstance(group_message, MessageReceived)
    assert group_message.is_group
    assert group_message.chat == ChatRef(f"telegram:{GROUP}")
    assert isinstance(left, ChatLeft)
    assert left.chat == MEI_CHAT


async def test_it_stops_a_long_poll_at_once(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    adapter = make_adapter(server, polling_timeout=25)
    await adapter.start(context)
    await server.wait_for_call("getUpdates")
    started = time.monotonic()
    await adapter.stop()
    # aiogram's session close alone takes 0.25 s; a 25 s long poll must not be waited on.
    assert time.monotonic() - started < 2.0


# --- sending ---------------------------------------------------------------------


async def test_it_sends_buttons_with_prefixed_callback_data(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    buttons = ((Button("我很好", "ok.17.x9", "👍"), Button("需要帮助", "help.17.x9")),)
    message_id = await adapter.deliver(delivery(buttons=buttons))

    sent = server.last_message(MEI)
    assert message_id == str(sent.message_id)
    assert sent.text == "今天好吗？"
    assert [(b["text"], b["callback_data"]) for b in sent.buttons] == [
        ("👍 我很好", "a:ok.17.x9"),
        ("需要帮助", "a:help.17.x9"),
    ]
    call = server.calls_of("sendMessage")[-1]
    assert "parse_mode" not in call.params
    assert call.params["chat_id"] == MEI


async def test_it_refuses_a_button_token_longer_than_telegram_allows(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    error = await deliver_error(adapter, delivery(buttons=((Button("ok", "t" * 63),),)))
    assert error.permanent
    assert "64" in str(error)
    assert not server.calls_of("sendMessage")


async def test_it_puts_web_links_on_buttons_and_phone_numbers_in_the_text(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    links = (("Dashboard", "https://care.example.org/a/7"), ("Hua", "tel:+8613800000000"))
    await adapter.deliver(delivery(text="Alert for Mei", links=links))
    sent = server.last_message(MEI)
    assert sent.text == "Alert for Mei\n\nHua: +8613800000000"
    assert sent.buttons == [{"text": "Dashboard", "url": "https://care.example.org/a/7"}]


async def test_it_edits_a_prompt_and_takes_its_buttons_away(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    message_id = await adapter.deliver(delivery(buttons=((Button("我很好", "ok"),),)))
    edited_id = await adapter.deliver(delivery(text="✅ 已收到", edit_of=message_id))

    assert edited_id == message_id
    sent = server.message(MEI, int(message_id))
    assert (sent.text, sent.buttons, sent.edits) == ("✅ 已收到", [], 1)
    assert len(server.messages(MEI)) == 1


async def test_it_counts_an_unchanged_edit_as_done(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    buttons = ((Button("我很好", "ok"),),)
    message_id = await adapter.deliver(delivery(buttons=buttons))
    again = await adapter.deliver(delivery(buttons=buttons, edit_of=message_id))
    assert again == message_id
    assert server.calls_of("editMessageText")[-1].status == 400
    assert len(server.messages(MEI)) == 1


@pytest.mark.parametrize("fault", [None, Fault.NOT_EDITABLE])
async def test_it_sends_anew_when_a_message_cannot_be_edited(
    adapter: TelegramAdapter, server: TelegramTestServer, fault: Fault | None
) -> None:
    old_id = await adapter.deliver(delivery(text="old"))
    if fault is not None:
        server.fail("editMessageText", fault)
    edit_of = old_id if fault is not None else "9999"  # 9999: a message Telegram lost
    new_id = await adapter.deliver(
        delivery(text="new", edit_of=edit_of, buttons=((Button("ok", "ok"),),))
    )
    assert new_id != old_id
    assert server.last_message(MEI).text == "new"
    assert server.last_message(MEI).labels == ["ok"]


async def test_it_answers_a_press_with_a_toast(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    assert await adapter.deliver(delivery(text="谢谢！", callback_id="cb-1")) == ""
    call = server.calls_of("answerCallbackQuery")[-1]
    assert call.params == {"callback_query_id": "cb-1", "text": "谢谢！"}
    assert not server.calls_of("sendMessage")


async def test_it_splits_a_long_text_and_puts_the_buttons_under_the_last_part(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    lines = [f"{n:03} " + "长" * 60 for n in range(100)]
    last_id = await adapter.deliver(
        delivery(text="\n".join(lines), buttons=((Button("ok", "ok"),),))
    )
    sent = server.messages(MEI)
    assert len(sent) == 2
    assert all(len(m.text) <= 4096 for m in sent)
    assert [line for m in sent for line in m.text.split("\n")] == lines
    assert (sent[0].buttons, sent[1].labels) == ([], ["ok"])
    assert last_id == str(sent[1].message_id)


# --- errors ----------------------------------------------------------------------


async def test_it_passes_on_telegrams_flood_wait_for_the_whole_bot(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    server.fail("sendMessage", Fault.RETRY_AFTER, retry_after=7)
    error = await deliver_error(adapter, delivery())
    assert (error.permanent, error.retry_after, error.whole_platform) == (False, 7.0, True)


@pytest.mark.parametrize("fault", [Fault.SERVER_ERROR, Fault.HANG])
async def test_it_calls_server_errors_and_timeouts_transient(
    adapter: TelegramAdapter, server: TelegramTestServer, fault: Fault
) -> None:
    server.fail("sendMessage", fault)
    error = await deliver_error(adapter, delivery())
    assert not error.permanent
    assert error.retry_after is None
    assert server.token.partition(":")[2] not in str(error)


@pytest.mark.parametrize(
    ("fault", "says"),
    [(Fault.BLOCKED, "blocked by the user"), (Fault.CHAT_NOT_FOUND, "chat not found")],
)
async def test_it_calls_a_blocked_bot_and_an_unknown_chat_permanent(
    adapter: TelegramAdapter, server: TelegramTestServer, fault: Fault, says: str
) -> None:
    server.fail("sendMessage", fault, chat_id=MEI)
    error = await deliver_error(adapter, delivery())
    assert error.permanent
    assert says in str(error)
    assert server.token not in str(error)
    assert "\n" not in str(error)


async def test_it_finds_out_a_person_blocked_the_bot_when_sending(
    adapter: TelegramAdapter, server: TelegramTestServer
) -> None:
    server.block_bot(MEI)
    error = await deliver_error(adapter, delivery())
    assert error.permanent


async def test_it_refuses_a_chat_of_another_platform(adapter: TelegramAdapter) -> None:
    error = await deliver_error(adapter, delivery(chat=ChatRef("matrix:!room:example.org")))
    assert error.permanent


async def test_it_meets_telegrams_limits_with_a_retry_after(
    server: TelegramTestServer, context: AdapterContext
) -> None:
    server.enforce_limits = True
    adapter = make_adapter(server)
    await adapter.start(context)
    try:
        await adapter.deliver(delivery(text="one"))
        error = await deliver_error(adapter, delivery(text="two"))
    finally:
        await adapter.stop()
    assert (error.permanent, error.retry_after) == (False, 1.0)
    assert server.rate_limited == 1
    assert adapter.is_group(ChatRef(f"telegram:{GROUP}"))
    assert not adapter.is_group(MEI_CHAT)


# --- receiving by webhook --------------------------------------------------------


@pytest.fixture
async def webhook_app() -> AsyncIterator[tuple[socket.socket, str]]:
    # The port must be known before the adapter is made (it is in the webhook URL),
    # and the adapter before the app (the app serves its routes): bind first.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    yield sock, f"http://127.0.0.1:{port}/telegram/hook"
    sock.close()


async def test_it_takes_webhook_updates_only_with_the_right_secret(
    server: TelegramTestServer,
    context: AdapterContext,
    webhook_app: tuple[socket.socket, str],
) -> None:
    sock, url = webhook_app
    adapter = make_adapter(server, webhook_url=url, webhook_secret="s3cret-Value_1")
    app = web.Application()
    app.add_routes(adapter.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await adapter.start(context)
        assert (server.webhook_url, server.webhook_secret) == (url, "s3cret-Value_1")
        update = {
            "update_id": 4242,
            "message": {
                "message_id": 1,
                "date": 1718000000,
                "chat": {"id": MEI, "type": "private", "first_name": "Mei"},
                "from": {"id": MEI, "is_bot": False, "first_name": "Mei"},
                "text": "hi",
            },
        }
        assert await server.push_webhook(update, secret="") == 401
        assert await server.push_webhook(update, secret="guess") == 403
        assert inbox_of(context).events == []
        assert await server.push_webhook(update) == 200
        assert [e.event_id for e in inbox_of(context).events] == ["tg:4242"]
        assert not server.calls_of("getUpdates")
    finally:
        await adapter.stop()
        await runner.cleanup()


async def test_a_malformed_webhook_update_is_set_aside_and_answered_200(
    server: TelegramTestServer,
    context: AdapterContext,
    webhook_app: tuple[socket.socket, str],
) -> None:
    sock, url = webhook_app
    dead = RecordingDeadLetters(inbox_of(context).journal)
    adapter = make_adapter(
        server, webhook_url=url, webhook_secret="s3cret-Value_1", dead_letters=dead
    )
    app = web.Application()
    app.add_routes(adapter.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await adapter.start(context)
        poison = malformed(server)
        # 200, or Telegram would send it again and again ahead of everything else.
        assert await server.push_webhook(poison) == 200
        assert await server.push_webhook(b"{not json") == 200
        assert inbox_of(context).events == []
        assert [(ref, reason) for _, ref, _, reason in dead.kept] == [
            (f"tg:{poison['update_id']}", dead.kept[0][3]),
            ("", "not JSON"),
        ]
        assert dead.kept[1][2] == "{not json"
        assert adapter.receive_problem(120) is None  # a quiet webhook is not a failure
    finally:
        await adapter.stop()
        await runner.cleanup()


def test_it_will_not_run_a_webhook_without_a_secret() -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        TelegramAdapter("1:x", webhook_url="https://example.org/hook")


# --- the test server itself ------------------------------------------------------


async def test_it_serves_json_requests_and_refuses_a_wrong_token_like_telegram(
    server: TelegramTestServer,
) -> None:
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "a:ok"}]]}
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}/bot{server.token}/sendMessage"
        body = {"chat_id": MEI, "text": "hi", "reply_markup": markup}
        async with session.post(url, json=body) as response:
            sent = await response.json()
        async with session.post(f"{server.base_url}/bot1:wrong/getMe") as response:
            refused = (response.status, await response.json())
    assert sent["ok"] and sent["result"]["reply_markup"] == markup
    assert server.last_message(MEI).labels == ["ok"]
    assert refused == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


class TogetherInbox(RecordingInbox):
    """Notes how many receive() calls are waiting at once: as the engine's inbox does,
    each waits one turn of the loop for the others before it is stored."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.most_at_once = 0

    async def receive(self, event: Any) -> bool:
        self.waiting += 1
        self.most_at_once = max(self.most_at_once, self.waiting)
        await asyncio.sleep(0)
        self.waiting -= 1
        return await super().receive(event)


async def test_a_page_of_updates_is_handed_in_together_and_in_order(
    server: TelegramTestServer,
) -> None:
    sent = [server.send_text(MEI, f"m{i}") for i in range(20)]
    inbox = TogetherInbox()
    context = AdapterContext(inbox=inbox, state=MemoryState(inbox.journal))
    adapter = make_adapter(server)
    await adapter.start(context)
    try:
        await inbox.wait_for(20)
    finally:
        await adapter.stop()
    assert [e.event_id for e in inbox.events] == [f"tg:{u['update_id']}" for u in sent]
    # All twenty in one getUpdates page, so in one commit of the engine's inbox.
    assert inbox.most_at_once == 20
