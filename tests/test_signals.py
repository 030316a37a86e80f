"""Sign-of-life pings: the ping URL on the real web server, the plan's deadline on the
injected clock, the question in chat and the alert after it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapters.ping.adapter import PingAdapter
from core.config import WorkflowConfig
from core.events import Sender, SignOfLife
from core.ids import PersonId, chat_ref
from core.records import AlertReason, AlertState
from gateway.clock import FakeClock
from gateway.config import parse_config
from gateway.database import create_store
from gateway.engine import Engine
from gateway.people import import_people
from gateway.pings import PingUrlError, make_ping_url
from gateway.web.metrics import Metrics
from gateway.web.server import WebDeps, build_web_app
from store.sqlite import Store
from tests.conftest import START
from tests.fakes import RecordingAdapter
from workflows.actions import ActionKind

HOUR = timedelta(hours=1)

CONFIG = """\
timezone: Asia/Shanghai
plans:
  sensor:
    schedule: "0 9 1 1 *"
    reply_window: 60m
    escalation: standard
    expect: {ping_every: 12h, min_water_litres_per_day: 8}
escalation_policies:
  standard:
    steps:
      - {notify: grid_leader, wait: 20m}
      - {notify: care_lead}
"""

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix
Leader Li,grid_leader,G1,B3,en,,1380001,,,,
Lead Zhang,care_lead,G1,,en,,1380002,,,,
Wang,resident,G1,B3,zh,,1380011,B3-402,sensor,,
Zhou,resident,G1,B5,zh,,1380013,B5-101,sensor,,
Caller Liu,caller,G1,,en,,1380031,,,,
"""


