"""The Matrix adapter when things go wrong: a homeserver that is away at start-up, a
refused password, and a timeline event that cannot be converted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
from nio import Event

from adapters.base import AdapterContext, AdapterStartError
from adapters.matrix import MatrixAdapter
from adapters.matrix import convert as matrix_convert
from adapters.matrix.adapter import STATE_ACCESS_TOKEN, STATE_NEXT_BATCH, Unreadable, convert_each
from core.events import InboundEvent, MessageReceived
from tests.conftest_telegram import MemoryState, make_context

if TYPE_CHECKING:
    from tests.synapse import Homeserver

pytestmark = pytest.mark.matrix

WAIT = 15.0
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def forwarder(port: int, target_port: int) -> AsyncIterator[None]:
    """The homeserver coming back on `port`: every connection is piped to Synapse."""

    writers: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        writers.update((writer, up_writer))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what}")
        await asyncio.sleep(0.05)


def state_of(context: AdapterContext) -> dict[str, str]:
    assert isinstance(context.state, MemoryState)
    return context.state.values


async def test_it_signs_in_and_syncs_once_the_homeserver_can_be_reached(
    synapse_server: Homeserver,
) -> None:
    user_id, _, _ = synapse_server.register(f"carebot{uuid.uuid4().hex[:8]}", PASSWORD)
    port = free_port()  # nobody listens there yet
    adapter = MatrixAdapter(
        f"http://127.0.0.1:{port}",
        user_id,
        password=PASSWORD,
        sync_timeout_ms=1000,
        request_timeout=5.0,
        backoff=(0.05, 0.2),
    )
    context = make_context()
    await asyncio.wait_for(adapter.start(context), WAIT)
    try:
        problem = adapter.receive_problem(120)
        assert problem is not None and problem.startswith("not connected: ")
        assert "cannot reach the homeserver" in problem and PASSWORD not in problem
        assert STATE_ACCESS_TOKEN not in state_of(context)

        target = int(synapse_server.url.rsplit(":", 1)[1])
        async with forwarder(port, target):
            await until(lambda: STATE_NEXT_BATCH in state_of(context), "a first sync")
            assert state_of(context)[STATE_ACCESS_TOKEN]
            assert adapter.receive_problem(120) is None
            await asyncio.wait_for(adapter.stop(), WAIT)
    finally:
        await asyncio.wait_for(adapter.stop(), WAIT)


async def test_a_refused_password_stops_the_start_but_an_away_homeserver_does_not(
    synapse_server: Homeserver,
) -> None:
    user_id, _, _ = synapse_server.register(f"carebot{uuid.uuid4().hex[:8]}", PASSWORD)
    refused = MatrixAdapter(synapse_server.url, user_id, password="not-the-password")
    with pytest.raises(AdapterStartError, match="M_FORBIDDEN"):
        await asyncio.wait_for(refused.start(make_context()), WAIT)

    away = MatrixAdapter(f"http://127.0.0.1:{free_port()}", user_id, password=PASSWORD)
    await asyncio.wait_for(away.start(make_context()), WAIT)
    await asyncio.wait_for(away.stop(), WAIT)


def _event(event_id: str, body: Any) -> Event:
    return Event.parse_event(
        {
            "event_id": event_id,
            "sender": "@mei:localhost",
            "type": "m.room.message",
            "origin_server_ts": 1718000000000,
            "content": {"msgtype": "m.text", "body": body},
        }
    )


def test_an_event_that_fails_conversion_is_set_aside_with_its_event_id() -> None:
    room = matrix_convert.RoomView("!room:localhost")
    events = [_event("$before", "早上好"), _event("$poison", "帮帮我"), _event("$after", "救命")]

    def convert_one(event: Any) -> InboundEvent | None:
        if event.event_id == "$poison":
            raise KeyError("displayname")  # a converter bug met by one odd event
        return matrix_convert.inbound_event(event, room, "@bot:localhost")

    unreadable: list[Unreadable] = []
    found = convert_each(events, convert_one, unreadable)

    assert [e.event_id for e in found] == ["$before", "$after"]
    assert all(isinstance(e, MessageReceived) for e in found)
    (bad,) = unreadable
    assert bad.event_id == "$poison"
    assert json.loads(bad.raw)["content"]["body"] == "帮帮我"
    assert bad.reason == "could not be converted: KeyError: 'displayname'"
