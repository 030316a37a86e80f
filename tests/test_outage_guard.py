"""The platform outage guard on an injected clock, with two fake platforms: residents
and their grid leader on one ("test"), the care lead and an operator on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.base import DeliveryError
from core.commands import Delivery
from core.config import WorkflowConfig
from core.enums import TimerKind
from core.ids import chat_ref
from core.records import CheckinState, Person
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.people import import_people
from store.sqlite import Store
from tests.conftest import START
from tests.fakes import Failure, RecordingAdapter

MIN = timedelta(minutes=1)
RESIDENTS = [f"R{i:02d}" for i in range(12)]
PEOPLE = (
    "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix\n"
    "Leader Li,grid_leader,G1,,en,,1380001,,,,\n"
    "Lead Zhang,care_lead,G1,,en,,1380002,,,,\n"
    "Op Wu,operator,,,zh,,1380003,,,,\n"
    + "".join(f"{name},resident,G1,,en,,13900{i:02d},,,,\n" for i, name in enumerate(RESIDENTS))
)
ON_OTHER = ("Lead Zhang", "Op Wu")


class Street:
    def __init__(self, store: Store, clock: FakeClock, config: WorkflowConfig) -> None:
        self.store, self.clock, self.config = store, clock, config
        self.test = RecordingAdapter()
        self.other = RecordingAdapter(platform="other")
        self.engine = Engine(store, clock, config, {"test": self.test, "other": self.other})

    async def settle(self) -> None:
        await self.engine.run_until_idle()

    async def advance(self, delta: timedelta, step: timedelta = MIN) -> None:
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + step))
            await self.settle()

    async def person(self, name: str) -> Person:
        async with self.store.read() as tx:
            person = await tx.person_by_name(name)
        assert person is not None
        return person

    async def inbox(self, name: str) -> list[Delivery]:
        person = await self.person(name)
        adapter = self.other if name in ON_OTHER else self.test
        return adapter.to(chat_ref(adapter.platform, person.id))

    async def state(self, name: str) -> CheckinState:
        person = await self.person(name)
        async with self.store.read() as tx:
            (latest, *_) = sorted(
                await tx.checkin_days(person.id, START - timedelta(days=1)),
                key=lambda c: c.due_at,
                reverse=True,
            )
        return CheckinState(latest.state)

    async def alerts(self) -> int:
        async with self.store.read() as tx:
            return len(await tx.unresolved_alerts())

    def break_residents(self, names: list[str], ids: dict[str, int], error: str) -> None:
        for name in names:
            self.test.failures[chat_ref("test", ids[name])] = Failure(
                DeliveryError(error, permanent=True)
            )


def guard_config(extra: str = "") -> WorkflowConfig:
    return parse_config(builtin_config_text() + extra)


@pytest.fixture
async def street(db_path: Path) -> AsyncIterator[tuple[Street, dict[str, int]]]:
    clock = FakeClock(START)
    store = Store(db_path)
    await store.open()
    config = guard_config()
    await import_people(store, config, PEOPLE, clock.now())
    ids = {}
    async with store.transaction() as tx:
        for person in await tx.people():
            platform = "other" if person.name in ON_OTHER else "test"
            await tx.bind_identity(
                person.id, platform, str(person.id), chat_ref(platform, person.id), clock.now()
            )
            ids[person.name] = person.id
    s = Street(store, clock, config)
    await s.engine.prepare()
    await s.engine.start_receiving()
    yield s, ids
    await s.engine.stop()
    await store.close()


def texts(deliveries: list[Delivery]) -> list[str]:
    return [d.text for d in deliveries]


async def test_a_platform_refusing_a_whole_round_is_one_alert_not_a_page_per_resident(
    street: tuple[Street, dict[str, int]],
) -> None:
    s, ids = street
    s.break_residents(RESIDENTS, ids, "chat not found")
    await s.advance(30 * MIN)  # the 09:00 round: every prompt refused, each one held
    assert await s.inbox("Lead Zhang") == [] and await s.inbox("Leader Li") == []
    await s.advance(5 * MIN)  # 09:05: the round is judged
    # One message to the care lead and the operator (in their languages); the grid
    # leader is paged for nobody.
    (told,) = texts(await s.inbox("Lead Zhang"))
    assert told.startswith("⚠️ Test unreachable: 12 residents not reached")
    (told_zh,) = texts(await s.inbox("Op Wu"))
    assert "Test 联系不上：12 位居民没收到问候" in told_zh
    assert await s.inbox("Leader Li") == [] and await s.alerts() == 0
    # Hours later the check-ins still wait for the platform: no window closed, no page.
    await s.advance(3 * timedelta(hours=1), step=5 * MIN)
    assert {await s.state(name) for name in RESIDENTS} == {CheckinState.SENT}
    assert await s.inbox("Leader Li") == [] and await s.alerts() == 0
    async with s.store.read() as tx:
        assert len(await tx.timers_of_kind(TimerKind.OUTAGE_HOLD)) == 12
    # The operator's summary says so.
    await s.advance(12 * MIN)
    # The platform works again: the next look sends one probe, the one after sees it
    # arrive and asks everyone held again, with a full reply window.
    s.test.failures.clear()
    before = len(s.test.sent)
    await s.advance(10 * MIN)
    again = [d for d in s.test.sent[before:] if "How are you today" in d.text]
    assert len({d.chat for d in again}) == 12 and len(again) == 12
    assert "✅ Test is back" in texts(await s.inbox("Lead Zhang"))[-1]
    assert "12 residents asked again" in texts(await s.inbox("Lead Zhang"))[-1]
    async with s.store.read() as tx:
        assert await tx.timers_of_kind(TimerKind.OUTAGE_HOLD) == []
    # Escalation is back to normal: who answers is fine, who does not is paged.
    for name in RESIDENTS[1:]:
        await s.test.say(str(ids[name]), "fine")
    await s.settle()
    await s.advance(61 * MIN)
    assert await s.state(RESIDENTS[0]) is CheckinState.MISSED
    assert await s.state(RESIDENTS[1]) is CheckinState.OK
    (page,) = [d for d in await s.inbox("Leader Li") if RESIDENTS[0] in d.text]
    assert "No answer" in page.text
    # The day's summary tells the care lead what happened.
    await s.test.say(str(ids["Leader Li"]), "/summary")
    await s.settle()
    summary = texts(await s.inbox("Leader Li"))[-1]
    assert "⚠️ Test was unreachable 09:00–" in summary
    assert "12 residents not reached in time" in summary


async def test_a_few_residents_who_cannot_be_reached_still_page_as_before(
    street: tuple[Street, dict[str, int]],
) -> None:
    s, ids = street
    s.break_residents(RESIDENTS[:2], ids, "bot was blocked by the user")
    await s.advance(30 * MIN)
    await s.advance(5 * MIN)  # the round is judged: no outage
    assert await s.inbox("Lead Zhang") == []
    assert await s.state(RESIDENTS[0]) is CheckinState.UNREACHABLE
    assert await s.state(RESIDENTS[1]) is CheckinState.UNREACHABLE
    assert await s.state(RESIDENTS[2]) is CheckinState.SENT
    pages = [d.text for d in await s.inbox("Leader Li") if "Unreachable" in d.text]
    assert len(pages) == 2
    async with s.store.read() as tx:
        assert await tx.timers_of_kind(TimerKind.OUTAGE_HOLD) == []


async def test_the_threshold_and_the_smallest_round_come_from_the_workflow_file(
    street: tuple[Street, dict[str, int]],
) -> None:
    s, ids = street
    # A strict threshold: a quarter of the round refused is already an outage …
    s.engine.config = s.config = guard_config("outage_guard: {threshold: 25%, min_prompts: 12}\n")
    s.break_residents(RESIDENTS[:3], ids, "chat not found")
    await s.advance(35 * MIN)
    (told,) = texts(await s.inbox("Lead Zhang"))
    assert told.startswith("⚠️ Test unreachable")
    assert await s.alerts() == 0


async def test_a_round_smaller_than_min_prompts_is_never_taken_for_an_outage(
    street: tuple[Street, dict[str, int]],
) -> None:
    s, ids = street
    s.engine.config = s.config = guard_config("outage_guard: {min_prompts: 13}\n")
    s.break_residents(RESIDENTS, ids, "chat not found")
    await s.advance(36 * MIN)
    assert await s.inbox("Lead Zhang") == [] or all(
        "unreachable:" not in t for t in texts(await s.inbox("Lead Zhang"))
    )
    assert await s.alerts() == 12


async def test_with_the_guard_off_every_refused_prompt_pages_as_before(
    street: tuple[Street, dict[str, int]],
) -> None:
    s, ids = street
    s.engine.config = s.config = guard_config("outage_guard: off\n")
    s.break_residents(RESIDENTS, ids, "chat not found")
    await s.advance(31 * MIN)
    assert (
        await s.inbox("Lead Zhang") == []
        or "unreachable" not in texts(await s.inbox("Lead Zhang"))[0]
    )
    assert await s.alerts() == 12
