"""Outbound-only channels through the real outbox worker: a WeCom group robot (a local
fake that keeps WeCom's limit) and a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from adapters.base import Adapter, AdapterContext
from adapters.webhook.adapter import WebhookAdapter
from adapters.wecom.adapter import WecomAdapter
from core.commands import Priority
from core.ids import ChatRef
from core.outbox import NewMessage, OutboxRow
from gateway.clock import FakeClock
from gateway.config import ConfigError, builtin_config_text, parse_config
from gateway.engine import KvState
from gateway.outbox import OutboxWorker
from store.sqlite import Store
from tests.conftest import START
from tests.robot_server import FakeReceiver, FakeRobots, serving

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
ROBOT = ChatRef(f"wecom:{KEY}")
CONSOLE = "https://care.example.org"


class Ticks:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "channels.db")
    await s.open()
    yield s
    await s.close()


async def enqueue(
    store: Store, clock: FakeClock, platform: str, chat: ChatRef, text: str, **kw: object
) -> None:
    async with store.transaction() as tx:
        await tx.enqueue(platform, NewMessage(chat=chat, text=text, **kw), clock.now())  # type: ignore[arg-type]


class Sender:
    """The outbox worker for one adapter, driven pass by pass on the test's clocks."""

    def __init__(self, store: Store, clock: FakeClock, adapter: Adapter, ticks: Ticks) -> None:
        self.failed: list[tuple[OutboxRow, str]] = []
        self.adapter, self.clock, self.ticks = adapter, clock, ticks
        self.worker = OutboxWorker(store, clock, adapter, self._failed, monotonic=ticks)

    async def _failed(self, row: OutboxRow, error: str) -> None:
        self.failed.append((row, error))

    async def passes(self, count: int = 50) -> None:
        for _ in range(count):
            await self.worker.run_once()
            await self.worker.finish_sends()
        await self.worker.store.flush()

    async def wait(self, seconds: float) -> None:
        self.ticks.now += seconds
        self.clock.advance(timedelta(seconds=seconds))
        await self.passes()


async def started(adapter: Adapter, store: Store) -> Adapter:
    await adapter.start(AdapterContext(inbox=None, state=KvState(store)))  # type: ignore[arg-type]
    return adapter


async def test_a_robot_at_its_limit_still_delivers_every_alert_in_order_alerts_first(
    store: Store,
) -> None:
    clock, ticks = FakeClock(START), Ticks()
    robots = FakeRobots({KEY}, ticks)
    async with serving(web.post("/cgi-bin/webhook/send", robots.send)) as base:
        adapter = await started(WecomAdapter(base, CONSOLE), store)
        sender = Sender(store, clock, adapter, ticks)
        for n in range(25):
            await enqueue(store, clock, "wecom", ROBOT, f"summary {n}", priority=Priority.ROUTINE)
        for n in range(5):
            await enqueue(
                store,
                clock,
                "wecom",
                ROBOT,
                f"alert {n}",
                priority=Priority.ALERT,
                purpose="alert.opened",
                ref=40 + n,
            )
        await sender.passes()
        texts = [content.split("\n")[0] for _, content in robots.posts]
        assert texts == [f"alert {n}" for n in range(5)] + [f"summary {n}" for n in range(15)]
        assert robots.refused == 0  # the outbox kept the limit itself
        assert f"[{CONSOLE}/alerts/40]({CONSOLE}/alerts/40)" in robots.posts[0][1]
        await sender.wait(62)
        texts = [content.split("\n")[0] for _, content in robots.posts]
        assert texts[20:] == [f"summary {n}" for n in range(15, 25)]
        assert sender.failed == []
        await adapter.stop()


async def test_a_robot_that_says_45009_gets_the_post_again_after_a_wait(store: Store) -> None:
    clock, ticks = FakeClock(START), Ticks()
    robots = FakeRobots({KEY}, ticks)
    robots.use_up(KEY)  # another system used up this robot's minute
    async with serving(web.post("/cgi-bin/webhook/send", robots.send)) as base:
        adapter = await started(WecomAdapter(base, CONSOLE), store)
        sender = Sender(store, clock, adapter, ticks)
        await enqueue(store, clock, "wecom", ROBOT, "alert A", priority=Priority.ALERT)
        await enqueue(store, clock, "wecom", ROBOT, "alert B", priority=Priority.ALERT)
        await sender.passes()
        assert robots.refused == 1 and robots.posts == []
        await sender.wait(61)
        assert [c for _, c in robots.posts] == ["alert A", "alert B"]
        assert sender.failed == []
        await adapter.stop()


