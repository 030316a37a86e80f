"""Bad input of every kind: nothing crashes with anything but the documented error,
every refusal names its file, line and reason, and a refused import changes nothing.

Property-based (hypothesis), with bounded runs so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.matrix import convert as matrix
from adapters.telegram import convert as telegram
from core.config import WorkflowConfig
from core.events import event_to_dict
from gateway.config import ConfigError, builtin_config_text, parse_config
from gateway.people import (
    COLUMNS,
    PeopleFileError,
    decode_people_file,
    export_people,
    import_people,
)
from gateway.textfiles import FORMULA_STARTS, from_spreadsheet, spreadsheet_safe
from store.sqlite import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
# No example database on disk (the runs are small and must not depend on earlier ones).
BOUNDED = settings(
    max_examples=int(os.environ.get("BAD_INPUT_EXAMPLES", "150")),
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- the workflow file -----------------------------------------------------------------

EXAMPLE = builtin_config_text()
EXAMPLE_DATA: dict[str, Any] = yaml.safe_load(EXAMPLE)
# The first parse imports the texts that templates are checked against: done here, so
# that no example's deadline includes it.
parse_config(EXAMPLE)
KEYS = [
    "timezone",
    "default_plan",
    "invite_policy",
    "invite_ttl",
    "plans",
    "escalation_policies",
    "teams",
    "templates",
    "grids",
    "help_words",
    "concern_window",
    "daily",
    "standard",
    "schedule",
    "reply_window",
    "reminders",
    "escalation",
    "quiet_hours",
    "steps",
    "notify",
    "wait",
    "repeat",
    "default_wait",
    "channel",
    "handles",
    "name",
    "zh",
    "en",
    "checkin",
    "urgent",
    "concern",
    "negation",
    "fine",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "30m",
            "0s",
            "99999999999999d",
            "1h30m",
            "0 9 * * *",
            "* * * * * *",
            "61 25 32 13 8",
            "21:30-07:00",
            "25:00-07:00",
            "Asia/Shanghai",
            "../../etc/passwd",
            "telegram:-1001234",
            "matrix:!r:x",
            "irc:#x",
            "grid_leader",
            "resident",
            "medicine",
            "{name}",
            "{name:>999999999}",
            "{name!r}",
            "{0}",
            "{",
            "}",
        ]
    ),
)
YAML_DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=4
        ),
    ),
    max_leaves=30,
)


def refused(text: str) -> ConfigError | None:
    """Parse `text`; None when accepted. Anything but ConfigError fails the test."""
    try:
        parse_config(text, "care.yaml")
    except ConfigError as exc:
        return exc
    return None


def assert_named(exc: ConfigError, text: str) -> None:
    assert exc.problems
    last_line = text.count("\n") + 2
    for problem in exc.problems:
        assert problem.file == "care.yaml" and problem.message.strip(), problem
        whole_file = problem.message.startswith(("larger than", "… and"))
        assert whole_file or problem.line is not None, problem
        assert problem.line is None or 1 <= problem.line <= last_line, problem
        assert str(problem).startswith("care.yaml")


# YAML's own punctuation (anchors, aliases, tags, flow and block collections), so that
# random text reaches the composer and not only the scanner.
YAML_TEXT = st.text(alphabet="&*!|>'\"%@`{}[],:#-? \n\tab1", max_size=200)


@BOUNDED
@given(st.one_of(st.text(max_size=400), YAML_TEXT))
@example("")  # empty: line 1
@example("plans:\n  a: \x1f\n")  # a control character: PyYAML refuses it before parsing
def test_any_text_is_a_config_or_a_config_error_with_lines(text: str) -> None:
    exc = refused(text)
    if exc is not None:
        assert_named(exc, text)


@BOUNDED
@given(st.dictionaries(st.sampled_from(KEYS), YAML_DATA, max_size=6))
def test_any_yaml_over_the_example_is_a_config_or_a_config_error(extra: dict[str, Any]) -> None:
    text = yaml.safe_dump({**EXAMPLE_DATA, **extra}, allow_unicode=True)
    exc = refused(text)
    if exc is not None:
        assert_named(exc, text)


@BOUNDED
@given(st.data())
def test_any_line_of_the_example_may_be_broken(data: st.DataObject) -> None:
    lines = EXAMPLE.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    key, colon, _ = lines[index].partition(":")
    value = data.draw(st.one_of(SCALARS.map(str), st.text(max_size=40)))
    lines[index] = f"{key}{colon} {value}" if colon else value
    text = "\n".join(lines) + "\n"
    exc = refused(text)
    if exc is not None:
        assert_named(exc, text)


# --- the people file -------------------------------------------------------------------

CELL = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="=+-@'\t\r\n\"\x00,;", max_size=4),
    st.sampled_from(
        [
            "",
            "resident",
            "grid_leader",
            "family",
            "G1",
            "zh",
            "en",
            "daily",
            "Asia/Shanghai",
            "Moon/Base",
            "1001",
            "-1001234567890",
            "12345678901234567890",
            "@wang:example.org",
            "+8613800000001",
            '=HYPERLINK("x")',
            "'=1+1",
            "王秀英",
            "x" * 300,
        ]
    ),
)
ROW = st.lists(CELL, min_size=len(COLUMNS) - 1, max_size=len(COLUMNS) + 2)
HEADER = ",".join([*COLUMNS, "family_of"])


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


PEOPLE_TEXT = st.one_of(
    st.lists(ROW, max_size=5).map(lambda rows: HEADER + "\n" + to_csv(rows)),
    st.text(max_size=300).map(lambda text: HEADER + "\n" + text),
    st.text(max_size=200),
)


class PeopleDb:
    """One real SQLite store for a whole hypothesis run, on one event loop."""

    def __init__(self, path: Path, config: WorkflowConfig) -> None:
        self.runner = asyncio.Runner()
        self.store = Store(path)
        self.config = config
        self.runner.run(self.store.open())
        self.runner.run(
            import_people(
                self.store,
                config,
                HEADER + "\nLeader Li,grid_leader,G1,,zh,,,,,1001,,\n"
                "Wang,resident,G1,,zh,,,,,1011,@wang:example.org,\n",
                NOW,
            )
        )

    def snapshot(self) -> tuple[int, int, str]:
        async def read() -> tuple[int, int, str]:
            async with self.store.transaction() as tx:
                people, identities = len(await tx.people()), len(await tx.all_identities())
            return people, identities, await export_people(self.store)

        return self.runner.run(read())

    def load(self, text: str) -> int:
        return self.runner.run(import_people(self.store, self.config, text, NOW, "people.csv"))

    def close(self) -> None:
        self.runner.run(self.store.close())
        self.runner.close()


@pytest.fixture(scope="module")
def people_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeopleDb]:
    db = PeopleDb(
        tmp_path_factory.mktemp("people") / "db.sqlite", parse_config(builtin_config_text())
    )
    yield db
    db.close()


@BOUNDED
@given(PEOPLE_TEXT)
def test_any_people_file_is_imported_whole_or_refused_with_lines_changing_nothing(
    people_db: PeopleDb, text: str
) -> None:
    before = people_db.snapshot()
    try:
        people_db.load(text)
    except PeopleFileError as exc:
        assert people_db.snapshot() == before
        assert exc.problems and str(exc).startswith("people.csv: line ")
        lines = text.count("\n") + 2
        for problem in exc.problems:
            assert 1 <= problem.line <= lines and problem.message.strip(), problem
        return
    # Accepted: what the export says imports again to the very same export.
    exported = people_db.snapshot()[2]
    people_db.load(exported)
    assert people_db.snapshot()[2] == exported


@BOUNDED
@given(st.binary(max_size=200))
def test_any_bytes_are_text_or_a_problem_with_a_line(data: bytes) -> None:
    try:
        text = decode_people_file(data, "people.csv")
    except PeopleFileError as exc:
        (problem,) = exc.problems
        assert 1 <= problem.line <= data.count(b"\n") + 1 and "not UTF-8" in problem.message
    else:
        assert text == data.decode("utf-8-sig")


@BOUNDED
@given(st.text(max_size=20))
def test_a_spreadsheet_never_sees_a_formula_and_the_value_comes_back(value: str) -> None:
    cell = spreadsheet_safe(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert from_spreadsheet(cell) == value


@pytest.mark.parametrize("start", [*FORMULA_STARTS, "'", "a", "王"])
def test_every_formula_start_gets_an_apostrophe(start: str) -> None:
    expected = "'" + start + "x" if start in FORMULA_STARTS else start + "x"
    assert spreadsheet_safe(start + "x") == expected


# --- the needs export --------------------------------------------------------------------


async def test_the_needs_export_shows_formulas_typed_in_a_chat_as_text(
    harness: Any,
) -> None:
    from gateway.needs_table import export_needs

    await harness.say("Wang", "/need 药 =cmd|' /C calc'!A0")
    await harness.say("Wang", "/need 药 @SUM(1+1)")
    text = await export_needs(harness.store, "Asia/Shanghai")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["text"] for row in rows] == ["'=cmd|' /C calc'!A0", "'@SUM(1+1)"]
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]


def test_printable_ascii_is_left_alone() -> None:
    safe = [c for c in string.printable if c not in "=+-@\t\r"]
    assert all(spreadsheet_safe(c + "1") == c + "1" for c in safe)


# --- the chat converters -------------------------------------------------------------------

# Strings as JSON can carry them: lone surrogates (`"\ud800"`) included, which neither
# SQLite nor any platform accepts back.
TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
    max_size=12,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly what the platform sends, sometimes anything at all."""
    return st.one_of(valid, valid, valid, JSON)


