"""A Telegram Bot API test server: real HTTP on 127.0.0.1, so real aiogram talks to it
exactly as it talks to api.telegram.org.

A test plays the users (queue a message, press a button by its label, block the bot),
reads back every call the bot made and the messages it left in each chat, and injects
the failures Telegram produces (429 with retry_after, 5xx, a hung request, a blocked
bot, an unknown chat). Optionally it enforces Telegram's send limits.

    async with TelegramTestServer() as server:
        adapter = TelegramAdapter(server.token, server.base_url, polling_timeout=1)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_TOKEN = "123456789:TEST-token_for-the-carecheck-suite"
BOT_USERNAME = "carecheck_test_bot"

# Parameters that arrive as JSON text in a form, and those that are numbers.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
    }
)
_INT_FIELDS = frozenset({"chat_id", "message_id", "offset", "limit", "timeout", "from_chat_id"})
_SENDING_METHODS = frozenset({"sendmessage", "sendphoto"})


class Fault(enum.Enum):
    RETRY_AFTER = "429 Too Many Requests"
    SERVER_ERROR = "500 Internal Server Error"
    HANG = "no answer until the client gives up"
    BLOCKED = "403 bot was blocked by the user"
    CHAT_NOT_FOUND = "400 chat not found"
    NOT_EDITABLE = "400 message can't be edited"
    # The connection drops: before the call is handled, or after (the message is sent
    # and kept, but the bot never hears so and will likely send it again).
    CONNECTION_RESET = "connection reset before the call is handled"
    RESPONSE_LOST = "handled, then the connection drops before the answer"


@dataclass
class Call:
    """One request the bot made, with its parameters as Telegram would read them."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    # The fault injected into this call, if any (see `fail` and `fail_at_random`).
    fault: Fault | None = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class SentMessage:
    """A message in a chat as the user sees it now (after any edits)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    edits: int = 0
    from_bot: bool = True

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def labels(self) -> list[str]:
        return [str(button["text"]) for button in self.buttons]

    def button(self, label: str) -> dict[str, Any]:
        for button in self.buttons:
            if button["text"] == label:
                return button
        raise LookupError(f"no button {label!r} on message {self.message_id}: {self.labels}")


@dataclass
class _RandomFaults:
    rng: random.Random
    share: float
    kinds: dict[Fault, float]
    methods: frozenset[str] | None
    retry_after: int


@dataclass
class _FaultRule:
    method: str
    fault: Fault
    times: int
    chat_id: int | None
    retry_after: int


class _Signal:
    """Wakes every waiter when something changed; firing it needs no await, so the
    synchronous user-playing helpers can wake a long poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), at_most)


@dataclass
class _LimitWindow:
    sends: deque[float] = field(default_factory=deque)

    def count_since(self, since: float) -> int:
        while self.sends and self.sends[0] < since:
            self.sends.popleft()
        return len(self.sends)


