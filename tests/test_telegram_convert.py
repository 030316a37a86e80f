"""Pure conversions, tested on update JSON in the shape Telegram sends it."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage

from adapters.telegram.convert import (
    CallbackDataTooLong,
    callback_answer_text,
    callback_data,
    chat_id_of,
    event_from_dict,
    is_group_chat,
    keyboard,
    render_text,
    split_text,
    utf16_length,
)
from adapters.telegram.errors import TokenScrubber, delivery_error
from core.commands import Button, Delivery
from core.events import ButtonPressed, ChatLeft, MessageKind, MessageReceived, Sender
from core.ids import ChatRef, OutboxId

MEI = {
    "id": 5550001,
    "is_bot": False,
    "first_name": "Mei",
    "last_name": "Lin",
    "language_code": "zh-hans",
}
MEI_CHAT = {"id": 5550001, "first_name": "Mei", "last_name": "Lin", "type": "private"}
MEI_SENDER = Sender(
    platform="telegram",
    address="5550001",
    chat=ChatRef("telegram:5550001"),
    display_name="Mei Lin",
)
BOT = {"id": 123456789, "is_bot": True, "first_name": "carecheck", "username": "carecheck_test_bot"}
GROUP = {"id": -1001234567890, "title": "Grid 7 responders", "type": "supergroup"}


def message_update(
    update_id: int = 901, chat: dict[str, Any] = MEI_CHAT, **content: Any
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 42,
            "from": MEI,
            "chat": chat,
            "date": 1718000000,
            **content,
        },
    }


FILE = {"file_id": "AwACAgUAAxkBAAIB", "file_unique_id": "AgADqw4AAk", "file_size": 9000}
MEDIA: list[tuple[dict[str, Any], MessageKind]] = [
    ({"voice": {**FILE, "duration": 5, "mime_type": "audio/ogg"}}, MessageKind.VOICE),
    ({"audio": {**FILE, "duration": 61, "title": "recording"}}, MessageKind.VOICE),
    (
        {
            "sticker": {
                **FILE,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "😊",
            }
        },
        MessageKind.STICKER,
    ),
    (
        {"photo": [{**FILE, "width": 90, "height": 67}, {**FILE, "width": 1280, "height": 960}]},
        MessageKind.PHOTO,
    ),
    ({"video": {**FILE, "width": 720, "height": 1280, "duration": 8}}, MessageKind.VIDEO),
    ({"video_note": {**FILE, "length": 384, "duration": 6}}, MessageKind.VIDEO),
    ({"document": {**FILE, "file_name": "prescription.pdf"}}, MessageKind.FILE),
    ({"location": {"latitude": 31.2304, "longitude": 121.4737}}, MessageKind.LOCATION),
    ({"contact": {"phone_number": "+8613800000000", "first_name": "Hua"}}, MessageKind.OTHER),
]


def test_it_reads_a_private_text_message() -> None:
    event = event_from_dict(message_update(text="我很好"))
    assert event == MessageReceived(
        event_id="tg:901",
        sender=MEI_SENDER,
        chat=ChatRef("telegram:5550001"),
        kind=MessageKind.TEXT,
        text="我很好",
        is_group=False,
    )


@pytest.mark.parametrize(("content", "kind"), MEDIA, ids=[next(iter(c)) for c, _ in MEDIA])
def test_it_reads_every_sign_of_life_as_its_kind(
    content: dict[str, Any], kind: MessageKind
) -> None:
    event = event_from_dict(message_update(**content))
    assert isinstance(event, MessageReceived)
    assert event.kind is kind
    assert event.text == ""


def test_it_takes_the_caption_as_the_text_of_a_photo() -> None:
    event = event_from_dict(
        message_update(photo=[{**FILE, "width": 90, "height": 67}], caption="lunch")
    )
    assert isinstance(event, MessageReceived)
    assert (event.kind, event.text) == (MessageKind.PHOTO, "lunch")


def test_it_keeps_a_start_command_with_its_code_as_text() -> None:
    update = message_update(
        text="/start K7Q2", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
    )
    event = event_from_dict(update)
    assert isinstance(event, MessageReceived)
    assert event.text == "/start K7Q2"


def test_it_marks_a_group_message_and_keeps_the_senders_private_chat() -> None:
    event = event_from_dict(message_update(chat=GROUP, text="收到，我去看看"))
    assert isinstance(event, MessageReceived)
    assert event.is_group
    assert event.chat == ChatRef("telegram:-1001234567890")
    assert event.sender.chat == ChatRef("telegram:5550001")


def test_it_ignores_service_messages_in_a_group() -> None:
    update = message_update(chat=GROUP, new_chat_members=[MEI])
    assert event_from_dict(update) is None


def test_it_ignores_messages_from_bots() -> None:
    update = message_update(text="hello")
    update["message"]["from"] = {"id": 777, "is_bot": True, "first_name": "other bot"}
    assert event_from_dict(update) is None


def test_it_ignores_edited_messages() -> None:
    update = message_update(text="edited")
    update["edited_message"] = {**update.pop("message"), "edit_date": 1718000100}
    assert event_from_dict(update) is None


def test_it_reads_a_button_press_without_the_callback_prefix() -> None:
    update = {
        "update_id": 902,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": MEI,
            "message": {
                "message_id": 77,
                "from": BOT,
                "chat": MEI_CHAT,
                "date": 1718000000,
                "text": "今天好吗？",
                "reply_markup": {
                    "inline_keyboard": [[{"text": "我很好", "callback_data": "a:ok.17.x9"}]]
                },
            },
            "chat_instance": "-5239681023",
            "data": "a:ok.17.x9",
        },
    }
    assert event_from_dict(update) == ButtonPressed(
        event_id="tg:902",
        sender=MEI_SENDER,
        chat=ChatRef("telegram:5550001"),
        token="ok.17.x9",
        platform_message_id="77",
        callback_id="4382bfdwdsb323b2d9",
    )


def test_it_passes_a_press_on_a_foreign_keyboard_with_an_empty_token() -> None:
    update = {
        "update_id": 903,
        "callback_query": {"id": "q1", "from": MEI, "chat_instance": "1", "data": "legacy-data"},
    }
    event = event_from_dict(update)
    assert isinstance(event, ButtonPressed)
    assert (event.token, event.callback_id, event.chat) == ("", "q1", MEI_SENDER.chat)


def chat_member_update(status: str, chat: dict[str, Any] = MEI_CHAT) -> dict[str, Any]:
    new_member: dict[str, Any] = {"user": BOT, "status": status}
    if status == "kicked":
        new_member["until_date"] = 0
    return {
        "update_id": 904,
        "my_chat_member": {
            "chat": chat,
            "from": MEI,
            "date": 1718000000,
            "old_chat_member": {"user": BOT, "status": "member"},
            "new_chat_member": new_member,
        },
    }


@pytest.mark.parametrize("status", ["kicked", "left"])
def test_it_reports_a_person_who_blocks_the_bot(status: str) -> None:
    assert event_from_dict(chat_member_update(status)) == ChatLeft(
        event_id="tg:904", sender=MEI_SENDER, chat=ChatRef("telegram:5550001")
    )


def test_it_ignores_the_bot_leaving_a_group_and_a_person_coming_back() -> None:
    assert event_from_dict(chat_member_update("left", chat=GROUP)) is None
    assert event_from_dict(chat_member_update("member")) is None


# --- outbound ----------------------------------------------------------------------


def delivery(**fields: Any) -> Delivery:
    return Delivery(outbox_id=OutboxId(1), chat=ChatRef("telegram:5550001"), **fields)


def test_it_prefixes_callback_data_and_refuses_more_than_64_bytes() -> None:
    assert callback_data("x" * 62) == "a:" + "x" * 62
    with pytest.raises(CallbackDataTooLong, match="64"):
        callback_data("x" * 63)
    with pytest.raises(CallbackDataTooLong):
        callback_data("好" * 21)  # 63 bytes of UTF-8, plus the prefix


def test_it_builds_a_keyboard_with_rows_emoji_and_web_links() -> None:
    markup = keyboard(
        delivery(
            text="今天好吗？",
            buttons=((Button("I'm fine", "ok", "👍"), Button("Help", "help")),),
            links=(("Map", "https://example.org/map"), ("Call Hua", "tel:+8613800000000")),
        )
    )
    assert markup is not None
    rows = [[(b.text, b.callback_data, b.url) for b in row] for row in markup.inline_keyboard]
    assert rows == [
        [("👍 I'm fine", "a:ok", None), ("Help", "a:help", None)],
        [("Map", None, "https://example.org/map")],
    ]


def test_it_does_not_repeat_an_emoji_the_label_already_starts_with() -> None:
    markup = keyboard(
        delivery(
            text="今天好吗？",
            buttons=((Button("✅ 我很好", "ok", "✅"), Button("已上门探望", "v", "🚪")),),
        )
    )
    assert markup is not None
    assert [b.text for b in markup.inline_keyboard[0]] == ["✅ 我很好", "🚪 已上门探望"]


def test_it_has_no_keyboard_without_buttons() -> None:
    assert keyboard(delivery(text="hi")) is None


def test_it_writes_phone_links_into_the_text() -> None:
    text = render_text(
        delivery(text="Call your grid leader:", links=(("Hua", "tel:+8613800000000"),))
    )
    assert text == "Call your grid leader:\n\nHua: +8613800000000"


def test_it_leaves_a_short_text_whole() -> None:
    assert split_text("one\ntwo") == ["one\ntwo"]


def test_it_splits_long_text_at_line_boundaries() -> None:
    lines = [f"line {n:03} " + "x" * 50 for n in range(200)]
    parts = split_text("\n".join(lines))
    assert len(parts) == 3
    assert all(utf16_length(part) <= 4096 for part in parts)
    assert [line for part in parts for line in part.split("\n")] == lines


def test_it_splits_one_long_line_at_spaces_and_cuts_only_an_unbroken_word() -> None:
    words = " ".join(["word"] * 2000)
    parts = split_text(words)
    assert all(utf16_length(part) <= 4096 for part in parts)
    assert all(
        part.split(" ") == ["word"] * len(part.split(" ")) for part in [p.strip() for p in parts]
    )
    assert split_text("y" * 5000) == ["y" * 4096, "y" * 904]


def test_it_counts_length_in_utf16_units_like_telegram() -> None:
    parts = split_text("😀" * 2100)  # 4200 UTF-16 units, 2100 characters
    assert [len(part) for part in parts] == [2048, 52]


def test_it_reads_chat_refs_and_knows_groups() -> None:
    assert chat_id_of(ChatRef("telegram:-100123")) == -100123
    assert is_group_chat(ChatRef("telegram:-100123"))
    assert not is_group_chat(ChatRef("telegram:5550001"))
    with pytest.raises(ValueError, match="not a Telegram chat"):
        chat_id_of(ChatRef("matrix:!room:example.org"))


def test_it_shortens_a_toast_to_200_characters() -> None:
    assert callback_answer_text("ok") == "ok"
    assert len(callback_answer_text("z" * 300)) == 200


# --- error translation ---------------------------------------------------------------

TOKEN = "123456789:SECRET-part-of-the-token"
METHOD = SendMessage(chat_id=5550001, text="hi")


def test_it_translates_telegram_errors_once() -> None:
    scrub = TokenScrubber(TOKEN)
    cases = [
        (TelegramRetryAfter(METHOD, "Too Many Requests: retry after 7", 7), (False, 7.0, True)),
        (TelegramServerError(METHOD, "Internal Server Error"), (False, None, False)),
        (TelegramNetworkError(METHOD, "Request timeout error"), (False, None, False)),
        (
            TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"),
            (True, None, False),
        ),
        (TelegramBadRequest(METHOD, "Bad Request: chat not found"), (True, None, False)),
        (TelegramEntityTooLarge(METHOD, "Request Entity Too Large"), (True, None, False)),
        (TelegramUnauthorizedError(METHOD, "Unauthorized"), (False, 60.0, True)),
        (TimeoutError(), (False, None, False)),
    ]
    for exc, expected in cases:
        error = delivery_error(exc, scrub)
        assert error is not None, exc
        assert (error.permanent, error.retry_after, error.whole_platform) == expected, exc


def test_it_leaves_bugs_untranslated() -> None:
    assert delivery_error(KeyError("oops"), TokenScrubber(TOKEN)) is None


def test_it_never_repeats_the_token() -> None:
    exc = TelegramNetworkError(
        METHOD, f"InvalidURL: https://api.telegram.org/bot{TOKEN}/sendMessage"
    )
    error = delivery_error(exc, TokenScrubber(TOKEN))
    assert error is not None
    assert "SECRET" not in str(error)
    assert "<token>" in str(error)
