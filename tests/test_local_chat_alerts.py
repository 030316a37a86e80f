"""Alerts through the local web chat (the demo and training platform): a call for help
reaches the leader's chat, and the leader's reply to it is a note on the alert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.local.adapter import LocalChatAdapter
from core.config import WorkflowConfig
from core.ids import chat_ref
from gateway.clock import FakeClock
from gateway.engine import Engine
from gateway.people import import_people
from store.sqlite import Store
from tests.conftest import COMMUNITY_CSV, START


class LocalLine:
    def __init__(self, engine: Engine, local: LocalChatAdapter, store: Store) -> None:
        self.engine, self.local, self.store = engine, local, store

    async def id_of(self, name: str) -> str:
        async with self.store.read() as tx:
            person = await tx.person_by_name(name)
        assert person is not None
        return str(person.id)

    async def say(self, name: str, text: str, reply_to: str = "") -> None:
        await self.local.post(await self.id_of(name), text, name, reply_to)
        await self.engine.run_until_idle()

    async def chat(self, name: str) -> list[str]:
        return [m.text for m in self.local.history(await self.id_of(name))]


@pytest.fixture
async def line(tmp_path: Path, config: WorkflowConfig) -> AsyncIterator[LocalLine]:
    store = Store(tmp_path / "local.db")
    await store.open()
    await import_people(store, config, COMMUNITY_CSV, START)
    async with store.transaction() as tx:
        for person in await tx.people():
            await tx.bind_identity(
                person.id, "local", str(person.id), chat_ref("local", person.id), START
            )
    local = LocalChatAdapter()
    engine = Engine(store, FakeClock(START), config, {"local": local})
    await engine.prepare()
    await engine.start_receiving()
    yield LocalLine(engine, local, store)
    await engine.stop()
    await store.close()


async def test_a_call_for_help_in_the_local_chat_reaches_the_leaders_chat(
    line: LocalLine,
) -> None:
    await line.say("Wang", "救命，我摔倒了")
    leader = await line.chat("Leader Li")
    assert any("Call for help" in t and "摔倒" in t for t in leader)
    told = await line.chat("Wang")
    assert any("正在联系Leader Li" in t for t in told)


async def test_harmless_words_in_the_local_chat_page_nobody(line: LocalLine) -> None:
    await line.say("Wang", "我很好，腿也不疼了")
    assert await line.chat("Leader Li") == []
    assert any("收到" in t for t in await line.chat("Wang"))


async def test_a_reply_to_an_alert_in_the_local_chat_is_a_note(line: LocalLine) -> None:
    await line.say("Wang", "救命")
    leader_id = await line.id_of("Leader Li")
    alert = next(m for m in line.local.history(leader_id) if "Call for help" in m.text)
    await line.say("Leader Li", "我马上过去看看", reply_to=alert.id)
    shown = next(m for m in line.local.history(leader_id) if m.id == alert.id)
    assert shown.edited and "Leader Li: 我马上过去看看" in shown.text
