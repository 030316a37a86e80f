"""End to end over Telegram: real aiogram over HTTP against the Bot API test server,
through the real engine and a SQLite file, on an injected clock.

The care clock only moves when a test moves it. The only real waiting is bounded:
for an update to travel through long polling into the inbox, and for HTTP round trips
(and, where a test injects one, Telegram's own retry_after).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Adapter
from adapters.telegram import OFFSET_KEY, TelegramAdapter
from adapters.telegram.links import bot_username, deep_link
from core.commands import Priority
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.records import Alert, AlertReason, AlertState, Person
from gateway.app import Gateway, build_adapters
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.invites import create_invitation
from gateway.people import import_people
from gateway.ratelimit import Limiter
from gateway.settings import Settings
from store.sqlite import Store
from tests.conftest import START
from tests.telegram_server import Call, Fault, SentMessage, TelegramTestServer

pytestmark = pytest.mark.telegram

MIN = timedelta(minutes=1)
# Bounded waits for things that cross HTTP (seconds of real time).
WITHIN = 5.0
LIMITER_SPEED = 50.0

LEADER = 9100001
CARE_LEAD = 9100002
WANG = 9200001  # answers with the button
CHEN = 9200002  # stays silent
ZHAO = 9200003  # asks for help
SUN = 9200004  # has blocked the bot
STRANGER = 9300001
GROUP = -1001234567890

PEOPLE_CSV = f"""name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,en,,1380001,,,{LEADER},
Lead Zhang,care_lead,G1,,en,,1380002,,,{CARE_LEAD},
王秀英,resident,G1,B3,zh,,1380011,B3-402,,{WANG},
Chen,resident,G1,B3,en,,1380012,B3-201,,{CHEN},
赵大爷,resident,G1,B5,zh,,1380013,B5-101,,{ZHAO},
孙阿姨,resident,G1,B5,zh,,1380014,B5-301,,{SUN},
"""

# The same people before anyone has joined on Telegram: they enroll by invitation.
NOT_ENROLLED_CSV = """name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,en,,1380001,,,,
王秀英,resident,G1,B3,zh,,1380011,B3-402,,,
"""


def settings_for(server: TelegramTestServer, db: Path, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=db,
        web_host="127.0.0.1",
        web_port=0,
        local_chat=False,
        demo_seed=False,
        telegram_token=server.token,  # type: ignore[arg-type]
        telegram_api_base=server.base_url,
        matrix_homeserver="",
        **extra,
    )


class Line:
    """One gateway on Telegram: the store, the engine with its Telegram adapter, the
    clock, and the test server playing Telegram and its users."""

    def __init__(
        self,
        server: TelegramTestServer,
        store: Store,
        clock: FakeClock,
        config: WorkflowConfig,
        adapter: Adapter,
    ) -> None:
        self.server, self.store, self.clock, self.config = server, store, clock, config
        self.engine = Engine(store, clock, config, {"telegram": adapter})
        self.texts = self.engine.texts
        # Telegram's limits are kept on real time, and a test taps the same chat many
        # times within a second (a press, its toast, the edit). The limiter keeps the
        # very same rules here on a clock that runs 50 times faster, so a tap does not
        # cost a real second; benchmarks/telegram_round.py measures the real pacing.
        for worker in self.engine.workers.values():
            limits = worker.adapter.limits
            worker.limiter = Limiter(
                limits.overall,
                limits.per_chat,
                limits.per_group,
                worker.adapter.is_group,
                lambda: time.monotonic() * LIMITER_SPEED,
            )

    async def start(self) -> None:
        await self.engine.prepare()
        await self.engine.start_receiving()

    async def stop(self) -> None:
        await self.engine.stop()

    def text(self, language: str, key: str, **fields: object) -> str:
        return self.texts.render(language, key, **fields)

    async def settle(self) -> None:
        """Wait (bounded) until long polling has stored every update the users sent,
        then do everything that is due."""
        deadline = time.monotonic() + WITHIN
        while self.server.pending_updates:
            if time.monotonic() > deadline:
                raise TimeoutError(f"updates not received: {self.server.pending_updates}")
            await asyncio.sleep(0.005)
        await self.engine.run_until_idle()

    async def advance(self, delta: timedelta) -> None:
        """Move the clock in one-minute steps, doing everything due at each step."""
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + MIN))
            await self.settle()

    async def person(self, name: str) -> Person:
        async with self.store.read() as tx:
            person = await tx.person_by_name(name)
        assert person is not None, name
        return person

    async def open_alert(self, name: str) -> Alert | None:
        person = await self.person(name)
        async with self.store.read() as tx:
            return await tx.unresolved_alert_of(person.id)

    async def alert(self, alert_id: int) -> Alert:
        async with self.store.read() as tx:
            alert = await tx.alert(alert_id)
        assert alert is not None
        return alert

    async def bound_to(self, user_id: int) -> str | None:
        """The name of the person a Telegram user is enrolled as, if any."""
        async with self.store.read() as tx:
            identity = await tx.identity("telegram", str(user_id))
            person = None if identity is None else await tx.person(identity.person_id)
        return None if person is None else person.name

    async def count(self, sql: str, *params: object) -> int:
        async with self.store.read() as tx:
            rows = await tx._all(sql, params)
        return int(rows[0][0])

    def press(self, user_id: int, message: SentMessage, label: str) -> str:
        """The user taps the button `label` on `message`; returns the callback query id."""
        data = str(message.button(label)["callback_data"])
        return self.server.press(message.chat_id, message.message_id, data, user_id=user_id)

    def about(self, chat_id: int, resident: str) -> SentMessage:
        """The newest alert in a chat about `resident`, as it looks now."""
        heads = (f"\n{resident} (", f"\n{resident}（")  # en and zh alert texts
        found = [m for m in self.server.messages(chat_id) if any(h in m.text for h in heads)]
        assert found, f"chat {chat_id} got nothing about {resident}"
        return found[-1]

    def toast(self, query_id: str) -> Call:
        calls = [
            c
            for c in self.server.calls_of("answerCallbackQuery")
            if c.params.get("callback_query_id") == query_id
        ]
        assert len(calls) == 1, f"press {query_id} was answered {len(calls)} times"
        return calls[0]


@pytest.fixture
def config() -> WorkflowConfig:
    return parse_config(builtin_config_text())


@pytest.fixture
async def server() -> AsyncIterator[TelegramTestServer]:
    async with TelegramTestServer() as server:
        yield server


async def open_line(
    server: TelegramTestServer,
    db: Path,
    clock: FakeClock,
    config: WorkflowConfig,
    *,
    people: str | None = None,
    adapter: Adapter | None = None,
) -> Line:
    store = Store(db)
    await store.open()
    if people is not None:
        await import_people(store, config, people, clock.now())
    if adapter is None:
        # Exactly what the composition root builds from these settings.
        adapter = build_adapters(settings_for(server, db), store, config)["telegram"]
    line = Line(server, store, clock, config, adapter)
    await line.start()
    return line


async def close_line(line: Line) -> None:
    await line.stop()
    await line.store.close()


@pytest.fixture
async def line(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> AsyncIterator[Line]:
    opened = await open_line(
        server, tmp_path / "carecheck.db", FakeClock(START), config, people=PEOPLE_CSV
    )
    yield opened
    await close_line(opened)


# --- enrollment --------------------------------------------------------------------


async def test_it_enrolls_a_person_by_deep_link_once(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> None:
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, people=NOT_ENROLLED_CSV)
    try:
        code = await create_invitation(line.store, clock, config, "王秀英")
        username = await bot_username(server.token, server.base_url)
        assert deep_link(username, code) == f"https://t.me/{server.username}?start={code}"

        server.send_start(WANG, code)  # what tapping the link's Start button sends
        await line.settle()
        assert await line.bound_to(WANG) == "王秀英"
        welcome = line.text("zh", "welcome_resident", name="王秀英", when="09:00")
        notice = line.text("zh", "privacy_notice", days=90)
        # What is kept, who sees it and how to stop, said at once; /start is the consent.
        assert server.last_message(WANG).text == welcome + "\n\n" + notice
        wang = await line.person("王秀英")
        async with line.store.read() as tx:
            (consent,) = await tx.consents_of(wang.id)
            assert consent.decision == "given" and consent.version.startswith("notice-")

        invalid = line.text("zh", "invite_invalid") + "\n" + line.text("en", "invite_invalid")
        server.send_start(STRANGER, code)  # the same card, scanned by somebody else
        server.send_start(STRANGER + 1, "ZZZZ2345")
        await line.settle()
        assert server.last_message(STRANGER).text == invalid
        assert server.last_message(STRANGER + 1).text == invalid
        assert await line.bound_to(STRANGER) is None
        assert await line.bound_to(STRANGER + 1) is None
        assert await line.bound_to(WANG) == "王秀英"

        # A responder is welcomed in their own language, with their role.
        code = await create_invitation(line.store, clock, config, "Leader Li")
        server.send_start(LEADER, code)
        await line.settle()
        role = line.text("en", "role_grid_leader")
        assert server.last_message(LEADER).text == line.text(
            "en", "welcome_responder", name="Leader Li", role=role
        )

        # From now on the resident gets the daily check-in on Telegram.
        await line.advance(30 * MIN)
        assert server.last_message(WANG).text == line.text("zh", "checkin", name="王秀英")
    finally:
        await close_line(line)


async def test_it_links_a_team_group_with_a_code_sent_in_the_group(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> None:
    clock = FakeClock(START)
    line = await open_line(server, tmp_path / "c.db", clock, config, people=PEOPLE_CSV)
    try:
        team = "supplies"
        assert team in config.teams
        code = await create_invitation(line.store, clock, config, "", team=team)
        # With privacy mode on, a bot in a group still gets commands addressed to it.
        server.send_group_text(GROUP, LEADER, f"/link@{server.username} {code}")
        await line.settle()
        assert server.last_message(GROUP).text == line.text("zh", "welcome_team", team=team)
        async with line.store.read() as tx:
            assert await tx.team_chats(team) == [chat_ref("telegram", GROUP)]
            # The group is a team channel, not a person.
            assert await tx.identity("telegram", str(GROUP)) is None
        # The code is spent.
        server.send_group_text(GROUP - 1, LEADER, f"/link {code}")
        await line.settle()
        assert server.last_message(GROUP - 1).text.startswith(line.text("zh", "invite_invalid"))
        async with line.store.read() as tx:
            assert await tx.team_chats(team) == [chat_ref("telegram", GROUP)]

        # A t.me/<bot>?startgroup=<code> link adds the bot and sends /start@bot CODE.
        code = await create_invitation(line.store, clock, config, "", team="medicine")
        server.send_group_text(GROUP - 2, LEADER, f"/start@{server.username} {code}")
        await line.settle()
        async with line.store.read() as tx:
            assert chat_ref("telegram", GROUP - 2) in await tx.team_chats("medicine")
    finally:
        await close_line(line)


# --- a whole day -------------------------------------------------------------------


async def test_a_whole_day_of_answers_silence_help_and_a_blocked_bot(line: Line) -> None:
    server = line.server
    # 孙阿姨 blocked the bot long ago (Telegram keeps an undelivered update one day only).
    server.fail("sendMessage", Fault.BLOCKED, chat_id=SUN, times=100)
    await line.advance(30 * MIN)  # 09:00 in Shanghai: the round
    ok_zh, help_zh = line.text("zh", "btn_ok"), line.text("zh", "btn_help")
    prompt = server.messages(WANG)[0]
    assert prompt.text == line.text("zh", "checkin", name="王秀英")
    assert prompt.labels == [ok_zh, help_zh]
    assert server.messages(CHEN)[0].text == line.text("en", "checkin", name="Chen")

    # 孙阿姨 blocked the bot: Telegram answers 403 to her prompt, and that is an alert.
    blocked = [c for c in server.calls_of("sendMessage") if c.chat_id == SUN]
    assert [c.status for c in blocked] == [403]
    unreachable = await line.open_alert("孙阿姨")
    assert unreachable is not None and unreachable.reason is AlertReason.UNREACHABLE
    notice = line.about(LEADER, "孙阿姨")
    assert notice.text.startswith(f"⚠️ Unreachable #{unreachable.id}\n孙阿姨 (G1 B5)\n")
    assert "Phone: 1380014" in notice.text and "blocked" in notice.text

    # 王秀英 taps "我很好": recorded, the prompt edited, its keyboard gone, the tap answered.
    query = line.press(WANG, prompt, ok_zh)
    await line.settle()
    prompt = server.messages(WANG)[0]
    recorded = line.text("zh", "recorded_ok", time="09:00")
    assert prompt.text == line.text("zh", "checkin", name="王秀英") + "\n" + recorded
    assert prompt.edits == 1 and prompt.buttons == []
    assert "已记录" in str(line.toast(query).params.get("text"))
    assert await line.open_alert("王秀英") is None

    # 赵大爷 taps "需要帮助": an urgent alert goes out at once.
    await line.advance(5 * MIN)
    line.press(ZHAO, server.messages(ZHAO)[0], help_zh)
    await line.settle()
    help_alert = await line.open_alert("赵大爷")
    assert help_alert is not None and help_alert.urgent
    assert line.about(LEADER, "赵大爷").text == "\n".join(
        (
            line.text(
                "en",
                "alert_help",
                alert=help_alert.id,
                name="赵大爷",
                place="G1 B5",
                time="09:05",
                said=help_zh,
            ),
            line.text(
                "en",
                "alert_details",
                address="B5-101",
                phone="1380013",
                family="-",
                last_heard=line.text(
                    "en",
                    "last_heard_at",
                    time="11-23 09:05",
                    ago=line.text("en", "minutes_ago", n=0),
                ),
                missed=0,
            ),
            line.text("en", "alert_footer_open"),
        )
    )
    told = [m.text for m in server.messages(ZHAO)]
    assert told[-2:] == [
        line.text("zh", "help_contacting", who="Leader Li"),
        line.text("zh", "help_delivered", who="Leader Li"),
    ]

    # Chen stays silent: a reminder at 09:30, the grid leader at 10:00.
    await line.advance(25 * MIN)
    assert server.last_message(CHEN).text == line.text("en", "reminder", name="Chen")
    assert not [m for m in server.messages(LEADER) if "\nChen (" in m.text]
    await line.advance(30 * MIN)
    missed = await line.open_alert("Chen")
    assert missed is not None and missed.reason is AlertReason.MISSED
    alert_msg = line.about(LEADER, "Chen")
    assert alert_msg.text == "\n".join(
        (
            line.text(
                "en",
                "alert_missed",
                alert=missed.id,
                name="Chen",
                place="G1 B3",
                due="11-23 09:00",
                deadline="10:00",
            ),
            line.text(
                "en",
                "alert_details",
                address="B3-201",
                phone="1380012",
                family="-",
                last_heard=line.text("en", "never"),
                missed=1,
            ),
            line.text("en", "alert_footer_open"),
        )
    )
    ack, close = line.text("en", "btn_ack"), line.text("en", "btn_resolve")
    assert alert_msg.labels == [ack, close]

    # Nobody acknowledged in 20 minutes: the care lead is told too.
    await line.advance(20 * MIN)
    assert line.about(CARE_LEAD, "Chen").labels == [ack, close]

    # The grid leader acknowledges: every copy shows who has it.
    query = line.press(LEADER, line.about(LEADER, "Chen"), ack)
    await line.settle()
    assert line.toast(query).params.get("text") == line.text("en", "acked", alert=missed.id)
    acked = line.text("en", "alert_footer_acked", who="Leader Li", time="10:20")
    for chat in (LEADER, CARE_LEAD):
        copy = line.about(chat, "Chen")
        assert copy.text.endswith("\n" + acked) and copy.edits == 1
        assert copy.labels == [close]
    assert (await line.alert(missed.id)).state is AlertState.ACKNOWLEDGED

    # Close → the outcome menu → "visited in person": resolved, every copy says so.
    await line.advance(15 * MIN)
    line.press(LEADER, line.about(LEADER, "Chen"), close)
    await line.settle()
    menu = server.last_message(LEADER)
    assert menu.text == line.text("en", "choose_outcome", alert=missed.id, name="Chen")
    visited = f"🚪 {line.text('en', 'outcome_visited')}"
    assert visited in menu.labels and len(menu.labels) == 4
    query = line.press(LEADER, menu, visited)
    await line.settle()
    closed = await line.alert(missed.id)
    assert closed.state is AlertState.RESOLVED and closed.outcome == "visited"
    resolved = line.text(
        "en",
        "alert_footer_resolved",
        who="Leader Li",
        time="10:35",
        outcome=line.text("en", "outcome_visited"),
    )
    for chat in (LEADER, CARE_LEAD):
        copy = line.about(chat, "Chen")
        assert copy.text.endswith("\n" + resolved) and copy.buttons == []
    assert line.toast(query).params.get("text") == line.text(
        "en", "resolved", alert=missed.id, outcome=line.text("en", "outcome_visited")
    )

    # 王秀英 answered, so she heard nothing more all day; nobody was told about her.
    assert len(server.messages(WANG)) == 1
    assert not [m for m in server.messages(LEADER) if "王秀英" in m.text]
    # Every tap was answered exactly once (Telegram shows a spinner until then).
    presses = [u for u in server.calls_of("answerCallbackQuery")]
    assert len({c.params["callback_query_id"] for c in presses}) == len(presses) == 5


# --- buttons that must not work ----------------------------------------------------


async def test_forged_and_replayed_callbacks_are_answered_and_change_nothing(line: Line) -> None:
    server = line.server
    await line.advance(30 * MIN)
    prompt = server.messages(WANG)[0]
    ok_zh, help_zh = line.text("zh", "btn_ok"), line.text("zh", "btn_help")
    ok_data = str(prompt.button(ok_zh)["callback_data"])
    help_data = str(prompt.button(help_zh)["callback_data"])

    # Someone crafts callback data: the signature does not match.
    forged = ok_data[:-3] + ("AAA" if not ok_data.endswith("AAA") else "BBB")
    query = server.press(WANG, prompt.message_id, forged)
    await line.settle()
    assert line.toast(query).params.get("text") == line.text("zh", "not_allowed")
    wang = await line.person("王秀英")
    async with line.store.read() as tx:
        assert await tx.audit_kinds("button.forged") == 1
        still_open = await tx.open_checkin_of(wang.id)
    assert still_open is not None
    assert server.messages(WANG)[0].edits == 0

    # The real answer, then the old prompt's buttons replayed (another device, a retry).
    line.press(WANG, prompt, ok_zh)
    await line.settle()
    for data in (ok_data, help_data):
        query = server.press(WANG, prompt.message_id, data)
        await line.settle()
        assert line.toast(query).params.get("text") == line.text("zh", "stale_button")
    assert await line.open_alert("王秀英") is None
    assert server.messages(WANG)[0].edits == 1
    assert not [m for m in server.messages(LEADER) if "王秀英" in m.text]

    # A button issued to 王秀英, pressed by Chen, is refused.
    query = server.press(WANG, prompt.message_id, help_data, user_id=CHEN)
    await line.settle()
    assert line.toast(query).params.get("text") == line.text("en", "not_allowed")
    assert await line.open_alert("王秀英") is None
    assert await line.open_alert("Chen") is None


async def test_a_press_on_a_keyboard_we_did_not_make_is_still_answered(line: Line) -> None:
    await line.advance(30 * MIN)
    prompt = line.server.messages(CHEN)[0]
    query = line.server.press(CHEN, prompt.message_id, "from-some-older-keyboard")
    await line.settle()
    line.toast(query)


# --- restart -----------------------------------------------------------------------


async def test_a_restart_mid_escalation_handles_no_update_twice_and_fires_overdue_once(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> None:
    db = tmp_path / "c.db"
    clock = FakeClock(START)
    line = await open_line(server, db, clock, config, people=PEOPLE_CSV)
    try:
        await line.advance(90 * MIN)  # Chen (and the others) silent: leader told at 10:00
        missed = await line.open_alert("Chen")
        assert missed is not None
        assert line.about(LEADER, "Chen")
        assert not [m for m in server.messages(CARE_LEAD) if "\nChen (" in m.text]

        # The leader asks for the open alerts; the update is stored and handled.
        asked = server.send_text(LEADER, "/alerts", first_name="Li", last_name="")
        await line.settle()
        header = line.text("en", "alerts_header")
        assert server.last_message(LEADER).text.startswith(header)
    finally:
        await line.stop()

    # A crash just after the inbox row was written and before Telegram heard the new
    # offset: Telegram still has the update and will deliver it again.
    async with line.store.transaction() as tx:
        assert await tx.kv_get(OFFSET_KEY) == str(asked["update_id"] + 1)
        await tx.kv_set(OFFSET_KEY, str(asked["update_id"]))
    await line.store.close()
    server.confirmed_offset = asked["update_id"]
    server.queue_update(asked)

    # Down for 45 minutes: the care lead's step (10:20) is overdue.
    clock.advance(45 * MIN)
    line = await open_line(server, db, clock, config)
    try:
        await line.settle()
        await line.advance(2 * MIN)
        assert (
            await line.count("SELECT count(*) FROM inbox WHERE event_id = ?", asked_id(asked)) == 1
        )
        answers = [m for m in server.messages(LEADER) if m.text.startswith(header)]
        assert len(answers) == 1
        # Each overdue step fired once, marked late; the leader was not told again.
        residents = ("王秀英", "Chen", "赵大爷", "孙阿姨")
        for name in residents:
            assert len([m for m in server.messages(CARE_LEAD) if f"\n{name} (" in m.text]) == 1
            assert len([m for m in server.messages(LEADER) if f"\n{name} (" in m.text]) == 1
        async with line.store.read() as tx:
            late = await tx.audit_of("timer:escalate")
        assert [kind for kind, _ in late] == ["timer.late"] * len(residents)
        # The walk goes on from there: still open, waiting for its next step.
        assert (await line.alert(missed.id)).state is AlertState.OPEN
    finally:
        await close_line(line)


def asked_id(update: dict[str, Any]) -> str:
    return f"tg:{update['update_id']}"


# --- faults ------------------------------------------------------------------------


async def test_a_burst_of_faults_during_an_escalation_loses_nothing(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> None:
    clock = FakeClock(START)
    # Built by hand for a short request timeout: a hung request gives up after 1 s.
    adapter = TelegramAdapter(
        server.token,
        server.base_url,
        polling_timeout=1,
        request_timeout=1.0,
        poll_backoff=(0.05, 0.2),
    )
    line = await open_line(
        server, tmp_path / "c.db", clock, config, people=PEOPLE_CSV, adapter=adapter
    )
    try:
        await line.advance(89 * MIN)  # 09:59, everyone but 王秀英 silent
        line.press(WANG, server.messages(WANG)[0], line.text("zh", "btn_ok"))
        await line.settle()
        server.fail("sendMessage", Fault.RETRY_AFTER, retry_after=1)
        server.fail("sendMessage", Fault.SERVER_ERROR, times=2)
        server.fail("sendMessage", Fault.HANG)
        server.fail("getUpdates", Fault.SERVER_ERROR, times=3)
        await line.advance(1 * MIN)  # 10:00: three alerts meet the faults
        for _ in range(30):  # retries wait on the care clock: move it until all is sent
            async with line.store.read() as tx:
                if not await tx.outbox_depth():
                    break
            clock.advance(timedelta(seconds=20))
            await line.settle()

        # The leader acknowledges Chen's alert once polling has recovered.
        missed = await line.open_alert("Chen")
        assert missed is not None
        line.press(LEADER, line.about(LEADER, "Chen"), line.text("en", "btn_ack"))
        await line.settle()
        assert (await line.alert(missed.id)).state is AlertState.ACKNOWLEDGED
        assert [c.status for c in server.calls_of("getUpdates")].count(500) == 3

        # Every alert reached the leader exactly once, each after its failed attempts.
        attempts: list[tuple[bool, str]] = []
        for name in ("Chen", "赵大爷", "孙阿姨"):
            assert len([m for m in server.messages(LEADER) if f"\n{name} (" in m.text]) == 1
            alert = await line.open_alert(name)
            assert alert is not None
            async with line.store.read() as tx:
                (row,) = await tx.outbox_for("alert", alert.id)
                tried = await tx.delivery_attempts(row.id)
            assert tried[-1] == (True, ""), tried
            attempts += tried[:-1]
        errors = sorted(error.lower() for ok, error in attempts)
        assert len(errors) == 4, errors
        assert sum("flood control" in e for e in errors) == 1, errors
        assert sum("internal server error" in e for e in errors) == 2, errors
        assert sum("timeout" in e for e in errors) == 1, errors
        assert await line.count("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0
    finally:
        await close_line(line)


PRIORITY_CONFIG = """
timezone: Asia/Shanghai
plans:
  early: {schedule: "0 8 * * *", reply_window: 60m, escalation: standard}
  daily: {schedule: "0 9 * * *", reply_window: 60m, escalation: standard}
