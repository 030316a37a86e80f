"""The Matrix adapter: matrix-nio against any homeserver, without end-to-end encryption.

Receiving is one background sync loop. Each sync response is handled completely —
invites answered, timeline events converted and handed to the gateway's inbox — and
only then is its `next_batch` saved, so a crash replays the batch and the inbox drops
what it already has. Sending carries the outbox row id as the Matrix transaction id,
so a retry after a crash cannot post twice: the homeserver answers with the first
event. Both only hold while the device stays the same, which is why the access token
and device id live in the adapter state and a restart never logs in again.

A timeline event that fails conversion is logged with its event id and set aside as a
dead letter: it no longer fails the whole sync, which would be replayed forever.
Start-up raises only for what an operator must fix (a refused password or token); a
homeserver that cannot be reached is retried in the background, with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)
from nio.api import Api, RelationshipType
from nio.responses import RoomEventRelationsResponse

from adapters.base import (
    AdapterContext,
    AdapterStartError,
    DeadLetterSink,
    DeliveryError,
    RateLimits,
    ReceiveHealth,
    StateStore,
)
from adapters.matrix import convert
from adapters.matrix.errors import (
    CONNECTION_ERRORS,
    DUPLICATE_ANNOTATION,
    RATE_LIMITED,
    connection_error,
    errcode,
    http_status,
    response_error,
    scrub,
)
from adapters.matrix.platform import STATE_ENCRYPTED_ROOMS, json_list
from core.commands import Delivery
from core.events import ChatLeft, InboundEvent
from core.ids import ChatRef

log = logging.getLogger(__name__)

STATE_ACCESS_TOKEN = "matrix.access_token"
STATE_DEVICE_ID = "matrix.device_id"
STATE_USER_ID = "matrix.user_id"
STATE_NEXT_BATCH = "matrix.next_batch"
STATE_DM_PREFIX = "matrix.dm."

DEFAULT_ENCRYPTED_NOTICE = (
    "抱歉，我读不到加密的消息。请和我开一个不加密的聊天，我才能看到您的回复。\n"
    "Sorry, I cannot read encrypted messages. Please start a chat with me without "
    "encryption so that I can see your answers."
)
DEVICE_NAME = "carecheck"
# A message of the bot's carries a handful of reactions; people may add more.
RELATION_PAGES = 5

_QUIET: dict[str, Any] = {"not_types": ["*"]}
# Typing, receipts, presence and account data are not needed to look after anyone.
SYNC_FILTER: dict[str, Any] = {
    "presence": _QUIET,
    "account_data": _QUIET,
    "room": {"timeline": {"limit": 100}, "ephemeral": _QUIET, "account_data": _QUIET},
}
# The first sync ever only learns the rooms and the cursor; its timeline is dropped.
INITIAL_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {**SYNC_FILTER["room"], "timeline": {"limit": 1}},
}

MayJoin = Callable[[str, str], Awaitable[bool]]


class _Unreachable(Exception):
    """The homeserver could not be reached, or was unwell (5xx, 429, a timeout)."""


@dataclass(frozen=True)
class Unreadable:
    """A timeline event that could not be converted: kept as a dead letter."""

    event_id: str
    raw: str
    reason: str


class MatrixAdapter(ReceiveHealth):
    platform = "matrix"
    # No fixed rate: Synapse says when to slow down (M_LIMIT_EXCEEDED, retry_after_ms).
    limits = RateLimits(max_in_flight=4)
    every_instance = False
    resends_deduplicated = True

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        *,
        password: str | None = None,
        access_token: str | None = None,
        may_join: MayJoin | None = None,
        sync_timeout_ms: int = 30000,
        encrypted_notice: str = DEFAULT_ENCRYPTED_NOTICE,
        request_timeout: float = 30.0,
        dead_letters: DeadLetterSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        if not password and not access_token:
            raise ValueError("the Matrix adapter needs a password or an access token")
        self._homeserver = homeserver.rstrip("/")
        self._user_id = user_id
        self._password = password
        self._access_token = access_token
        self._may_join = may_join
        self._sync_timeout_ms = sync_timeout_ms
        self._encrypted_notice = encrypted_notice
        self._request_timeout = request_timeout
        self._dead_letters = dead_letters
        self._monotonic = monotonic
        self._backoff = backoff
        self._client: AsyncClient | None = None
        self._context: AdapterContext | None = None
        self._sync_task: asyncio.Task[None] | None = None
        # One direct room per person, even when two deliveries ask at once.
        self._dm_lock = asyncio.Lock()
        # Ends the sync loop even where a cancel gets lost inside a library.
        self._stopping = asyncio.Event()
        # Rooms whose invite was waiting at the very first start: what was said in them
        # before the join is history too.
        self._joined_at_first_start: set[str] = set()

    # ------------------------------------------------------------ lifecycle

    async def start(self, context: AdapterContext) -> None:
        if self._client is not None:
            raise RuntimeError("the Matrix adapter is already started")
        config = AsyncClientConfig(
            encryption_enabled=False,
            # nio would otherwise sleep and retry on its own, forever; the outbox and
            # the sync loop below decide about retries instead.
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=self._request_timeout,
        )
        client = AsyncClient(self._homeserver, self._user_id, config=config)
        self._client, self._context = client, context
        self._stopping.clear()
        signed_in = True
        try:
            await self._sign_in(client, context)
        except _Unreachable as exc:
            signed_in = False
            self._receive_failed(str(exc))
            log.warning("%s; retrying in the background", exc)
        except BaseException:
            await self.stop()
            raise
        if signed_in:
            self._receive_ok()  # the homeserver answers; the syncs keep this fresh
        # A restart asks for the full room state once: the member lists decide group vs.
        # direct room, and whether someone leaving left anyone to talk to.
        full_state = True
        if signed_in and await context.state.get(STATE_NEXT_BATCH) is None:
            # Done here rather than in the loop, so that once start() returns every
            # new message counts and only what came before is dropped.
            try:
                await self._initial_sync(client, context)
                full_state = False  # an initial sync is a full one
            except Exception as exc:
                self._receive_failed(f"first sync failed: {self._scrub(exc)}")
                log.warning("matrix: first sync failed, will retry: %s", self._scrub(exc))
        self._sync_task = asyncio.create_task(
            self._sync_loop(client, context, full_state, signed_in), name="matrix"
        )

    async def stop(self) -> None:
        self._stopping.set()
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def routes(self) -> list[web.RouteDef]:
        return []  # receiving is a sync loop, not a webhook

    def is_group(self, chat: ChatRef) -> bool:
        try:
            target = convert.parse_target(chat)
        except ValueError:
            return False
        room = self._client.rooms.get(target.room_id) if self._client and target.room_id else None
        return room is not None and len(room.users) > 2

    # ------------------------------------------------------------ sign-in

    async def _sign_in(self, client: AsyncClient, context: AdapterContext) -> None:
        """Reuse the stored device, else the configured token, else log in once."""
        state = context.state
        token = await state.get(STATE_ACCESS_TOKEN)
        device = await state.get(STATE_DEVICE_ID)
        if token and device and await state.get(STATE_USER_ID) == self._user_id:
            client.restore_login(self._user_id, device, token)
            if await self._token_works(client):
                return
            log.warning("matrix: the stored access token was revoked; signing in again")
        if self._access_token:
            client.restore_login(self._user_id, "", self._access_token)
            if await self._token_works(client):
                return
            if not self._password:
                raise AdapterStartError(
                    f"matrix: the homeserver rejected the access token for {self._user_id}"
                )
        await self._log_in(client, state)

    async def _sign_in_with_backoff(self, client: AsyncClient, context: AdapterContext) -> None:
        """Sign in once the homeserver can be reached; until then, keep trying."""
        delay = _Backoff(*self._backoff)
        while True:
            wait = delay.next()
            await asyncio.sleep(wait)
            try:
                await self._sign_in(client, context)
                self._receive_ok()
                log.info("matrix: signed in as %s", self._user_id)
                return
            except AdapterStartError as exc:
                # Only learnt now (the homeserver was unreachable at start), or the
                # password changed since: nothing works until an operator acts, and
                # /healthz says so meanwhile.
                self._receive_failed(str(exc))
                log.error("%s; trying again later", exc)
            except _Unreachable as exc:
                self._receive_failed(str(exc))
                log.warning("%s; trying again later", exc)

    async def _token_works(self, client: AsyncClient) -> bool:
        response = await self._call_at_start(client.whoami(), "check the access token")
        if isinstance(response, WhoamiResponse):
            if response.user_id != self._user_id:
                raise AdapterStartError(
                    f"matrix: the access token belongs to {response.user_id}, "
                    f"not to {self._user_id}"
                )
            return True
        if errcode(response) in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            return False
        raise self._start_failure(response, "check the access token")

    async def _log_in(self, client: AsyncClient, state: StateStore) -> None:
        if not self._password:
            raise AdapterStartError(f"matrix: no valid credentials for {self._user_id}")
        response = await self._call_at_start(
            client.login(self._password, device_name=DEVICE_NAME), "log in"
        )
        if not isinstance(response, LoginResponse):
            raise self._start_failure(response, "log in")
        await state.set(STATE_ACCESS_TOKEN, str(response.access_token))
        await state.set(STATE_DEVICE_ID, str(response.device_id))
        await state.set(STATE_USER_ID, str(response.user_id))
        log.info("matrix: logged in as %s (device %s)", response.user_id, response.device_id)

    async def _call_at_start(self, call: Awaitable[Any], action: str) -> Any:
        try:
            return await call
        except CONNECTION_ERRORS as exc:
            raise _Unreachable(
                f"matrix: cannot reach the homeserver {self._homeserver} to {action}: "
                f"{type(exc).__name__}: {self._scrub(exc) or 'no answer'}"
            ) from None

    def _start_failure(self, response: Any, action: str) -> AdapterStartError | _Unreachable:
        """A refusal an operator must fix, or a server that is unwell for now."""
        code, status = errcode(response), http_status(response)
        message = self._scrub(getattr(response, "message", ""))
        if code == RATE_LIMITED or status in (408, 429) or (status or 0) >= 500:
            return _Unreachable(
                f"matrix: the homeserver {self._homeserver} could not {action} for now: "
                f"{code or status} {message}".rstrip()
            )
        return AdapterStartError(
            f"matrix: the homeserver refused to {action} for {self._user_id}: "
            f"{code or status or 'error'} {message}".rstrip()
        )

    # ------------------------------------------------------------ receiving

    async def _sync_loop(
        self, client: AsyncClient, context: AdapterContext, full_state: bool, signed_in: bool
    ) -> None:
        if not signed_in:
            await self._sign_in_with_backoff(client, context)
        delay = _Backoff(*self._backoff)
        while not self._stopping.is_set():
            try:
                since = await context.state.get(STATE_NEXT_BATCH)
                if since is None:
                    await self._initial_sync(client, context)
                else:
                    response = await self._sync(
                        client, context, since, self._sync_timeout_ms, SYNC_FILTER, full_state
                    )
                    await self._handle(client, context, response, initial=False)
                    full_state = False
                delay.reset()
            except Exception as exc:
                wait = delay.next()
                self._receive_failed(f"sync failed: {self._scrub(exc)}")
                log.warning("matrix: sync failed (%s); retrying in %.1f s", self._scrub(exc), wait)
                await asyncio.sleep(wait)

    async def _initial_sync(self, client: AsyncClient, context: AdapterContext) -> None:
        response = await self._sync(client, context, None, 0, INITIAL_FILTER, False)
        await self._handle(client, context, response, initial=True)

    async def _sync(
        self,
        client: AsyncClient,
        context: AdapterContext,
        since: str | None,
        timeout_ms: int,
        sync_filter: dict[str, Any],
        full_state: bool,
    ) -> Any:
        # nio sets no client-side timeout for full-state and zero-timeout syncs.
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
        # arrives as the sync returns, and stop() would wait for the next long poll.
        async with asyncio.timeout(timeout_ms / 1000 + self._request_timeout):
            response = await client.sync(
                timeout=timeout_ms,
                sync_filter=sync_filter,
                since=since,
                full_state=full_state or None,
            )
        if not isinstance(response, SyncResponse):
            if errcode(response) == "M_UNKNOWN_TOKEN" and self._password:
                # Revoked (an operator logged the device out): a new device, and so a
                # new transaction scope, is the best we can do.
                await self._log_in(client, context.state)
            raise response_error(response, "sync")
        return response

    async def _handle(
        self, client: AsyncClient, context: AdapterContext, response: Any, *, initial: bool
    ) -> None:
        for room_id, info in response.rooms.invite.items():
            joined = await self._answer_invite(client, context, room_id, info.invite_state)
            if joined and initial:
                self._joined_at_first_start.add(room_id)
        events: list[InboundEvent] = []
        unreadable: list[Unreadable] = []
        emptied: list[str] = []  # rooms with nobody left but the bot
        encrypted: list[str] = []
        for room_id, info in response.rooms.join.items():
            room = client.rooms.get(room_id)
            if (room is not None and room.encrypted) or convert.has_encrypted(info.timeline.events):
                encrypted.append(room_id)
            if initial:
                continue  # history from before the bot's first start
            found = self._convert(room_id, info.timeline, self._view(client, room_id), unreadable)
            if any(isinstance(event, ChatLeft) for event in found):
                emptied.append(room_id)
            events += found
        if not initial:
            for room_id, info in response.rooms.leave.items():
                # The bot is out of these rooms: nobody in them can be reached any more.
                events += self._convert(
                    room_id, info.timeline, convert.RoomView(room_id), unreadable
                )
        for room_id in emptied:
            # Leave first: a delivery to the room must fail from now on, not land in
            # a room nobody reads.
            await self._leave(client, room_id)
        # Handed to the inbox together, in the sync's order: they share one commit
        # instead of one each. If any fails, the cursor stays and the sync comes again
        # (what was stored is then dropped as a duplicate).
        await asyncio.gather(*(context.inbox.receive(event) for event in events))
        for bad in unreadable:
            await self._dead_letter(bad)
        for room_id in encrypted:
            await self._warn_encrypted(client, context, room_id)
        # Only now, with every event stored or set aside, may the cursor move on.
        await context.state.set(STATE_NEXT_BATCH, str(response.next_batch))
        self._receive_ok()

    async def _dead_letter(self, bad: Unreadable) -> None:
        log.warning(
            "matrix: event %s could not be read (%s); set aside as a dead letter",
            bad.event_id,
            bad.reason,
        )
        if self._dead_letters is None:
            log.error("matrix: no dead-letter store: event %s is dropped", bad.event_id)
            return
        await self._dead_letters.dead_letter(self.platform, bad.event_id, bad.raw, bad.reason)

    def _convert(
        self,
        room_id: str,
        timeline: Any,
        view: convert.RoomView,
        unreadable: list[Unreadable],
    ) -> list[InboundEvent]:
        events = list(timeline.events)
        at_join = room_id in self._joined_at_first_start
        arrival = convert.arrival_index(events, self._user_id, at_join=at_join)
        if arrival is not None:
            events = events[arrival:]
            self._joined_at_first_start.discard(room_id)
        elif timeline.limited:
            # Not a room just joined (whose older history is meant to stay unread).
            log.warning("matrix: room %s had more new events than one sync returns", room_id)
        return convert_each(
            events, lambda event: convert.inbound_event(event, view, self._user_id), unreadable
        )

    def _view(self, client: AsyncClient, room_id: str) -> convert.RoomView:
        room = client.rooms.get(room_id)
        if room is None:
            return convert.RoomView(room_id)
        users = room.users
        return convert.RoomView(
            room_id,
            others_joined=frozenset(
                uid for uid, user in users.items() if not user.invited and uid != self._user_id
            ),
            member_count=len(users),
            display_names={
                uid: user.display_name for uid, user in users.items() if user.display_name
            },
        )

    async def _answer_invite(
        self, client: AsyncClient, context: AdapterContext, room_id: str, invite_state: Any
    ) -> bool:
        """Join or decline; return whether the bot joined."""
        inviter, direct = "", False
        for event in invite_state:
            if (
                isinstance(event, InviteMemberEvent)
                and event.state_key == self._user_id
                and event.membership == "invite"
            ):
                inviter, direct = str(event.sender), bool(event.content.get("is_direct"))
        if self._may_join is not None and not await self._may_join(room_id, inviter):
            log.info("matrix: declining the invite to %s from %s", room_id, inviter)
            await self._leave(client, room_id)
            return False
        response = await client.join(room_id)
        if not isinstance(response, JoinResponse):
            error = response_error(response, f"join {room_id}")
            if not error.permanent:
                raise error  # the batch is replayed, invite included
            log.warning("%s", error)
            return False
        log.info("matrix: joined %s, invited by %s", room_id, inviter)
        if direct and inviter:
            # The person opened a direct chat with the bot: that is where they are.
            await context.state.set(STATE_DM_PREFIX + inviter, room_id)
        return True

    async def _leave(self, client: AsyncClient, room_id: str) -> None:
        response = await client.room_leave(room_id)
        if isinstance(response, ErrorResponse):
            error = response_error(response, f"leave {room_id}")
            if not error.permanent:
                raise error
            log.info("%s", error)

    async def _warn_encrypted(
        self, client: AsyncClient, context: AdapterContext, room_id: str
    ) -> None:
        """Say once per room that the bot cannot read it; list the room for the operator."""
        rooms = json_list(await context.state.get(STATE_ENCRYPTED_ROOMS))
        if room_id in rooms:
            return
        tx = "ccenc" + hashlib.sha256(room_id.encode()).hexdigest()[:24]
        content = convert.notice_content(self._encrypted_notice)
        response = await client.room_send(room_id, "m.room.message", content, tx_id=tx)
        if isinstance(response, ErrorResponse):
            # Not recorded: the next event from this room tries again.
            log.warning("%s", response_error(response, f"warn encrypted room {room_id}"))
            return
        log.warning("matrix: room %s is encrypted; the bot cannot read it", room_id)
        await context.state.set(STATE_ENCRYPTED_ROOMS, json.dumps([*rooms, room_id]))

    # ------------------------------------------------------------ sending

    async def deliver(self, delivery: Delivery) -> str:
        client, context = self._client, self._context
        if client is None or context is None:
            raise DeliveryError("matrix: the adapter is not running", permanent=False)
        try:
            target = convert.parse_target(delivery.chat)
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        room_id = target.room_id or await self._direct_room(client, context, target.user_id)
        if delivery.edit_of:
            message_id = await self._edit(client, room_id, delivery)
            if message_id == delivery.edit_of:
                await self._match_reactions(client, room_id, message_id, delivery)
                return message_id
        else:
            content = convert.message_content(delivery)
            tx = convert.tx_id(delivery.outbox_id)
            message_id = await self._send(client, room_id, "m.room.message", content, tx)
        await self._react(client, room_id, message_id, delivery)
        return message_id

    async def _edit(self, client: AsyncClient, room_id: str, delivery: Delivery) -> str:
        """Edit in place and return the original id: reactions (the answers) and later
        edits refer to it. A refused edit (unknown event) becomes a new message."""
        tx = convert.tx_id(delivery.outbox_id)
        content = convert.edit_content(delivery)
        response = await self._request(client, room_id, "m.room.message", content, tx)
        if isinstance(response, RoomSendResponse):
            return delivery.edit_of
        if http_status(response) != 400:
            raise response_error(response, f"edit a message in {room_id}")
        log.info("matrix: edit of %s refused; sending a new message", delivery.edit_of)
        content = convert.message_content(delivery)
        # Same transaction id: a failed request is not remembered by the homeserver.
        return await self._send(client, room_id, "m.room.message", content, tx)

    async def _match_reactions(
        self, client: AsyncClient, room_id: str, event_id: str, delivery: Delivery
    ) -> None:
        """After an edit the bot's reactions are the choices the message still offers:
        an answered prompt keeps no ✅/🆘 to tap, an acknowledged alert no 👀. They are
        what buttons are elsewhere, and an edit takes buttons away."""
        present = await self._own_reactions(client, room_id, event_id)
        if present is None:
            # Unknown: add what is wanted (a duplicate is refused) and take nothing back.
            await self._react(client, room_id, event_id, delivery)
            return
        wanted = convert.reaction_keys(delivery)
        for reaction_id, key in present:
            if key not in wanted:
                tx = convert.redaction_tx_id(delivery.outbox_id, reaction_id)
                await self._redact(client, room_id, reaction_id, tx)
        have = {key for _, key in present}
        await self._react(client, room_id, event_id, delivery, skip=have)

    async def _own_reactions(
        self, client: AsyncClient, room_id: str, event_id: str
    ) -> list[tuple[str, str]] | None:
        """The bot's reactions on a message; None when the homeserver would not say."""
        events: list[Any] = []
        page: str | None = None
        for _ in range(RELATION_PAGES):
            method, path = Api.room_get_event_relations(
                client.access_token,
                room_id,
                event_id,
                RelationshipType.annotation,
                "m.reaction",
                paginate_from=page,
                limit=100,
            )
            try:
                # nio's iterating helper fails on an error answer; its request call
                # returns one, like every other call here.
                response = await client._send(
                    RoomEventRelationsResponse, method, path, response_data=(room_id, event_id)
                )
            except CONNECTION_ERRORS as exc:
                error = connection_error(exc, f"read the reactions in {room_id}")
                raise DeliveryError(self._scrub(error), permanent=False) from None
            if not isinstance(response, RoomEventRelationsResponse):
                error = response_error(response, f"read the reactions in {room_id}")
                if not error.permanent:
                    raise error  # the edit is sent again (same transaction id): harmless
                log.info("%s", error)
                return None
            events += response.events
            page = response.next_batch
            if not page:
                break
        return convert.own_reactions(events, self._user_id)

    async def _redact(self, client: AsyncClient, room_id: str, event_id: str, tx: str) -> None:
        try:
            response = await client.room_redact(room_id, event_id, tx_id=tx)
        except CONNECTION_ERRORS as exc:
            error = connection_error(exc, f"take back a reaction in {room_id}")
            raise DeliveryError(self._scrub(error), permanent=False) from None
        if isinstance(response, RoomRedactResponse):
            return
        error = response_error(response, f"take back a reaction in {room_id}")
        if not error.permanent:
            raise error
        # The edit itself is out and says what was recorded; a stale reaction is cosmetic.
        log.warning("%s", error)

    async def _react(
        self,
        client: AsyncClient,
        room_id: str,
        event_id: str,
        delivery: Delivery,
        skip: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """One reaction per button on the bot's own message: the resident answers with
        one tap on it."""
        for index, key in enumerate(convert.reaction_keys(delivery)):
            if key in skip:
                continue
            content = convert.reaction_content(event_id, key)
            tx = convert.reaction_tx_id(delivery.outbox_id, index)
            response = await self._request(client, room_id, "m.reaction", content, tx)
            if not isinstance(response, ErrorResponse) or errcode(response) == DUPLICATE_ANNOTATION:
                continue
            error = response_error(response, f"add a reaction in {room_id}")
            if not error.permanent:
                raise error  # the retry finds the message already sent (same tx id)
            # The message itself is out and lists the choices: answering by text works.
            log.warning("%s", error)

    async def _send(
        self, client: AsyncClient, room_id: str, event_type: str, content: dict[str, Any], tx: str
    ) -> str:
        response = await self._request(client, room_id, event_type, content, tx)
        if isinstance(response, RoomSendResponse):
            return str(response.event_id)
        raise response_error(response, f"send to {room_id}")

    async def _request(
        self, client: AsyncClient, room_id: str, event_type: str, content: dict[str, Any], tx: str
    ) -> Any:
        try:
            return await client.room_send(room_id, event_type, content, tx_id=tx)
        except CONNECTION_ERRORS as exc:
            error = connection_error(exc, f"send to {room_id}")
            raise DeliveryError(self._scrub(error), permanent=False) from None

    async def _direct_room(self, client: AsyncClient, context: AdapterContext, user_id: str) -> str:
        key = STATE_DM_PREFIX + user_id
        async with self._dm_lock:
            known = await context.state.get(key)
            if known:
                return known
            action = f"open a direct room with {user_id}"
            try:
                # Synapse happily invites a user who does not exist; their profile
                # tells. Other profile failures (restricted lookups, a remote server
                # down) do not stop us: the invite itself will say.
                profile = await client.get_profile(user_id)
                if isinstance(profile, ErrorResponse) and http_status(profile) == 404:
                    raise DeliveryError(f"matrix: no such user {user_id}", permanent=True)
                response = await client.room_create(
                    is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[user_id]
                )
            except CONNECTION_ERRORS as exc:
                error = connection_error(exc, action)
                raise DeliveryError(self._scrub(error), permanent=False) from None
            if not isinstance(response, RoomCreateResponse):
                raise response_error(response, action)
            room_id = str(response.room_id)
            await context.state.set(key, room_id)
            log.info("matrix: opened direct room %s with %s", room_id, user_id)
            return room_id

    def _scrub(self, value: object) -> str:
        """Secrets out, and on one line: this ends up in logs and start errors."""
        text = scrub(str(value), self._password, self._access_token, self._stored_token())
        return " ".join(text.split())

    def _stored_token(self) -> str | None:
        token = self._client.access_token if self._client is not None else None
        return token if isinstance(token, str) else None


def convert_each(
    events: list[Any],
    convert_one: Callable[[Any], InboundEvent | None],
    unreadable: list[Unreadable],
) -> list[InboundEvent]:
    """Convert each event; one that fails is added to `unreadable` (with its event id
    and source) instead of failing the whole sync."""
    found: list[InboundEvent] = []
    for event in events:
        try:
            inbound = convert_one(event)
        except Exception as exc:
            source = getattr(event, "source", None)
            event_id = source.get("event_id") if isinstance(source, dict) else None
            raw = json.dumps(source, ensure_ascii=False, default=str)
            reason = f"could not be converted: {type(exc).__name__}: {exc}"
            unreadable.append(Unreadable(str(event_id or ""), raw, " ".join(reason.split())))
            continue
        if inbound is not None:
            found.append(inbound)
    return found


class _Backoff:
    """Exponential, capped, with jitter: a homeserver that is down is not hammered, and
    a fleet of gateways does not come back in lockstep."""

    def __init__(self, first: float = 1.0, cap: float = 60.0) -> None:
        self._first, self._cap, self._failures = first, cap, 0

    def next(self) -> float:
        self._failures += 1
        delay = min(self._cap, self._first * 2.0 ** (self._failures - 1))
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._failures = 0