def storable(event: Any) -> None:
    """What the inbox does with an event: it must be JSON that SQLite takes."""
    json.dumps(event_to_dict(event), ensure_ascii=False).encode("utf-8")


TG_ID = st.one_of(st.integers(-(2**63), 2**63), st.integers(-1000, 1000))
TG_USER = st.fixed_dictionaries(
    {"id": maybe(TG_ID), "is_bot": maybe(st.booleans()), "first_name": maybe(TEXT)},
    optional={"last_name": maybe(TEXT), "username": maybe(TEXT)},
)
TG_CHAT = st.fixed_dictionaries(
    {
        "id": maybe(TG_ID),
        "type": maybe(st.sampled_from(["private", "group", "supergroup", "channel", "secret"])),
    },
    optional={"title": TEXT},
)
TG_FILE = st.fixed_dictionaries({"file_id": TEXT, "file_unique_id": TEXT})
TG_MESSAGE = st.fixed_dictionaries(
    {"message_id": maybe(TG_ID), "date": maybe(st.integers(0, 2**33)), "chat": maybe(TG_CHAT)},
    optional={
        "from": maybe(TG_USER),
        "text": maybe(TEXT),
        "caption": maybe(TEXT),
        "voice": maybe(TG_FILE.map(lambda f: {**f, "duration": 3})),
        "location": maybe(st.just({"latitude": 31.2, "longitude": 121.4})),
        "new_chat_members": maybe(st.lists(TG_USER, max_size=2)),
        "reply_to_message": maybe(
            st.fixed_dictionaries({"message_id": TG_ID, "date": st.just(1), "chat": TG_CHAT})
        ),
    },
)
TG_MEMBER = st.fixed_dictionaries(
    {
        "status": maybe(st.sampled_from(["member", "kicked", "left", "administrator"])),
        "user": maybe(TG_USER),
    },
    optional={"until_date": st.just(0)},
)
TG_CALLBACK = st.fixed_dictionaries(
    {"id": maybe(TEXT), "from": maybe(TG_USER), "chat_instance": maybe(TEXT)},
    optional={"data": maybe(TEXT), "message": maybe(TG_MESSAGE)},
)
TG_CHAT_MEMBER = st.fixed_dictionaries(
    {
        "chat": maybe(TG_CHAT),
        "from": maybe(TG_USER),
        "date": st.just(1),
        "old_chat_member": maybe(TG_MEMBER),
        "new_chat_member": maybe(TG_MEMBER),
    }
)
TG_UPDATE = st.one_of(
    *(
        st.fixed_dictionaries({"update_id": maybe(TG_ID), kind: maybe(body)})
        for kind, body in [
            ("message", TG_MESSAGE),
            ("edited_message", TG_MESSAGE),
            ("callback_query", TG_CALLBACK),
            ("my_chat_member", TG_CHAT_MEMBER),
        ]
    )
)
MEI = {"id": 5550001, "is_bot": False, "first_name": "Mei\ud800"}
MEI_CHAT = {"id": 5550001, "type": "private"}