class TelegramTestServer:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = BOT_USERNAME,
        enforce_limits: bool = False,
        port: int = 0,
    ) -> None:
        self.token = token
        # 0: any free port. A given one brings a server back where a stopped one was.
        self.port = port
        self.bot_id = int(token.partition(":")[0])
        self.username = username
        self.enforce_limits = enforce_limits
        self.calls: list[Call] = []
        # 429s answered because a limit was exceeded (not the injected ones).
        self.rate_limited = 0
        self.webhook_url = ""
        self.webhook_secret = ""
        # The highest offset the bot confirmed with getUpdates.
        self.confirmed_offset = 0
        # Each queued update with the number it is confirmed by: its update_id, or for
        # a raw one without a usable update_id, a number of the server's own.
        self._updates: list[tuple[int, Any]] = []
        self._update_ids = itertools.count(700_001)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._chats: dict[int, list[SentMessage]] = {}
        self._blocked: set[int] = set()
        self._faults: list[_FaultRule] = []
        self._random_faults: _RandomFaults | None = None
        self.faults_injected: dict[Fault, int] = {}
        self._per_chat: dict[int, _LimitWindow] = {}
        self._overall = _LimitWindow()
        self._changed = _Signal()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        # Release long polls and hung requests first, so shutdown does not wait on them.
        self._closing.set()
        self._changed.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramTestServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- playing users -------------------------------------------------------------

    def queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue any update body (`{"message": {...}}`); the server adds update_id."""
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append((update["update_id"], update))
        self._changed.fire()
        return update

    def next_update_id(self) -> int:
        """An update_id in sequence, for a raw update (`queue_raw`)."""
        return next(self._update_ids)

    def queue_raw(self, update: Any) -> Any:
        """Queue any JSON value exactly as given, as one element of a getUpdates page:
        nothing is checked or added, so it may be malformed the way a real update
        once was (`{"update_id": server.next_update_id(), "message": {...}}`)."""
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            update_id = next(self._update_ids)
        self._updates.append((update_id, update))
        self._changed.fire()
        return update

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Mei",
        last_name: str = "Lin",
        reply_to: SentMessage | None = None,
    ) -> dict[str, Any]:
        """A person writes `text` to the bot in their private chat (as a reply to one
        of the bot's messages, if given)."""
        message = self._user_message(user_id, user_id, first_name, last_name)
        message["text"] = text
        if reply_to is not None:
            message["reply_to_message"] = self._message_dict(reply_to)
        return self.queue_update({"message": message})

    def send_start(
        self, user_id: int, code: str = "", *, first_name: str = "Mei"
    ) -> dict[str, Any]:
        """A person opens a deep link `t.me/<bot>?start=<code>`."""
        text = f"/start {code}" if code else "/start"
        message = self._user_message(user_id, user_id, first_name, "")
        message["text"] = text
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
        return self.queue_update({"message": message})

    def send_media(
        self, user_id: int, kind: str, *, caption: str = "", first_name: str = "Mei"
    ) -> dict[str, Any]:
        """A person sends a voice note, sticker, photo, video, video_note, audio,
        document or location."""
        message = self._user_message(user_id, user_id, first_name, "")
        message.update(_media(kind))
        if caption:
            message["caption"] = caption
        return self.queue_update({"message": message})

    def send_group_text(
        self, chat_id: int, user_id: int, text: str, *, first_name: str = "Wang"
    ) -> dict[str, Any]:
        """Someone writes in a group the bot is in (`chat_id` is negative)."""
        message = self._user_message(chat_id, user_id, first_name, "")
        message["text"] = text
        return self.queue_update({"message": message})

    def press(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None) -> str:
        """A person taps a callback button with `data` on a message; returns the
        callback query id the bot must answer."""
        presser = user_id if user_id is not None else chat_id
        query_id = f"cb{next(self._callback_ids)}"
        message = self._message_dict(self.message(chat_id, message_id))
        self.queue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": _user(presser, "Mei", ""),
                    "message": message,
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                }
            }
        )
        return query_id

    def press_button(self, chat_id: int, label: str, *, user_id: int | None = None) -> str:
        """Tap the button labelled `label` on the newest message in the chat showing it."""
        for sent in reversed(self._chats.get(chat_id, [])):
            if label in sent.labels:
                data = str(sent.button(label)["callback_data"])
                return self.press(chat_id, sent.message_id, data, user_id=user_id)
        raise LookupError(f"no message in chat {chat_id} shows a button {label!r}")

    def block_bot(self, user_id: int) -> dict[str, Any]:
        """A person blocks the bot: a my_chat_member "kicked" update, and from now on
        sends to them answer 403 like Telegram."""
        self._blocked.add(user_id)
        bot = self._bot_user()
        return self.queue_update(
            {
                "my_chat_member": {
                    "chat": _chat(user_id, "Mei"),
                    "from": _user(user_id, "Mei", ""),
                    "date": int(time.time()),
                    "old_chat_member": {"user": bot, "status": "member"},
                    "new_chat_member": {"user": bot, "status": "kicked", "until_date": 0},
                }
            }
        )

    def unblock_bot(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    # --- reading back --------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Messages the bot sent to a chat, oldest first, as they look now."""
        return [m for m in self._chats.get(chat_id, []) if m.from_bot]

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        for sent in self._chats.get(chat_id, []):
            if sent.message_id == message_id:
                return sent
        raise LookupError(f"no message {message_id} in chat {chat_id}")

    def last_message(self, chat_id: int) -> SentMessage:
        sent = self.messages(chat_id)
        if not sent:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return sent[-1]

    @property
    def pending_updates(self) -> list[Any]:
        """Updates the bot has not confirmed yet."""
        return [u for n, u in self._updates if n >= self.confirmed_offset]

    async def wait_for_call(self, method: str, count: int = 1, *, within: float = 5.0) -> Call:
        """Wait (at most `within` seconds) until the bot made `count` calls of `method`."""
        deadline = time.monotonic() + within
        while len(self.calls_of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the bot made {len(self.calls_of(method))} {method} calls")
            await self._changed.wait(remaining)
        return self.calls_of(method)[count - 1]

    # --- faults --------------------------------------------------------------------

    def fail(
        self,
        method: str,
        fault: Fault,
        *,
        times: int = 1,
        chat_id: int | None = None,
        retry_after: int = 7,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) fail with `fault`."""
        self._faults.append(_FaultRule(method.lower(), fault, times, chat_id, retry_after))

    # --- faults at random (chaos runs) ---------------------------------------------

    def fail_at_random(
        self,
        share: float,
        kinds: dict[Fault, float],
        *,
        seed: int = 0,
        methods: frozenset[str] | None = None,
        retry_after: int = 1,
    ) -> None:
        """From now on a `share` of calls (of `methods`, lowercase; None: all) fail, the
        fault drawn from `kinds` by weight, reproducibly for a `seed`. 0 stops it."""
        total = sum(kinds.values())
        if share <= 0 or total <= 0:
            self._random_faults = None
            return
        self._random_faults = _RandomFaults(random.Random(seed), share, kinds, methods, retry_after)

    def _take_fault_here(self, method: str, chat_id: Any) -> Fault | None:
        """A fault answered here rather than in `_answer`: a dropped connection (queued
        with `fail`), or one drawn by `fail_at_random`."""
        for rule in self._faults:
            if rule.method == method and rule.chat_id in (None, chat_id):
                if rule.fault not in (Fault.CONNECTION_RESET, Fault.RESPONSE_LOST):
                    return None  # the first matching rule is answered by `_answer`
                rule.times -= 1
                if rule.times <= 0:
                    self._faults.remove(rule)
                return rule.fault
        chaos = self._random_faults
        if chaos is None or (chaos.methods is not None and method not in chaos.methods):
            return None
        if chaos.rng.random() >= chaos.share:
            return None
        kinds = list(chaos.kinds)
        fault = chaos.rng.choices(kinds, weights=[chaos.kinds[k] for k in kinds])[0]
        self.faults_injected[fault] = self.faults_injected.get(fault, 0) + 1
        return fault

    async def _answer_fault(self, request: web.Request, call: Call, fault: Fault) -> web.Response:
        call.fault = fault
        if fault is Fault.CONNECTION_RESET:
            call.status = 0
            _drop_connection(request)
            self._changed.fire()
            return web.Response(status=500)  # never written: the connection is gone
        retry_after = self._random_faults.retry_after if self._random_faults else 7
        response = await self._fault_response(_FaultRule(call.method, fault, 1, None, retry_after))
        call.status = response.status
        self._changed.fire()
        return response

    # --- webhook -------------------------------------------------------------------

    async def push_webhook(
        self,
        update: Any,
        *,
        url: str | None = None,
        secret: str | None = None,
    ) -> int:
        """POST an update to the webhook (the one the bot set, unless `url` is given)
        with the secret header (the bot's own, unless `secret` is given; "" sends none).
        `update` is sent as JSON; bytes are sent exactly as given (a raw body).
        Returns the HTTP status the bot answered."""
        target = url or self.webhook_url
        if not target:
            raise LookupError("no webhook is set")
        header = self.webhook_secret if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": header} if header else {}
        headers["Content-Type"] = "application/json"
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=body, headers=headers) as response,
        ):
            return response.status

    # --- the HTTP side -------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        call = Call(method=method, params=params, at=time.monotonic())
        self.calls.append(call)
        self._changed.fire()
        fault = self._take_fault_here(method.lower(), params.get("chat_id"))
        if fault is not None and fault is not Fault.RESPONSE_LOST:
            return await self._answer_fault(request, call, fault)
        response = await self._answer(
            request.match_info["token"], method.lower(), params, take_fault=fault is None
        )
        call.status = response.status
        self._changed.fire()
        if fault is Fault.RESPONSE_LOST:
            call.fault = fault
            _drop_connection(request)
        return response

    async def _answer(
        self, token: str, method: str, params: dict[str, Any], *, take_fault: bool = True
    ) -> web.Response:
        if token != self.token:
            return _error(401, "Unauthorized")
        rule = self._take_fault(method, params.get("chat_id")) if take_fault else None
        if rule is not None:
            return await self._fault_response(rule)
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self._blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if (
            method in _SENDING_METHODS
            and isinstance(chat_id, int)
            and (wait := self._limit_wait(chat_id)) is not None
        ):
            self.rate_limited += 1
            return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        match method:
            case "getme":
                return _ok(self._bot_user())
            case "getupdates":
                return await self._get_updates(params)
            case "sendmessage":
                return self._send(chat_id, str(params.get("text", "")), params)
            case "sendphoto":
                return self._send(chat_id, str(params.get("caption", "")), params)
            case "editmessagetext":
                return self._edit(params, text=str(params.get("text", "")))
            case "editmessagereplymarkup":
                return self._edit(params, text=None)
            case "answercallbackquery":
                return _ok(True)
            case "setwebhook":
                self.webhook_url = str(params.get("url", ""))
                self.webhook_secret = str(params.get("secret_token", ""))
                return _ok(True)
            case "deletewebhook":
                self.webhook_url = self.webhook_secret = ""
                return _ok(True)
        return _error(404, "Not Found: method not found")

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        self.confirmed_offset = max(self.confirmed_offset, offset)
        # Like Telegram, an offset confirms (forgets) every update before it.
        self._updates = [(n, u) for n, u in self._updates if n >= self.confirmed_offset]
        limit = int(params.get("limit", 100))
        allowed = params.get("allowed_updates") or []
        deadline = time.monotonic() + float(params.get("timeout", 0))

        def ready() -> list[Any]:
            return [u for _, u in self._updates if _allowed(u, allowed)][:limit]

        while not (batch := ready()) and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._changed.wait(remaining)
        return _ok(batch)

    def _send(self, chat_id: Any, text: str, params: dict[str, Any]) -> web.Response:
        if not isinstance(chat_id, int):
            return _error(400, "Bad Request: chat not found")
        if not text.strip() and "photo" not in params:
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        sent = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            text=text,
            reply_markup=_markup(params.get("reply_markup")),
        )
        self._chats.setdefault(chat_id, []).append(sent)
        return _ok(self._message_dict(sent))

    def _edit(self, params: dict[str, Any], *, text: str | None) -> web.Response:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        if not isinstance(chat_id, int) or not isinstance(message_id, int):
            return _error(400, "Bad Request: message to edit not found")
        try:
            sent = self.message(chat_id, message_id)
        except LookupError:
            return _error(400, "Bad Request: message to edit not found")
        markup = _markup(params.get("reply_markup"))
        if (text is None or text == sent.text) and markup == sent.reply_markup:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        if text is not None:
            sent.text = text
        sent.reply_markup = markup
        sent.edits += 1
        return _ok(self._message_dict(sent))

    # --- bookkeeping ---------------------------------------------------------------

    def _take_fault(self, method: str, chat_id: Any) -> _FaultRule | None:
        for rule in self._faults:
            if rule.method == method and rule.chat_id in (None, chat_id):
                rule.times -= 1
                if rule.times <= 0:
                    self._faults.remove(rule)
                return rule
        return None

    async def _fault_response(self, rule: _FaultRule) -> web.Response:
        match rule.fault:
            case Fault.RETRY_AFTER:
                return _error(
                    429,
                    f"Too Many Requests: retry after {rule.retry_after}",
                    {"retry_after": rule.retry_after},
                )
            case Fault.SERVER_ERROR:
                return _error(500, "Internal Server Error")
            case Fault.HANG:
                # Held until the server closes; the client's own timeout fires first.
                await self._closing.wait()
                return _error(502, "Bad Gateway")
            case Fault.BLOCKED:
                return _error(403, "Forbidden: bot was blocked by the user")
            case Fault.CHAT_NOT_FOUND:
                return _error(400, "Bad Request: chat not found")
            case Fault.NOT_EDITABLE:
                return _error(400, "Bad Request: message can't be edited")
            case Fault.CONNECTION_RESET | Fault.RESPONSE_LOST:
                raise AssertionError("a dropped connection is answered by _handle")

    def _limit_wait(self, chat_id: int) -> int | None:
        """Seconds to wait if this send breaks one of Telegram's limits, else None
        (and the send is counted)."""
        if not self.enforce_limits:
            return None
        now = time.monotonic()
        window = self._per_chat.setdefault(chat_id, _LimitWindow())
        if chat_id < 0:
            if window.count_since(now - 60.0) >= 20:
                return max(1, math.ceil(window.sends[0] + 60.0 - now))
        elif window.count_since(now - 1.0) >= 1:
            return 1
        if self._overall.count_since(now - 1.0) >= 30:
            return 1
        window.sends.append(now)
        self._overall.sends.append(now)
        return None

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "carecheck",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _user_message(
        self, chat_id: int, user_id: int, first_name: str, last_name: str
    ) -> dict[str, Any]:
        message_id = self._next_message_id(chat_id)
        self._chats.setdefault(chat_id, []).append(
            SentMessage(chat_id=chat_id, message_id=message_id, text="", from_bot=False)
        )
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id, first_name, last_name),
            "from": _user(user_id, first_name, last_name),
        }

    def _message_dict(self, sent: SentMessage) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": _chat(sent.chat_id, "Mei"),
            "from": self._bot_user(),
            "text": sent.text,
        }
        if sent.reply_markup and sent.reply_markup.get("inline_keyboard"):
            message["reply_markup"] = sent.reply_markup
        return message


# --- helpers ---------------------------------------------------------------------


async def _read_params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any]
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        raw = dict(body)
    else:
        form = await request.post()
        raw = {key: _form_value(value) for key, value in form.items()}
    return {key: _parse(key, value) for key, value in raw.items()}


def _form_value(value: str | bytes | bytearray | web.FileField) -> str:
    match value:
        case str():
            return value
        case web.FileField():
            # An uploaded file (sendPhoto with bytes): its name is all a test needs.
            return f"<file {value.filename}>"
    return bytes(value).decode("utf-8", "replace")


def _parse(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        return json.loads(value)
    if key in _INT_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


def _markup(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _allowed(update: Any, allowed: list[str]) -> bool:
    # Something that is not even an object is served as it is, like any raw update.
    if not isinstance(update, dict):
        return True
    return not allowed or any(kind in update for kind in allowed)


def _drop_connection(request: web.Request) -> None:
    # The answer the handler returns next is then never written: the client sees the
    # server disconnect, as when a proxy or the network loses a connection.
    if request.transport is not None:
        request.transport.close()


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _user(user_id: int, first_name: str, last_name: str) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    return user


def _chat(chat_id: int, first_name: str, last_name: str = "") -> dict[str, Any]:
    if chat_id > 0:
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        return chat
    # Supergroup ids look like -100xxxxxxxxxx; basic groups are small negatives.
    kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
    return {"id": chat_id, "type": kind, "title": f"group {chat_id}"}


def _file(kind: str) -> dict[str, Any]:
    return {"file_id": f"{kind}-file", "file_unique_id": f"{kind}-unique", "file_size": 1024}


def _media(kind: str) -> dict[str, Any]:
    match kind:
        case "voice" | "audio":
            return {kind: {**_file(kind), "duration": 4}}
        case "sticker":
            sticker = {"type": "regular", "width": 512, "height": 512}
            flags = {"is_animated": False, "is_video": False, "emoji": "👍"}
            return {"sticker": {**_file(kind), **sticker, **flags}}
        case "photo":
            return {"photo": [{**_file(kind), "width": 320, "height": 240}]}
        case "video":
            return {"video": {**_file(kind), "width": 320, "height": 240, "duration": 3}}
        case "video_note":
            return {"video_note": {**_file(kind), "length": 240, "duration": 3}}
        case "document":
            return {"document": {**_file(kind), "file_name": "note.pdf"}}
        case "location":
            return {"location": {"latitude": 31.2304, "longitude": 121.4737}}
    raise ValueError(f"unknown media kind {kind!r}")
