from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.commands import Delivery
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.records import Person
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.engine import Engine
from gateway.people import import_people
from store.sqlite import Store
from tests.fakes import RecordingAdapter

# The real-Synapse fixtures (session-scoped; Synapse starts only for tests that ask).
pytest_plugins = ["tests.synapse", "tests.postgres"]

# 08:30 in Shanghai on a Monday: the default plan's round is due at 09:00.
START = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)

COMMUNITY_CSV = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of
Leader Li,grid_leader,G1,B3,en,,1380001,,,,,
Lead Zhang,care_lead,G1,,en,,1380002,,,,,
Leader Other,grid_leader,G2,B9,en,,1380009,,,,,
Wang,resident,G1,B3,zh,,1380011,B3-402,,,,
Chen,resident,G1,B3,en,,1380012,B3-201,,,,
Son Wang,family,,,en,,1390021,,,,,Wang
"""


class Harness:
    def __init__(
        self, store: Store, clock: FakeClock, config: WorkflowConfig, adapter: RecordingAdapter
    ) -> None:
        self.store, self.clock, self.config, self.adapter = store, clock, config, adapter
        self.engine = Engine(store, clock, config, {"test": adapter})

    async def start(self) -> None:
        await self.engine.prepare()
        await self.engine.start_receiving()

    async def settle(self) -> None:
        await self.engine.run_until_idle()

    async def advance(self, delta: timedelta) -> None:
        """Move the clock in one-minute steps, doing everything due at each step."""
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.set(min(end, self.clock.now() + timedelta(minutes=1)))
            await self.settle()

    async def person(self, name: str) -> Person:
        async with self.store.transaction() as tx:
            person = await tx.person_by_name(name)
        assert person is not None, name
        return person

    async def chat(self, name: str) -> str:
        return chat_ref("test", (await self.person(name)).id)

    async def user(self, name: str) -> str:
        return str((await self.person(name)).id)

    async def inbox(self, name: str) -> list[Delivery]:
        return self.adapter.to(await self.chat(name))

    async def last(self, name: str) -> Delivery:
        messages = [d for d in await self.inbox(name) if not d.callback_id]
        assert messages, f"nothing was sent to {name}"
        return messages[-1]

    async def say(self, name: str, text: str, **kw: object) -> None:
        await self.adapter.say(await self.user(name), text, **kw)  # type: ignore[arg-type]
        await self.settle()

    async def press(self, name: str, delivery: Delivery, label_part: str) -> None:
        for row in delivery.buttons:
            for button in row:
                if label_part in button.label:
                    await self.adapter.press(await self.user(name), button.token)
                    await self.settle()
                    return
        raise AssertionError(f"no button {label_part!r} in {delivery.buttons}")


async def make_community(
    store: Store,
    config: WorkflowConfig,
    now: datetime,
    csv_text: str = COMMUNITY_CSV,
    *,
    contacts_agreed: bool = True,
) -> None:
    """Import and bind everyone to the fake platform. Family contacts and volunteers
    have said yes to hearing about residents unless `contacts_agreed` is False."""
    await import_people(store, config, csv_text, now)
    async with store.transaction() as tx:
        for person in await tx.people():
            await tx.bind_identity(
                person.id, "test", str(person.id), chat_ref("test", person.id), now
            )
            if contacts_agreed and person.role in ("family", "team_member", "caller"):
                await tx.add_consent(person.id, person.family_of or 0, "given", "test", now)


@pytest.fixture
def config() -> WorkflowConfig:
    return parse_config(builtin_config_text())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "carecheck.db"


@pytest.fixture
async def harness(db_path: Path, config: WorkflowConfig) -> AsyncIterator[Harness]:
    clock = FakeClock(START)
    store = Store(db_path)
    await store.open()
    await make_community(store, config, clock.now())
    h = Harness(store, clock, config, RecordingAdapter())
    await h.start()
    yield h
    await h.engine.stop()
    await store.close()