@BOUNDED
@given(st.one_of(TG_UPDATE, JSON))
# Lone surrogates in a name and a text: valid JSON, but SQLite refuses the event.
@example(
    {
        "update_id": 1,
        "message": {"message_id": 2, "date": 1, "chat": MEI_CHAT, "from": MEI, "text": "好\udc00"},
    }
)
@example(
    {
        "update_id": 1,
        "callback_query": {"id": "\ud800", "from": MEI, "chat_instance": "1", "data": "a:\ud800"},
    }
)
@example({"update_id": None})  # not an update: skipped
@example(None)
def test_any_telegram_update_is_an_event_or_skipped(update: Any) -> None:
    event = telegram.event_from_dict(update)
    if event is not None:
        assert event.event_id.startswith("tg:")
        storable(event)


@BOUNDED
@given(TEXT)
def test_any_text_splits_into_parts_telegram_takes(text: str) -> None:
    text = telegram.storable(text)
    if not text.strip():
        return  # nothing is sent
    parts = telegram.split_text(text * 500)
    assert all(0 < telegram.utf16_length(p) <= telegram.MESSAGE_MAX_LENGTH for p in parts)
    assert len(telegram.callback_answer_text(text * 50)) <= telegram.CALLBACK_ANSWER_MAX_LENGTH