escalation_policies:
  standard:
    steps: [{notify: grid_leader, wait: 20m}, {notify: care_lead}]
"""


async def test_an_alert_goes_out_before_a_round_of_prompts_pending_at_the_same_time(
    server: TelegramTestServer, tmp_path: Path
) -> None:
    config = parse_config(PRIORITY_CONFIG)
    rows = [
        "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix",
        f"Leader Li,grid_leader,G1,B3,en,,1380001,,,{LEADER},",
        f"Early Bird,resident,G1,B3,en,,1380020,,early,{CHEN},",
        *(f"R{i},resident,G1,B3,en,,13900{i:02d},,daily,{WANG + 100 + i}," for i in range(8)),
    ]
    clock = FakeClock(datetime(2026, 11, 22, 23, 50, tzinfo=UTC))  # 07:50 in Shanghai
    line = await open_line(server, tmp_path / "c.db", clock, config, people="\n".join(rows) + "\n")
    try:
        await line.advance(69 * MIN)  # 08:59: Early Bird's prompt is unanswered
        mark = len(server.calls)
        clock.advance(MIN)  # 09:00: her window closes as the daily round opens
        await line.engine.fire_due_timers()
        async with line.store.read() as tx:
            depth = await tx.outbox_depth()
        assert depth[("telegram", Priority.ALERT)] == 1
        assert depth[("telegram", Priority.ROUTINE)] == 8
        await line.engine.flush_outbox()
        sends = [c for c in server.calls[mark:] if c.method.lower() == "sendmessage"]
        chats = [c.chat_id for c in sends]
        assert chats[0] == LEADER, chats
        assert len(sends) == 9 and all(c.status == 200 for c in sends)
    finally:
        await close_line(line)


# --- webhook -----------------------------------------------------------------------


async def test_a_webhook_push_needs_the_right_secret(
    server: TelegramTestServer, tmp_path: Path, config: WorkflowConfig
) -> None:
    secret = "s3cret_for-the-hook"
    path = "/telegram/webhook"
    settings = settings_for(
        server,
        tmp_path / "c.db",
        # Telegram calls the public URL; a reverse proxy maps it to the gateway's port.
        telegram_webhook_url=f"https://carecheck.example.org{path}",
        telegram_webhook_secret=secret,
    )
    clock = FakeClock(START)
    gateway = await Gateway.create(settings, clock=clock, config=config)
    # A responder only: with no resident there is no round timer for the timer loop,
    # which runs here on its own and would otherwise spin on the frozen clock.
    leader_only = "\n".join(NOT_ENROLLED_CSV.splitlines()[:2]) + "\n"
    await import_people(gateway.store, config, leader_only, START)
    try:
        await gateway.start()
        assert server.webhook_url == settings.telegram_webhook_url
        assert server.webhook_secret == secret
        code = await create_invitation(gateway.store, clock, config, "Leader Li")
        update = server.send_start(LEADER, code)
        target = gateway.url + path
        assert await server.push_webhook(update, url=target, secret="wrong-secret") in (401, 403)
        assert await server.push_webhook(update, url=target, secret="") in (401, 403)
        async with gateway.store.read() as tx:
            stored = await tx._all("SELECT count(*) FROM inbox")
        assert stored[0][0] == 0

        assert await server.push_webhook(update, url=target) == 200
        welcome = await server.wait_for_call("sendMessage", within=WITHIN)
        assert welcome.chat_id == LEADER
        role = gateway.engine.texts.render("en", "role_grid_leader")
        assert welcome.params["text"] == gateway.engine.texts.render(
            "en", "welcome_responder", name="Leader Li", role=role
        )
        async with gateway.store.read() as tx:
            identity = await tx.identity("telegram", str(LEADER))
        assert identity is not None
        assert not server.calls_of("getUpdates")
    finally:
        await gateway.stop()


# --- need to know ------------------------------------------------------------------

VOLUNTEER = 9100004


async def test_a_need_claimed_in_the_team_group_shows_the_address_only_privately_until_done(
    server: TelegramTestServer, tmp_path: Path
) -> None:
    config = parse_config(
        builtin_config_text().replace('"telegram:-1001234"', f'"telegram:{GROUP}"')
    )
    people = PEOPLE_CSV + f"Volunteer Ma,team_member,G1,,en,,1380004,,,{VOLUNTEER},\n"
    line = await open_line(server, tmp_path / "c.db", FakeClock(START), config, people=people)
    try:
        server.send_text(WANG, "/need 买菜 米和油没有了")
        await line.settle()
        posted = server.last_message(GROUP)
        # The group sees the need, a first name and the building: nothing more.
        assert "王*英（B3）" in posted.text and "米和油没有了" in posted.text
        assert "王秀英" not in posted.text and "1380011" not in posted.text
        assert "B3-402" not in posted.text
        line.press(VOLUNTEER, posted, posted.labels[0])  # 🙋 我来办, in the group
        await line.settle()
        assert "Volunteer Ma" in server.message(GROUP, posted.message_id).text
        revealed = server.last_message(VOLUNTEER)
        assert "B3-402" in revealed.text and "1380011" in revealed.text
        async with line.store.read() as tx:
            wang = await tx.person_by_name("王秀英")
            assert wang is not None
            (entry,) = [
                e for e in await tx.audit_entries(f"person:{wang.id}") if e.kind == "reveal"
            ]
            assert "claimed need #1" in entry.detail
        server.send_text(VOLUNTEER, "/done 1")
        await line.settle()
        # The very message that carried them is edited: the details are gone.
        now = server.message(VOLUNTEER, revealed.message_id)
        assert now.edits == 1 and "B3-402" not in now.text and "1380011" not in now.text
        assert "Need #1" in now.text and "王*英" in now.text
    finally:
        await close_line(line)