class Ticks:
    """The limiter's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Home:
    store: Store
    clock: FakeClock
    config: WorkflowConfig
    chat: RecordingAdapter
    ticks: Ticks
    engine: Engine
    url: str

    async def person_id(self, name: str) -> int:
        async with self.store.read() as tx:
            person = await tx.person_by_name(name)
        assert person is not None
        return person.id

    async def ping_url(self, name: str, *, rotate: bool = False) -> str:
        token = await make_ping_url(
            self.store, self.config, name, rotate=rotate, now=self.clock.now()
        )
        self.engine.wake()
        return f"{self.url}/ping/{token}"

    async def advance(self, delta: timedelta, step: timedelta = timedelta(minutes=5)) -> None:
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + step))
            await self.engine.run_until_idle()

    async def sent_to(self, name: str) -> list[str]:
        """What reached this person's chat, but the daily summary (20:00, in the middle
        of these days), which is not what these tests look at."""
        sent = self.chat.to(chat_ref("test", await self.person_id(name)))
        return [d.text for d in sent if not d.text.startswith("📋")]

    async def alert_state(self, name: str) -> AlertState | None:
        person_id = await self.person_id(name)
        async with self.store.read() as tx:
            alert = await tx.unresolved_alert_of(person_id)  # type: ignore[arg-type]
        return None if alert is None else alert.state


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[Home]:
    clock = FakeClock(START)
    config = parse_config(CONFIG)
    store = Store(tmp_path / "signals.db")
    await store.open()
    await import_people(store, config, PEOPLE, clock.now())
    async with store.transaction() as tx:
        for person in await tx.people():
            if person.name != "Zhou":  # Zhou has no chat: only the sensors speak for him
                await tx.bind_identity(
                    person.id, "test", str(person.id), chat_ref("test", person.id), clock.now()
                )
            if person.role == "caller":  # the volunteer caller said yes to phoning residents
                await tx.add_consent(person.id, 0, "given", "test", clock.now())
    chat, ticks = RecordingAdapter(), Ticks()
    engine = Engine(store, clock, config, {"test": chat, "ping": PingAdapter(ticks)})
    await engine.prepare()
    await engine.start_receiving()
    app = build_web_app(WebDeps(engine, None, Metrics()), list(engine.adapters["ping"].routes()))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)  # as the gateway runs it
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield Home(store, clock, config, chat, ticks, engine, f"http://127.0.0.1:{port}")
    await runner.cleanup()
    await engine.stop()
    await store.close()


async def call(method: str, url: str, **kw: object) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kw) as response:  # type: ignore[arg-type]
        return response.status, await response.text(), dict(response.headers)


async def ping(home: Home, url: str, **kw: object) -> int:
    status, _, _ = await call("POST" if "json" in kw else "GET", url, **kw)
    await home.engine.run_until_idle()
    return status


QUESTION = "家里的水表今天没有动静"


async def test_a_ping_before_the_deadline_prevents_the_question_and_the_alert(home: Home) -> None:
    url = await home.ping_url("Wang")
    await home.advance(11 * HOUR)
    assert await ping(home, url) == 200
    await home.advance(11 * HOUR + 55 * timedelta(minutes=1))
    assert not [t for t in await home.sent_to("Wang") if QUESTION in t]
    assert await home.sent_to("Leader Li") == []
    # 12 hours after that ping, silence is noticed.
    await home.advance(10 * timedelta(minutes=1))
    assert [t for t in await home.sent_to("Wang") if QUESTION in t]


async def test_no_ping_asks_the_resident_then_alerts_the_grid_leader(home: Home) -> None:
    await home.ping_url("Wang")
    await home.advance(12 * HOUR)
    (question,) = [d for d in home.chat.sent if QUESTION in d.text]
    assert question.text.startswith("Wang，今天还好吗？")
    assert [b.label for row in question.buttons for b in row] == ["✅ 我很好", "🆘 需要帮助"]
    assert await home.sent_to("Leader Li") == []
    await home.advance(60 * timedelta(minutes=1))
    assert await home.alert_state("Wang") is AlertState.OPEN
    (alert,) = await home.sent_to("Leader Li")
    assert "Wang" in alert and "B3" in alert


async def test_a_tap_on_the_question_calls_everything_off(home: Home) -> None:
    await home.ping_url("Wang")
    await home.advance(12 * HOUR)
    (question,) = [d for d in home.chat.sent if QUESTION in d.text]
    ok = question.buttons[0][0]
    await home.chat.press(str(await home.person_id("Wang")), ok.token)
    await home.advance(2 * HOUR)
    assert await home.alert_state("Wang") is None
    assert await home.sent_to("Leader Li") == []


async def test_a_late_ping_calls_off_the_alert_that_silence_opened(home: Home) -> None:
    url = await home.ping_url("Wang")
    await home.advance(13 * HOUR + 5 * timedelta(minutes=1))
    assert await home.alert_state("Wang") is AlertState.OPEN
    assert await ping(home, url) == 200
    assert await home.alert_state("Wang") is None


async def test_a_resident_without_chat_is_phoned_by_a_caller_then_escalated(home: Home) -> None:
    await home.ping_url("Zhou")
    await home.advance(11 * HOUR + 55 * timedelta(minutes=1))
    assert await home.sent_to("Caller Liu") == []
    await home.advance(5 * timedelta(minutes=1))
    (task,) = await home.sent_to("Caller Liu")
    assert "Zhou" in task and "1380013" in task
    assert await home.alert_state("Zhou") is None
    # Nobody takes the task within the reply window: a missed check-in and its alert.
    await home.advance(HOUR)
    assert await home.alert_state("Zhou") is AlertState.OPEN
    (alert,) = await home.sent_to("Leader Li")
    assert "Zhou" in alert and "B5" in alert
    zhou = await home.person_id("Zhou")
    async with home.store.read() as tx:
        alert_row = await tx.unresolved_alert_of(zhou)  # type: ignore[arg-type]
    assert alert_row is not None and alert_row.reason.value == "missed"


async def test_nobody_is_asked_while_recorded_away(home: Home) -> None:
    await home.ping_url("Wang")
    wang = await home.person_id("Wang")
    async with home.store.transaction() as tx:
        await tx.add_absence(wang, home.clock.now() + 24 * HOUR, "探亲", None, home.clock.now())  # type: ignore[arg-type]
    await home.advance(13 * HOUR)
    assert not [t for t in await home.sent_to("Wang") if QUESTION in t]
    assert await home.alert_state("Wang") is None


async def test_a_reading_below_the_plans_minimum_is_not_a_sign_of_life(home: Home) -> None:
    url = await home.ping_url("Wang")
    await home.advance(6 * HOUR)
    assert await ping(home, url, json={"water_litres": 9.5}) == 200  # the deadline moves
    await home.advance(6 * HOUR)
    assert await ping(home, url, json={"water_litres": 3.2}) == 200  # it does not
    await home.advance(5 * HOUR + 55 * timedelta(minutes=1))
    assert not [t for t in await home.sent_to("Wang") if QUESTION in t]
    await home.advance(10 * timedelta(minutes=1))
    assert [t for t in await home.sent_to("Wang") if QUESTION in t]
    status, body, _ = await call("POST", url, json={"water_litres": "lots"})
    assert status == 400 and "water_litres" in body


async def test_head_post_and_a_reading_in_the_query_are_pings_too(home: Home) -> None:
    url = await home.ping_url("Wang")
    status, _, _ = await call("HEAD", url)
    assert status == 200
    status, body, _ = await call("POST", url)
    assert (status, body) == (200, "ok\n")
    assert await ping(home, url + "?water_litres=12") == 200
    async with home.store.read() as tx:
        stored = await tx.audit_kinds("signal.low_water")
    assert stored == 0


async def test_a_ping_is_in_the_inbox_before_it_is_answered(home: Home) -> None:
    url = await home.ping_url("Wang")
    status, _, _ = await call("GET", url, headers={"Idempotency-Key": "reading-7"})
    assert status == 200
    status, _, _ = await call("GET", url, headers={"Idempotency-Key": "reading-7"})
    assert status == 200
    async with home.store.read() as tx:
        pending = await tx.pending_inbound(10)
    # Not handled yet, but stored: a crash now loses nothing. The retry counts once.
    assert [p["type"] for _, p in pending] == ["SignOfLife"]
    assert pending[0][1]["sender"]["address"] == str(await home.person_id("Wang"))


async def test_an_unknown_token_gets_the_same_404_as_an_unknown_page(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = await home.ping_url("Wang")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32  # 192 random bits
    wrong = f"{home.url}/ping/{'A' * 32}"
    unknown_page = await call("GET", f"{home.url}/ping/not a token")
    unknown_token = await call("GET", wrong)
    assert unknown_token[0] == unknown_page[0] == 404
    assert unknown_token[1] == unknown_page[1]
    assert await ping(home, url) == 200
    assert token not in caplog.text and "A" * 32 not in caplog.text


async def test_pings_are_limited_per_token_and_per_address(home: Home) -> None:
    url = await home.ping_url("Wang")
    for _ in range(12):
        assert (await call("GET", url))[0] == 200
    status, _, headers = await call("GET", url)
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 60
    home.ticks.now += 61
    assert (await call("GET", url))[0] == 200
    # Guessing tokens from one address soon stops reaching the database at all.
    for _ in range(120 - 1):
        await call("GET", f"{home.url}/ping/{'B' * 32}")
    assert (await call("GET", url))[0] == 429


async def test_a_rotated_url_replaces_the_old_one(home: Home) -> None:
    old = await home.ping_url("Wang")
    with pytest.raises(PingUrlError, match="--rotate"):
        await home.ping_url("Wang")
    new = await home.ping_url("Wang", rotate=True)
    assert (await call("GET", old))[0] == 404
    assert (await call("GET", new))[0] == 200
    with pytest.raises(PingUrlError, match="residents"):
        await home.ping_url("Leader Li")


def test_a_plan_expecting_pings_is_checked_with_its_key_path() -> None:
    from gateway.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace("ping_every: 12h", "ping_every: 1m"))
    assert "plans.sensor.expect.ping_every: must be between 10m and 30d" in str(
        caught.value.problems[0]
    )


async def test_a_grids_channel_hears_of_its_alerts_as_they_open_and_close(
    tmp_path: Path,
) -> None:
    from adapters.fake import FakeAdapter

    clock = FakeClock(START)
    config = parse_config(CONFIG + 'grids:\n  G1: {channel: "wecom:robot-key-g1"}\n')
    store = Store(tmp_path / "grid.db")
    await store.open()
    await import_people(store, config, PEOPLE, clock.now())
    async with store.transaction() as tx:
        wang = await tx.person_by_name("Wang")
        assert wang is not None
        await tx.bind_identity(wang.id, "test", str(wang.id), chat_ref("test", wang.id), START)
    robot, chat = FakeAdapter(platform="wecom"), RecordingAdapter()
    engine = Engine(store, clock, config, {"test": chat, "wecom": robot})
    await engine.prepare()
    await engine.start_receiving()
    try:
        await make_ping_url(store, config, "Zhou", rotate=False, now=clock.now())
        clock.advance(12 * HOUR + timedelta(minutes=1))
        await engine.run_until_idle()
        # (the day's summary goes to the channel too, at 20:00: another test)
        (opened,) = [m for m in robot.sent if m.meta.get("event") == "alert.opened"]
        assert opened.chat == "wecom:robot-key-g1" and opened.buttons == ()
        assert "Zhou" in opened.text and opened.meta["event"] == "alert.opened"
        # A group hears first name, building and what happened: no address, no phone.
        assert "B5" in opened.text and "B5-101" not in opened.text
        assert "1380013" not in opened.text
        assert opened.meta["alert"]["grid"] == "G1" and opened.purpose == "alert.opened"
        # A late ping calls the alert off: the channel hears that too.
        zhou = str(await person_id_of(store, "Zhou"))
        sender = Sender("ping", zhou, chat_ref("ping", zhou))
        await engine.receive(SignOfLife("late-1", sender, chat_ref("ping", zhou)))
        await engine.run_until_idle()
        closed = robot.sent[-1]
        assert closed.meta["event"] == "alert.resolved" and "无需再处理" in closed.text
        assert closed.meta["alert"]["state"] == "resolved"
        # A need of the grid is heard there too.
        await chat.say(str(await person_id_of(store, "Wang")), "/need medicine 降压药吃完了")
        await engine.run_until_idle()
        need = robot.sent[-1]
        assert need.meta["event"] == "need.opened" and "降压药吃完了" in need.text
        assert "1380011" not in need.text and "B3-402" not in need.text
        assert need.meta["need"]["kind"] == "medicine" and need.buttons == ()
    finally:
        await engine.stop()
        await store.close()


async def test_a_grids_channel_gets_the_days_numbers_with_the_summary_and_no_names(
    tmp_path: Path,
) -> None:
    from adapters.fake import FakeAdapter

    clock = FakeClock(START)  # 08:30 in Shanghai; the summary is at 20:00
    config = parse_config(CONFIG + 'grids:\n  G1: {channel: "wecom:robot-key-g1"}\n')
    store = Store(tmp_path / "grid.db")
    await store.open()
    await import_people(store, config, PEOPLE, clock.now())
    async with store.transaction() as tx:
        for person in await tx.people():
            await tx.bind_identity(
                person.id, "test", str(person.id), chat_ref("test", person.id), START
            )
    robot, chat = FakeAdapter(platform="wecom"), RecordingAdapter()
    engine = Engine(store, clock, config, {"test": chat, "wecom": robot})
    await engine.prepare()
    await engine.start_receiving()
    try:
        await make_ping_url(store, config, "Zhou", rotate=False, now=clock.now())
        clock.advance(12 * HOUR)  # 20:30: Zhou's sensor was silent, and the summary is due
        await engine.run_until_idle()
        (posted,) = [m for m in robot.sent if m.meta.get("event") == "summary.daily"]
        assert posted.chat == "wecom:robot-key-g1" and posted.meta["grid"] == "G1"
        assert "今日小结" in posted.text and "【G1】" in posted.text
        assert "未关闭的提醒" in posted.text, posted.text
        # The leaders' own summaries name people; the group's has numbers only.
        for private in ("Zhou", "Wang", "B5", "1380013"):
            assert private not in posted.text
        leader = chat_ref("test", await person_id_of(store, "Leader Li"))
        assert any("今日" in d.text or "summary" in d.text for d in chat.to(leader))
    finally:
        await engine.stop()
        await store.close()


async def test_audit_rows_written_together_are_announced_as_written_one_by_one(
    tmp_path: Path,
) -> None:
    """A page of check-in answers writes its audit rows together (`audit_many`): no
    check-in is announced, and an alert's row written that way still would be."""
    from adapters.fake import FakeAdapter

    clock = FakeClock(START)
    config = parse_config(CONFIG + 'grids:\n  G1: {channel: "wecom:robot-key-g1"}\n')
    store = Store(tmp_path / "grid.db")
    await store.open()
    await import_people(store, config, PEOPLE, clock.now())
    engine = Engine(store, clock, config, {"wecom": FakeAdapter(platform="wecom")})
    await engine.prepare()
    zhou = PersonId(await person_id_of(store, "Zhou"))
    try:
        async with engine.work() as work:
            await work.tx.audit_many([(work.now, "checkin.ok", "checkin:1", zhou, "text")])
        async with store.read() as tx:
            assert await tx.outbox_depth() == {}
        async with engine.work() as work:
            alert = await work.tx.create_alert(
                zhou,
                None,
                AlertReason.MISSED,
                False,
                next(iter(config.escalation_policies)),
                work.now,
                "",
            )
            await work.tx.audit_many(
                [
                    (work.now, "checkin.missed", "checkin:1", None, ""),
                    (work.now, "alert.opened.missed", f"alert:{alert}", zhou, ""),
                ]
            )
        async with store.read() as tx:
            (announced,) = await tx.outbox_for("alert.opened", alert)
            assert announced.chat == "wecom:robot-key-g1"
            assert await tx.audit_of(f"alert:{alert}") == [("alert.opened.missed", "")]
    finally:
        await store.close()