MX_USER = st.sampled_from(["@carebot:localhost", "@grandma:localhost", "@li:localhost"])
MX_CONTENT = st.fixed_dictionaries(
    {},
    optional={
        "msgtype": maybe(st.sampled_from(["m.text", "m.image", "m.audio", "m.notice", "x"])),
        "body": maybe(TEXT),
        "filename": maybe(TEXT),
        "membership": maybe(st.sampled_from(["join", "invite", "leave", "ban"])),
        "displayname": maybe(TEXT),
        "m.relates_to": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "rel_type": maybe(st.sampled_from(["m.annotation", "m.replace", "m.thread"])),
                    "event_id": maybe(TEXT),
                    "key": maybe(TEXT),
                    "m.in_reply_to": maybe(
                        st.fixed_dictionaries({}, optional={"event_id": maybe(TEXT)})
                    ),
                },
            )
        ),
    },
)
MX_EVENT = st.fixed_dictionaries(
    {
        "type": maybe(
            st.sampled_from(
                ["m.room.message", "m.reaction", "m.sticker", "m.room.member", "m.room.encrypted"]
            )
        ),
        "event_id": maybe(TEXT.map(lambda t: "$" + t)),
        "sender": maybe(st.one_of(MX_USER, TEXT)),
        "content": maybe(MX_CONTENT),
    },
    optional={
        "state_key": maybe(st.one_of(MX_USER, TEXT)),
        "unsigned": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "prev_content": maybe(MX_CONTENT),
                    "redacted_because": JSON,
                },
            )
        ),
    },
)
MX_ROOMS = [
    matrix.RoomView("!dm:localhost", frozenset({"@grandma:localhost"}), 2, {}),
    matrix.RoomView(
        "!team:localhost",
        frozenset({"@grandma:localhost", "@li:localhost"}),
        3,
        {"@grandma:localhost": "王奶奶"},
    ),
    matrix.RoomView("!gone:localhost"),
]


class NioLike:
    """How matrix-nio hands an event over: its JSON under `source`."""

    def __init__(self, source: Any) -> None:
        self.source = source


GRANDMA_SAYS = {
    "type": "m.room.message",
    "event_id": "$1",
    "sender": "@grandma:localhost",
    "content": {"msgtype": "m.text", "body": "好\ud800", "m.relates_to": {"key": {}}},
}
GRANDMA_LEAVES = {
    "type": "m.room.member",
    "event_id": "$2",
    "sender": "@grandma:localhost",
    "state_key": "@grandma:localhost",
    "content": {"membership": ["leave"]},  # not hashable: no set lookup on it
}
GRANDMA_REACTS = {
    "type": "m.reaction",
    "event_id": "$3\udfff",
    "sender": "@grandma:localhost",
    "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": [], "key": "✅\ud800"}},
}


@BOUNDED
@given(
    st.lists(st.one_of(MX_EVENT, JSON, MX_EVENT.map(NioLike)), max_size=4),
    st.sampled_from(MX_ROOMS),
    st.booleans(),
)
@example([GRANDMA_SAYS, GRANDMA_LEAVES, GRANDMA_REACTS], MX_ROOMS[0], False)
def test_any_matrix_timeline_gives_events_or_skips(
    events: list[Any], room: Any, at_join: bool
) -> None:
    bot = "@carebot:localhost"
    for event in events:
        inbound = matrix.inbound_event(event, room, bot)
        if inbound is not None:
            storable(inbound)
    arrival = matrix.arrival_index(events, bot, at_join=at_join)
    assert arrival is None or 0 <= arrival < len(events)
    assert isinstance(matrix.has_encrypted(events), bool)
    for event_id, key in matrix.own_reactions(events, bot):
        assert isinstance(event_id, str) and isinstance(key, str)
