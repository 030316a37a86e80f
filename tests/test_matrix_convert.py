"""Matrix conversion and error translation, on event JSON recorded from Synapse 1.163."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from nio import Event, RoomSendError, SyncError

from adapters.matrix import convert
from adapters.matrix.adapter import _Backoff
from adapters.matrix.errors import connection_error, response_error, scrub
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, OutboxId

BOT = "@carebot:localhost"
GRANDMA = "@grandma:localhost"
ROOM = "!dm:localhost"
DM = convert.RoomView(
    ROOM, others_joined=frozenset({GRANDMA}), member_count=2, display_names={GRANDMA: "王奶奶"}
)
TEAM = convert.RoomView(
    "!team:localhost",
    others_joined=frozenset({GRANDMA, "@li:localhost"}),
    member_count=3,
    display_names={GRANDMA: "王奶奶"},
)
GRANDMA_IN_DM = Sender("matrix", GRANDMA, ChatRef(f"matrix:{ROOM}"), "王奶奶")

# A direct room's timeline as the bot's sync returned it (ages and some unsigned
# fields trimmed): the bot's join, its prompt, then the resident's answers.
BOT_JOIN: dict[str, Any] = {
    "content": {"displayname": "carebot", "membership": "join"},
    "event_id": "$wkJrJdnZ8vwW37X0KBmsJ7_EuDAR_OMk4lMllUsdWQc",
    "origin_server_ts": 1795450100660,
    "sender": BOT,
    "state_key": BOT,
    "type": "m.room.member",
    "unsigned": {
        "membership": "join",
        "prev_content": {"displayname": "carebot", "is_direct": True, "membership": "invite"},
        "prev_sender": GRANDMA,
    },
}
BOT_PROMPT: dict[str, Any] = {
    "content": {
        "body": "今天好吗?",
        "format": "org.matrix.custom.html",
        "formatted_body": "今天好吗?",
        "msgtype": "m.text",
    },
    "event_id": "$ZMmjuBxeGNCYCQiQZHiG0E1RIpazYFi_PsgK8oQ9ey8",
    "origin_server_ts": 1795450100697,
    "sender": BOT,
    "type": "m.room.message",
    "unsigned": {"membership": "join", "transaction_id": "cc17"},
}
REPLY: dict[str, Any] = {
    "content": {"body": "> <@carebot:localhost> 今天好吗?\n\n我很好", "msgtype": "m.text"},
    "event_id": "$t6Ux0AS_C_eIHbIGG8nxZ1ZcipriENfr8xJeIFIL0zU",
    "origin_server_ts": 1795450100731,
    "sender": GRANDMA,
    "type": "m.room.message",
    "unsigned": {"membership": "join"},
}
VOICE: dict[str, Any] = {
    "content": {
        "body": "Voice message",
        "info": {"duration": 2300, "mimetype": "audio/ogg", "size": 4000},
        "msgtype": "m.audio",
        "org.matrix.msc1767.audio": {"duration": 2300},
        "org.matrix.msc3245.voice": {},
        "url": "mxc://localhost/abc",
    },
    "event_id": "$_cw7x0D-8ssLFCUq2gaTbSrsX3qZfABLt4YGfhtpdPY",
    "origin_server_ts": 1795450100758,
    "sender": GRANDMA,
    "type": "m.room.message",
    "unsigned": {"membership": "join"},
}
PHOTO: dict[str, Any] = {
    "content": {
        "body": "IMG_0001.jpg",
        "info": {"h": 480, "mimetype": "image/jpeg", "size": 12345, "w": 640},
        "msgtype": "m.image",
        "url": "mxc://localhost/img",
    },
    "event_id": "$zEYD3VH7yaNSLCPrvnTnVKzv9a_WQgsB1uSkBb74x1k",
    "origin_server_ts": 1795450100785,
    "sender": GRANDMA,
    "type": "m.room.message",
    "unsigned": {"membership": "join"},
}
REACTION: dict[str, Any] = {
    "content": {
        "m.relates_to": {
            "event_id": "$ZMmjuBxeGNCYCQiQZHiG0E1RIpazYFi_PsgK8oQ9ey8",
            "key": "✅",
            "rel_type": "m.annotation",
        }
    },
    "event_id": "$ksebFjDXZmcvaRYT5KCMoyh26VgBsadrV5ZUJI20qbU",
    "origin_server_ts": 1795450100812,
    "sender": GRANDMA,
    "type": "m.reaction",
    "unsigned": {"membership": "join"},
}
EDIT: dict[str, Any] = {
    "content": {
        "body": "* hello",
        "m.new_content": {"body": "hello", "msgtype": "m.text"},
        "m.relates_to": {
            "event_id": "$HbBLkkrs18l8ApiHO4Gq3SpgYSsSlwIxlCfl5HGgSck",
            "rel_type": "m.replace",
        },
        "msgtype": "m.text",
    },
    "event_id": "$7-30lek23TFqY4rlCvlTdb9F_qLS4RZ2WycOax03qNE",
    "origin_server_ts": 1795450100866,
    "sender": GRANDMA,
    "type": "m.room.message",
    "unsigned": {"membership": "join"},
}
ENCRYPTED: dict[str, Any] = {
    "content": {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "device_id": "RJYKSTBOIE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    },
    "event_id": "$Kds5ealJGcV-qyFm1qs8kZwNcY3JPEllwYW1qP5zu0o",
    "origin_server_ts": 1795450100892,
    "sender": GRANDMA,
    "type": "m.room.encrypted",
    "unsigned": {"membership": "join"},
}
LEAVE: dict[str, Any] = {
    "content": {"membership": "leave"},
    "event_id": "$EtxWi6zFKwTPGrqcO1cAqp63w1tERtHyo-rk70dTcL0",
    "origin_server_ts": 1795450100919,
    "sender": GRANDMA,
    "state_key": GRANDMA,
    "type": "m.room.member",
    "unsigned": {
        "membership": "join",
        "prev_content": {"displayname": "王奶奶", "membership": "join"},
        "prev_sender": GRANDMA,
    },
}


def parsed(source: dict[str, Any]) -> Any:
    """The event as matrix-nio hands it over in a sync response."""
    return Event.parse_event(copy.deepcopy(source))


def with_content(source: dict[str, Any], **content: Any) -> dict[str, Any]:
    changed = copy.deepcopy(source)
    changed["content"] = {**changed["content"], **content}
    return changed


# ---------------------------------------------------------------- inbound


def test_it_reads_a_reply_as_text_without_the_quoted_prompt() -> None:
    event = convert.inbound_event(parsed(REPLY), DM, BOT)

    assert event == MessageReceived(
        event_id=REPLY["event_id"],
        sender=GRANDMA_IN_DM,
        chat=ChatRef(f"matrix:{ROOM}"),
        kind=MessageKind.TEXT,
        text="我很好",
        is_group=False,
    )


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (VOICE, MessageKind.VOICE),
        (PHOTO, MessageKind.PHOTO),
        (with_content(PHOTO, msgtype="m.video"), MessageKind.VIDEO),
        (with_content(PHOTO, msgtype="m.file"), MessageKind.FILE),
        (with_content(PHOTO, msgtype="m.location", geo_uri="geo:31.2,121.4"), MessageKind.LOCATION),
        (with_content(REPLY, msgtype="org.example.poll"), MessageKind.OTHER),
    ],
)
def test_it_tells_voice_photo_video_file_and_other_messages_apart(
    source: dict[str, Any], kind: MessageKind
) -> None:
    event = convert.inbound_event(parsed(source), DM, BOT)

    assert isinstance(event, MessageReceived)
    assert (event.kind, event.sender, event.event_id) == (kind, GRANDMA_IN_DM, source["event_id"])


def test_it_takes_a_media_body_as_text_only_when_it_is_a_caption() -> None:
    plain = convert.inbound_event(parsed(PHOTO), DM, BOT)
    captioned = convert.inbound_event(
        parsed(with_content(PHOTO, body="救命 my leg", filename="IMG_0001.jpg")), DM, BOT
    )

    assert isinstance(plain, MessageReceived) and plain.text == ""
    assert isinstance(captioned, MessageReceived) and captioned.text == "救命 my leg"


def test_it_reads_a_sticker_as_a_sticker() -> None:
    sticker = {
        **PHOTO,
        "type": "m.sticker",
        "content": {"body": "👍", "url": "mxc://x/y", "info": {}},
    }

    event = convert.inbound_event(parsed(sticker), DM, BOT)

    assert isinstance(event, MessageReceived) and event.kind is MessageKind.STICKER


def test_it_reads_a_reaction_as_a_button_press_on_the_bots_message() -> None:
    event = convert.inbound_event(parsed(REACTION), DM, BOT)

    assert event == ButtonPressed(
        event_id=REACTION["event_id"],
        sender=GRANDMA_IN_DM,
        chat=ChatRef(f"matrix:{ROOM}"),
        platform_message_id=BOT_PROMPT["event_id"],
        reaction_key="✅",
    )


def test_it_ignores_edits_and_its_own_events() -> None:
    assert convert.inbound_event(parsed(EDIT), DM, BOT) is None
    assert convert.inbound_event(parsed(BOT_PROMPT), DM, BOT) is None
    assert convert.inbound_event(parsed(BOT_JOIN), DM, BOT) is None


def test_it_counts_an_encrypted_message_as_a_sign_of_life_it_cannot_read() -> None:
    event = convert.inbound_event(parsed(ENCRYPTED), DM, BOT)

    assert isinstance(event, MessageReceived)
    assert (event.kind, event.text, event.sender) == (MessageKind.OTHER, "", GRANDMA_IN_DM)


def test_it_reports_a_chat_left_when_nobody_but_the_bot_remains() -> None:
    emptied = convert.RoomView(ROOM, member_count=1)

    event = convert.inbound_event(parsed(LEAVE), emptied, BOT)

    assert event == ChatLeft(LEAVE["event_id"], GRANDMA_IN_DM, ChatRef(f"matrix:{ROOM}"))


def test_it_ignores_someone_leaving_a_room_others_still_read() -> None:
    assert convert.inbound_event(parsed(LEAVE), TEAM, BOT) is None


def test_it_reports_a_chat_left_when_the_bot_is_kicked_or_banned() -> None:
    kick = {**LEAVE, "state_key": BOT, "content": {"membership": "ban"}}

    event = convert.inbound_event(parsed(kick), DM, BOT)

    assert isinstance(event, ChatLeft) and event.sender.address == GRANDMA


def test_it_points_replies_to_someone_in_a_group_at_their_own_chat() -> None:
    event = convert.inbound_event(parsed(REPLY), TEAM, BOT)

    assert isinstance(event, MessageReceived)
    assert event.is_group and event.chat == ChatRef("matrix:!team:localhost")
    assert event.sender.chat == ChatRef(f"matrix:{GRANDMA}")


def test_it_converts_raw_json_like_the_nio_event() -> None:
    for source in (REPLY, VOICE, REACTION, ENCRYPTED, LEAVE):
        assert convert.inbound_event(source, DM, BOT) == convert.inbound_event(
            parsed(source), DM, BOT
        )


def test_it_drops_what_was_said_before_the_bot_was_invited() -> None:
    history = with_content(REPLY, body="old news")
    invite = {
        **LEAVE,
        "event_id": "$invite",
        "state_key": BOT,
        "content": {"membership": "invite", "is_direct": True},
        "unsigned": {},
    }
    early = with_content(REPLY, body="!link 1234")
    timeline = [history, invite, early, BOT_JOIN, REPLY]

    assert convert.arrival_index(timeline, BOT) == 1
    assert convert.arrival_index(timeline, BOT, at_join=True) == 3


def test_it_keeps_everything_when_the_bot_only_changed_its_name() -> None:
    rename = copy.deepcopy(BOT_JOIN)
    rename["unsigned"]["prev_content"]["membership"] = "join"

    assert convert.arrival_index([REPLY, rename, VOICE], BOT) is None
    assert convert.arrival_index([REPLY, rename, VOICE], BOT, at_join=True) is None


def test_it_keeps_everything_after_an_invite_it_did_not_see() -> None:
    # Joined after an invite from before this timeline: it all came after the invite.
    assert convert.arrival_index([REPLY, BOT_JOIN, VOICE], BOT) is None


# ---------------------------------------------------------------- outbound


def delivery(**fields: Any) -> Delivery:
    values: dict[str, Any] = {"outbox_id": OutboxId(17), "chat": ChatRef(f"matrix:{ROOM}")}
    return Delivery(**(values | fields))


FINE = Button("我很好 / I'm fine", "tok-ok", "✅")
HELP = Button("需要帮助 / Help", "tok-help", "🆘")


def test_it_sends_plain_text_with_an_escaped_html_rendering() -> None:
    content = convert.message_content(delivery(text="Hi <Li> & co\nline two"))

    assert content == {
        "msgtype": "m.text",
        "body": "Hi <Li> & co\nline two",
        "format": "org.matrix.custom.html",
        "formatted_body": "Hi &lt;Li&gt; &amp; co<br>line two",
    }


def test_it_uses_the_given_html_as_is() -> None:
    content = convert.message_content(delivery(text="Hi *Li*", html="Hi <b>Li</b>"))

    assert (content["body"], content["formatted_body"]) == ("Hi *Li*", "Hi <b>Li</b>")


def test_it_lists_the_choices_only_when_the_text_does_not_show_them() -> None:
    shown = delivery(
        text="今天好吗?\n✅ 我很好 / I'm fine\n🆘 需要帮助 / Help", buttons=((FINE, HELP),)
    )
    missing = delivery(text="今天好吗?", buttons=((FINE,), (HELP,)))

    assert convert.message_content(shown)["body"] == shown.text
    assert convert.message_content(missing)["body"] == (
        "今天好吗?\n\n✅ 我很好 / I'm fine\n🆘 需要帮助 / Help"
    )
    assert convert.message_content(missing)["formatted_body"].endswith(
        "<br><br>✅ 我很好 / I&#x27;m fine<br>🆘 需要帮助 / Help"
    )


def test_it_does_not_repeat_an_emoji_the_label_already_starts_with() -> None:
    ok = Button("✅ 我很好", "tok-ok", "✅")
    ack = Button("\U0001f440 I'll handle it", "tok-ack", "\U0001f440")
    # The label spells the emoji with the variation selector, the reaction without.
    sos = Button("\U0001f198\ufe0f Help", "tok-sos", "\U0001f198")

    content = convert.message_content(delivery(text="?", buttons=((ok, ack, sos),)))

    assert content["body"] == "?\n\n✅ 我很好\n\U0001f440 I'll handle it\n\U0001f198\ufe0f Help"


def test_it_adds_links_the_text_does_not_contain() -> None:
    content = convert.message_content(
        delivery(text="Alert 3 is open", links=(("Open", "https://cc.example/a/3"),))
    )

    assert content["body"] == "Alert 3 is open\nOpen: https://cc.example/a/3"
    assert content["formatted_body"].endswith('<a href="https://cc.example/a/3">Open</a>')


def test_it_puts_one_reaction_per_distinct_button_emoji() -> None:
    again = Button("Fine again", "tok-2", "✅")
    plain = Button("No emoji", "tok-3")

    keys = convert.reaction_keys(delivery(text="?", buttons=((FINE, HELP), (again, plain))))

    assert keys == ["✅", "🆘"]
    assert convert.reaction_content("$e", "✅") == {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": "$e", "key": "✅"}
    }


def test_it_finds_the_bots_own_live_reactions_among_a_messages_relations() -> None:
    def reaction(event_id: str, sender: str, key: str, **extra: Any) -> dict[str, Any]:
        relation = {"rel_type": "m.annotation", "event_id": "$prompt", "key": key}
        return {
            "type": "m.reaction",
            "event_id": event_id,
            "sender": sender,
            "content": {"m.relates_to": relation},
            **extra,
        }

    events = [
        reaction("$r1", BOT, "✅"),
        reaction("$r2", BOT, "🆘"),
        reaction("$r3", GRANDMA, "✅"),  # hers, not ours to take back
        reaction("$r4", BOT, "👀", unsigned={"redacted_because": {"event_id": "$x"}}),
        {"type": "m.reaction", "event_id": "$r5", "sender": BOT, "content": {}},  # redacted
    ]

    assert convert.own_reactions(events, BOT) == [("$r1", "✅"), ("$r2", "🆘")]
    assert convert.redaction_tx_id(63, "$r1") == convert.redaction_tx_id(63, "$r1")
    assert convert.redaction_tx_id(63, "$r1") != convert.redaction_tx_id(63, "$r2")


def test_it_edits_with_m_replace_and_a_starred_fallback() -> None:
    content = convert.edit_content(delivery(text="谢谢, noted", edit_of="$orig"))

    assert content["body"] == "* 谢谢, noted"
    assert content["formatted_body"] == "* 谢谢, noted"
    assert content["m.new_content"] == convert.message_content(delivery(text="谢谢, noted"))
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}


def test_it_derives_transaction_ids_from_the_outbox_row() -> None:
    assert convert.tx_id(17) == "cc17"
    assert convert.reaction_tx_id(17, 1) == "cc17r1"


@pytest.mark.parametrize(
    ("chat", "target"),
    [
        ("matrix:!abc:example.org", convert.Target(room_id="!abc:example.org")),
        ("matrix:@li:example.org", convert.Target(user_id="@li:example.org")),
        # Room version 12 room ids carry no server name.
        ("matrix:!WiicSO5Z1lVsXS0ULvx", convert.Target(room_id="!WiicSO5Z1lVsXS0ULvx")),
    ],
)
def test_it_sends_to_rooms_and_to_people(chat: str, target: convert.Target) -> None:
    assert convert.parse_target(ChatRef(chat)) == target


@pytest.mark.parametrize(
    "chat", ["telegram:123", "matrix:#team:example.org", "matrix:@nobody", "matrix:!", "matrix"]
)
def test_it_refuses_what_is_not_a_matrix_room_or_user(chat: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        convert.parse_target(ChatRef(chat))


# ---------------------------------------------------------------- errors


def answered(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = RoomSendError.from_dict(body, ROOM)
    response.transport_response = SimpleNamespace(status=status, headers=headers or {})
    return response


def test_it_turns_a_rate_limit_into_a_transient_error_with_the_wait() -> None:
    error = response_error(
        answered(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many", "retry_after_ms": 2500}),
        "send",
    )

    assert (error.permanent, error.retry_after, error.whole_platform) == (False, 2.5, True)


def test_it_reads_the_retry_after_header_when_the_body_has_no_wait() -> None:
    error = response_error(
        answered(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "x"}, {"Retry-After": "3"}), "send"
    )

    assert error.retry_after == 3.0


@pytest.mark.parametrize(
    ("status", "errcode"),
    [(403, "M_FORBIDDEN"), (404, "M_NOT_FOUND"), (400, "M_UNKNOWN"), (400, "M_BAD_JSON")],
)
def test_it_gives_up_on_refusals(status: int, errcode: str) -> None:
    error = response_error(answered(status, {"errcode": errcode, "error": "no"}), "send")

    assert error.permanent and errcode in str(error)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, {}),
        (500, {"errcode": "M_UNKNOWN", "error": "Internal server error"}),
        (401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}),
    ],
)
def test_it_retries_server_failures_and_token_trouble(status: int, body: dict[str, Any]) -> None:
    assert not response_error(answered(status, body), "send").permanent


def test_it_judges_a_response_without_http_status_by_its_errcode() -> None:
    refused = SyncError.from_dict({"errcode": "M_FORBIDDEN", "error": "no"})

    assert response_error(refused, "sync").permanent
    assert not response_error(SyncError.from_dict({}), "sync").permanent


def test_it_retries_dropped_connections() -> None:
    error = connection_error(aiohttp.ServerDisconnectedError(), "send to !r:x")

    assert not error.permanent and "ServerDisconnectedError" in str(error)


def test_it_scrubs_secrets_from_messages() -> None:
    assert scrub("token syt_abc at pw hunter2", "syt_abc", None, "hunter2") == "token *** at pw ***"


def test_it_backs_off_exponentially_up_to_a_cap() -> None:
    backoff = _Backoff(first=1.0, cap=8.0)

    delays = [backoff.next() for _ in range(6)]
    backoff.reset()

    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.next() <= 1


def test_it_spots_encrypted_events_in_a_timeline() -> None:
    assert convert.has_encrypted([parsed(REPLY), parsed(ENCRYPTED)])
    assert not convert.has_encrypted([parsed(REPLY), REACTION])
