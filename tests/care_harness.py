"""A community for the tests of care beyond the daily tap: a resident phoned by a caller,
a grid leader with a deputy, a second grid whose leader has none, a care lead for every
grid. Built on the shared Harness (tests/conftest.py): the injected FakeClock and the
recording adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.commands import Delivery
from core.config import WorkflowConfig
from core.ids import chat_ref
from core.records import Alert, CheckinState
from gateway.clock import FakeClock
from gateway.config import builtin_config_text, parse_config
from gateway.people import import_people
from store.sqlite import Store
from tests.conftest import START, Harness
from tests.fakes import RecordingAdapter

MIN = timedelta(minutes=1)
DAY = timedelta(days=1)

PEOPLE = """\
name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix,family_of,contact,caller,deputy
Leader Li,grid_leader,G1,B3,en,,1380001,,,,,,,,Deputy Zhou
Deputy Zhou,team_member,G1,,en,,1380003,,,,,,,,
Lead Ma,care_lead,,,en,,1380002,,,,,,,,
Caller Liu,caller,G1,,zh,,1380004,,,,,,,,
Caller Gao,caller,G1,,en,,1380005,,,,,,,,
Wang,resident,G1,B3,zh,,1380011,B3-402,,,,,,,
Chen,resident,G1,B3,en,,1380012,B3-201,,,,,,,
刘桂兰,resident,G1,3栋,zh,,13800000011,3栋2单元402,,,,,phone,Caller Liu,
Son Wang,family,,,en,,1390021,,,,,Wang,,,
Leader Other,grid_leader,G2,B9,en,,1380009,,,,,,,,
Zhao,resident,G2,B9,zh,,1380019,B9-101,,,,,,,
"""

# Phoned residents have no chat: nothing is bound for them.
NO_CHAT = {"刘桂兰"}

CONFIG = (
    builtin_config_text()
    + """
grids:
  G1: {callers: [Caller Gao]}
  G2:
"""
)


@pytest.fixture
def care_config() -> WorkflowConfig:
    return parse_config(CONFIG)


@pytest.fixture
async def care(tmp_path: Path, care_config: WorkflowConfig) -> AsyncIterator[Harness]:
    clock = FakeClock(START)
    store = Store(tmp_path / "care.db")
    await store.open()
    await import_people(store, care_config, PEOPLE, clock.now())
    async with store.transaction() as tx:
        for person in await tx.people():
            if person.name not in NO_CHAT:
                await tx.bind_identity(
                    person.id, "test", str(person.id), chat_ref("test", person.id), clock.now()
                )
            # Family, team members and callers said yes to hearing about residents.
            if person.role in ("family", "team_member", "caller"):
                await tx.add_consent(person.id, person.family_of or 0, "given", "test", clock.now())
    h = Harness(store, clock, care_config, RecordingAdapter())
    await h.start()
    yield h
    await h.engine.stop()
    await store.close()


async def open_alert(h: Harness, name: str) -> Alert | None:
    person = await h.person(name)
    async with h.store.read() as tx:
        return await tx.unresolved_alert_of(person.id)


async def checkins(h: Harness, name: str) -> list[tuple[CheckinState, str]]:
    person = await h.person(name)
    async with h.store.read() as tx:
        rows = await tx._all(
            "SELECT state, answer FROM checkins WHERE person_id = ? ORDER BY id", (person.id,)
        )
    return [(CheckinState(r["state"]), r["answer"]) for r in rows]


async def fresh(h: Harness, name: str, part: str) -> list[Delivery]:
    """New messages (not edits, not toasts) a person got that contain `part`."""
    return [
        d for d in await h.inbox(name) if not d.edit_of and not d.callback_id and part in d.text
    ]


def labels(delivery: Delivery) -> list[str]:
    return [b.label for row in delivery.buttons for b in row]