async def test_an_invalid_robot_key_fails_for_good_and_shows_on_healthz(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock, ticks = FakeClock(START), Ticks()
    robots = FakeRobots({KEY}, ticks)
    wrong = "00000000-dead-beef-0000-000000000000"
    async with serving(web.post("/cgi-bin/webhook/send", robots.send)) as base:
        adapter = await started(WecomAdapter(base, CONSOLE), store)
        sender = Sender(store, clock, adapter, ticks)
        await enqueue(store, clock, "wecom", ChatRef(f"wecom:{wrong}"), "alert", priority=0)
        await sender.passes(3)
        ((_row, error),) = sender.failed
        assert "invalid key (93000)" in error and wrong not in error
        assert isinstance(adapter, WecomAdapter)
        problem = adapter.send_problem()
        assert problem is not None and "invalid key" in problem
        assert wrong not in caplog.text
        await adapter.stop()


async def test_a_webhook_post_is_signed_retried_and_carries_one_idempotency_key(
    store: Store,
) -> None:
    clock, ticks = FakeClock(START), Ticks()
    receiver = FakeReceiver(answers=[503])
    async with serving(web.post("/hook", receiver.receive)) as base:
        adapter = await started(WebhookAdapter("s3cret", CONSOLE), store)
        sender = Sender(store, clock, adapter, ticks)
        await enqueue(
            store,
            clock,
            "webhook",
            ChatRef(f"webhook:{base}/hook"),
            "⚠️ 未回复问候 #7",
            priority=Priority.ALERT,
            purpose="alert.opened",
            ref=7,
            meta={"event": "alert.opened", "alert": {"id": 7, "reason": "missed"}},
        )
        await sender.passes(3)
        assert len(receiver.got) == 1  # 503: to be retried after the backoff
        await sender.wait(5)
        assert len(receiver.got) == 2 and sender.failed == []
        (_first, first_headers), (body, headers) = receiver.got
        assert first_headers["Idempotency-Key"] == headers["Idempotency-Key"]
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Carecheck-Signature"], expected)
        data = json.loads(body)
        assert data["event"] == "alert.opened" and data["text"] == "⚠️ 未回复问候 #7"
        assert data["url"] == f"{CONSOLE}/alerts/7"
        assert data["alert"] == {"id": 7, "reason": "missed", "url": f"{CONSOLE}/alerts/7"}
        wrong = "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()
        assert not hmac.compare_digest(headers["X-Carecheck-Signature"], wrong)
        await adapter.stop()


async def test_a_webhook_that_answers_410_fails_for_good(store: Store) -> None:
    clock, ticks = FakeClock(START), Ticks()
    receiver = FakeReceiver(answers=[410])
    async with serving(web.post("/hook", receiver.receive)) as base:
        adapter = await started(WebhookAdapter("s3cret"), store)
        sender = Sender(store, clock, adapter, ticks)
        await enqueue(store, clock, "webhook", ChatRef(f"webhook:{base}/hook"), "x", priority=2)
        await sender.passes(3)
        assert [error for _, error in sender.failed] == ["webhook answered 410"]
        assert isinstance(adapter, WebhookAdapter)
        assert "refused: webhook answered 410" in (adapter.send_problem() or "")
        await adapter.stop()


def test_team_and_grid_channels_may_be_robots_and_webhooks_checked_with_their_line() -> None:
    text = builtin_config_text() + (
        f'grids:\n  G1: {{channel: "wecom:{KEY}"}}\n'
        '  G2: {channel: "webhook:https://hooks.example.org/care"}\n  G3:\n'
    )
    config = parse_config(text)
    assert config.grids["G1"].channel == f"wecom:{KEY}" and config.grids["G3"].channel is None
    with pytest.raises(ConfigError) as caught:
        parse_config(builtin_config_text() + 'grids:\n  G1: {channel: "webhook:http://x.org/"}\n')
    (problem,) = caught.value.problems
    assert "grids.G1.channel" in str(problem) and "webhook:https://" in str(problem)


async def test_operators_hear_in_chat_when_a_robot_refuses_its_key(store: Store) -> None:
    from core.ids import chat_ref
    from gateway.engine import Engine
    from gateway.people import import_people
    from tests.fakes import RecordingAdapter

    clock, ticks = FakeClock(START), Ticks()
    robots = FakeRobots({KEY}, ticks)
    config = parse_config(builtin_config_text())
    people = "name,role,grid,building,language,timezone,phone,address,plan,telegram,matrix\n"
    await import_people(store, config, people + "Ops Wu,operator,,,zh,,1380099,,,,\n", START)
    async with store.transaction() as tx:
        (wu,) = await tx.people()
        await tx.bind_identity(wu.id, "test", str(wu.id), chat_ref("test", wu.id), START)
    wrong = "00000000-dead-beef-0000-000000000000"
    async with serving(web.post("/cgi-bin/webhook/send", robots.send)) as base:
        chat = RecordingAdapter()
        engine = Engine(store, clock, config, {"test": chat, "wecom": WecomAdapter(base)})
        await engine.prepare()
        await engine.start_receiving()
        for n in range(3):
            await enqueue(
                store, clock, "wecom", ChatRef(f"wecom:{wrong}"), f"alert {n}", priority=0
            )
        await engine.run_until_idle()
        (told,) = [d.text for d in chat.sent]  # once, not once per refused post
        assert told.startswith("⚠️ wecom: 发送失败：robot 0000… refused: invalid key (93000)")
        assert wrong not in told
        await engine.stop()