async def person_id_of(store: Store, name: str) -> int:
    async with store.read() as tx:
        person = await tx.person_by_name(name)
    assert person is not None
    return person.id


@pytest.mark.postgres
async def test_every_instance_on_a_shared_database_takes_pings(postgres_url: str) -> None:
    """Pings need no platform lock: whichever instance a request reaches stores it
    (a chat platform is held by one instance, the others stand by for it)."""
    clock = FakeClock(START)
    config = parse_config(CONFIG)
    stores = [create_store(postgres_url), create_store(postgres_url)]
    for store in stores:
        await store.open()
    await import_people(stores[0], config, PEOPLE, clock.now())
    url = await make_ping_url(stores[0], config, "Wang", rotate=False, now=clock.now())
    engines, runners = [], []
    try:
        for store in stores:
            engine = Engine(
                store, clock, config, {"test": RecordingAdapter(), "ping": PingAdapter()}
            )
            await engine.prepare()
            await engine.start()
            engines.append(engine)
            app = build_web_app(
                WebDeps(engine, None, Metrics()), list(engine.adapters["ping"].routes())
            )
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
        for _ in range(100):  # the chat platform's lock is taken in the background
            if sum("test" in engine.standby for engine in engines) == 1:
                break
            await asyncio.sleep(0.1)
        assert sum("test" in engine.standby for engine in engines) == 1
        # Each answers 200 only once the ping is in the inbox (see the test above).
        for runner in runners:
            port = runner.addresses[0][1]
            status, _, _ = await call("GET", f"http://127.0.0.1:{port}/ping/{url}")
            assert status == 200
    finally:
        for runner in runners:
            await runner.cleanup()
        for engine in engines:
            await engine.stop()
        for store in stores:
            await store.close()


@pytest.mark.postgres
async def test_instances_started_together_on_a_new_database_accept_each_others_buttons(
    postgres_url: str,
) -> None:
    """Each instance signs the buttons it sends; after a take-over, the taps on the
    buttons the dead instance sent reach another one, which must accept them."""
    clock = FakeClock(START)
    config = parse_config(CONFIG)
    stores = [create_store(postgres_url), create_store(postgres_url)]
    await asyncio.gather(*(store.open() for store in stores))
    engines = [Engine(store, clock, config, {"test": RecordingAdapter()}) for store in stores]
    try:
        await asyncio.gather(*(engine.prepare() for engine in engines))
        first, second = (engine.signer for engine in engines)
        assert first is not None and second is not None
        token = first.token(ActionKind.CHECKIN_OK, 7, PersonId(3))
        assert second.verify(token) == first.verify(token) is not None
    finally:
        for store in stores:
            await store.close()
