"""The Telegram adapter: aiogram's Bot for the HTTP calls, our own receive loop.

We do not use aiogram's Dispatcher: its polling confirms an update (moves the offset)
before the handler has finished. Here every update of a batch is stored through the
gateway's inbox first, and only then is the next offset saved.

Pages are fetched as raw JSON and read update by update: aiogram's GetUpdates
validates a page as a whole, so one malformed update would fail the page, and the
same offset would be asked for forever. An update that cannot be read is set aside as
a dead letter instead, and the offset moves past it.

Start-up tells apart what an operator must fix (a refused token, a refused webhook),
which stops the gateway, from a Bot API that cannot be reached right now, which is
retried in the background with backoff while the rest of the gateway runs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramUnauthorizedError
from aiogram.methods.base import TelegramMethod
from aiogram.types import InlineKeyboardMarkup, Update
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp import web
from pydantic import ValidationError

from adapters.base import (
    AdapterContext,
    AdapterStartError,
    DeadLetterSink,
    DeliveryError,
    Rate,
    RateLimits,
    ReceiveHealth,
)
from adapters.telegram.convert import (
    ALLOWED_UPDATES,
    EVENT_ID_PREFIX,
    PLATFORM,
    CallbackDataTooLong,
    callback_answer_text,
    chat_id_of,
    event_from_update,
    is_group_chat,
    keyboard,
    render_text,
    split_text,
)
from adapters.telegram.errors import (
    TokenScrubber,
    delivery_error,
    describe,
    is_not_editable,
    is_not_modified,
)
from core.commands import Delivery
from core.ids import ChatRef

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram.offset"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's own rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# How long stop() lets a batch that is being stored finish before cancelling it.
_STOP_GRACE = 5.0


class _RawGetUpdates(TelegramMethod[list[Any]]):
    """getUpdates answering each update as plain JSON, to be read one by one."""

    __returning__ = list[Any]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class _Unreachable(Exception):
    """The Bot API could not be reached or was unwell (network, timeout, 5xx, 429)."""


class TelegramAdapter(ReceiveHealth):
    platform = PLATFORM
    # Telegram's documented limits: about 30 messages/s per bot, 1/s per chat and
    # 20/min per group. A few sends in flight keep a round of prompts moving while one
    # slow request waits.
    limits = RateLimits(
        overall=Rate(30, 1.0),
        per_chat=Rate(1, 1.0),
        per_group=Rate(20, 60.0),
        max_in_flight=4,
    )
    every_instance = False
    resends_deduplicated = False

    def __init__(
        self,
        token: str,
        api_base: str | None = None,
        *,
        polling_timeout: int = 25,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        request_timeout: float = 30.0,
        poll_backoff: tuple[float, float] = (1.0, 60.0),
        dead_letters: DeadLetterSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Without a secret anyone who finds the URL could post fake check-in answers.
        if webhook_url is not None and not _SECRET_PATTERN.fullmatch(webhook_secret or ""):
            raise ValueError(
                "a Telegram webhook needs webhook_secret: 1-256 characters of "
                "A-Z, a-z, 0-9, _ and -"
            )
        self._token = token
        self._api_base = api_base
        self._polling_timeout = polling_timeout
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret or ""
        self._request_timeout = request_timeout
        self._backoff_first, self._backoff_cap = poll_backoff
        self._dead_letters = dead_letters
        self._monotonic = monotonic
        self._scrub = TokenScrubber(token)
        # Known once connected: the bot's @username (deep links) and numeric id.
        self.username = ""
        self.bot_id = 0
        self._bot: Bot | None = None
        self._context: AdapterContext | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = False
        # True while a fetched batch is being stored; stop() then waits instead of
        # cancelling, so the inbox is never interrupted half-way through an update.
        self._storing = False

    # --- lifecycle ---------------------------------------------------------------

    async def start(self, context: AdapterContext) -> None:
        """Connect, then receive in the background. Raises AdapterStartError only for
        what an operator must fix; an unreachable Bot API is retried in the background."""
        bot = self._make_bot()
        self._stopping = False
        self._connected = False
        try:
            await self._connect(bot)
        except AdapterStartError:
            await bot.session.close()
            raise
        except _Unreachable as exc:
            self._receive_failed(str(exc))
            log.warning(
                "cannot reach Telegram (%s); retrying in the background, from %.0fs up to "
                "every %.0fs",
                exc,
                self._backoff_first,
                self._backoff_cap,
            )
        self._context = context
        if self._connected and self._webhook_url is not None:
            return  # Telegram pushes to the webhook route; there is no loop to run
        self._runner = asyncio.create_task(self._run(bot, context), name="telegram")

    async def stop(self) -> None:
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None:
            if not self._storing:
                runner.cancel()
            done, _ = await asyncio.wait({runner}, timeout=_STOP_GRACE)
            if not done:
                runner.cancel()
                await asyncio.wait({runner})
            if not runner.cancelled() and (exc := runner.exception()) is not None:
                log.error("Telegram polling ended with %s", describe(exc, self._scrub))
        self._context = None
        self._connected = False
        if self._bot is not None:
            await self._bot.session.close()

    def is_group(self, chat: ChatRef) -> bool:
        return is_group_chat(chat)

    def receive_problem(self, stale_after: float) -> str | None:
        if self._webhook_url is not None and self._connected:
            # Telegram pushes to us: a quiet webhook only means nobody wrote.
            return None
        return super().receive_problem(stale_after)

    @property
    def _mode(self) -> str:
        return "webhook" if self._webhook_url is not None else "long polling"

    def _make_bot(self) -> Bot:
        # One Bot and one HTTP session for the adapter's life; aiogram reopens the
        # session lazily if it was closed by an earlier stop().
        if self._bot is None:
            try:
                validate_token(self._token)
            except TokenValidationError:
                raise AdapterStartError(
                    "the Telegram bot token is malformed (expected <digits>:<secret>)"
                ) from None
            api = TelegramAPIServer.from_base(self._api_base) if self._api_base else None
            session = (
                AiohttpSession(api=api, timeout=self._request_timeout)
                if api is not None
                else AiohttpSession(timeout=self._request_timeout)
            )
            self._bot = Bot(self._token, session=session)
        return self._bot

    async def _connect(self, bot: Bot) -> None:
        """getMe and the webhook set-up. AdapterStartError: an operator must fix
        something; _Unreachable: it may work later."""
        try:
            me = await bot.get_me()
            if self._webhook_url is not None:
                await bot.set_webhook(
                    self._webhook_url,
                    secret_token=self._webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                # A webhook left set by an earlier run makes getUpdates fail with 409.
                await bot.delete_webhook(drop_pending_updates=False)
        except TelegramUnauthorizedError:
            raise AdapterStartError(
                "Telegram refused the bot token (401 Unauthorized); check the token"
            ) from None
        except Exception as exc:
            error = delivery_error(exc, self._scrub)
            if error is None:
                raise
            if error.permanent:  # 404 (wrong API base or token), 400 (a refused webhook)
                raise AdapterStartError(f"cannot start the Telegram bot: {error}") from None
            raise _Unreachable(str(error)) from None
        self.username = me.username or ""
        self.bot_id = me.id
        self._connected = True
        self._receive_ok()
        log.info("Telegram bot @%s connected (%s)", self.username, self._mode)

    async def _run(self, bot: Bot, context: AdapterContext) -> None:
        delay = self._backoff_first
        while not self._connected and not self._stopping:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_cap)
            try:
                await self._connect(bot)
            except AdapterStartError as exc:
                # Found only now (Telegram was unreachable at start), or the token was
                # revoked since: nothing gets through until an operator acts, and
                # /healthz says so. Trying on costs one request a minute.
                self._receive_failed(str(exc))
                log.error("%s; trying again in %.0fs", exc, delay)
            except _Unreachable as exc:
                self._receive_failed(str(exc))
                log.warning("cannot reach Telegram (%s); trying again in %.0fs", exc, delay)
        if self._webhook_url is None and not self._stopping:
            await self._poll(bot, context, await self._stored_offset(context))

    # --- receiving: long polling -------------------------------------------------

    async def _stored_offset(self, context: AdapterContext) -> int | None:
        raw = await context.state.get(OFFSET_KEY)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            log.warning("ignoring unreadable stored Telegram offset %r", raw)
            return None

    async def _poll(self, bot: Bot, context: AdapterContext, offset: int | None) -> None:
        delay = self._backoff_first
        # The HTTP request must outlive the long poll it carries.
        request_timeout = int(self._polling_timeout + self._request_timeout) + 1
        while not self._stopping:
            try:
                page = await bot(
                    _RawGetUpdates(
                        offset=offset,
                        timeout=self._polling_timeout,
                        allowed_updates=list(ALLOWED_UPDATES),
                    ),
                    request_timeout=request_timeout,
                )
            except Exception as exc:
                error = describe(exc, self._scrub)
                self._receive_failed(f"getUpdates failed: {error}")
                log.warning("Telegram getUpdates failed (%s); retrying in %.1fs", error, delay)
            else:
                self._storing = True
                try:
                    offset = await self._store_page(bot, context, page, offset)
                    self._receive_ok()
                    delay = self._backoff_first
                    continue
                except Exception as exc:
                    # The offset did not move, so the same batch comes again; the
                    # inbox drops the updates it already stored.
                    self._receive_failed(f"storing updates failed: {type(exc).__name__}")
                    log.exception("storing Telegram updates failed; retrying in %.1fs", delay)
                finally:
                    self._storing = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_cap)

    async def _store_page(
        self, bot: Bot, context: AdapterContext, page: list[Any], offset: int | None
    ) -> int | None:
        ids = [_update_id(raw) for raw in page]
        if page and all(update_id is None for update_id in ids):
            # Nothing to move the offset past: setting these aside would only set
            # them aside again on every poll.
            raise ValueError("getUpdates answered updates without an update_id")
        start = offset
        # Handed to the inbox together, in the page's order: they share one commit
        # instead of one each. If any fails, the offset stays and the page comes again
        # (what was stored is then dropped as a duplicate).
        await asyncio.gather(
            *(
                self._store_raw(bot, context, raw, update_id)
                for raw, update_id in zip(page, ids, strict=True)
            )
        )
        for update_id in ids:
            if update_id is not None:
                offset = max(offset or 0, update_id + 1)
        if offset != start:
            await context.state.set(OFFSET_KEY, str(offset))
        return offset

    async def _store_raw(
        self, bot: Bot, context: AdapterContext, raw: Any, update_id: int | None
    ) -> None:
        """Read one update and hand it to the inbox, or set it aside as a dead letter."""
        try:
            update = Update.model_validate(raw, context={"bot": bot})
        except ValidationError as exc:
            await self._dead_letter(update_id, raw, f"not a valid update: {_errors(exc)}")
            return
        await self._store(context, update, raw)

    async def _store(self, context: AdapterContext, update: Update, raw: Any) -> None:
        try:
            event = event_from_update(update)
        except Exception as exc:
            await self._dead_letter(
                update.update_id, raw, f"could not be converted: {type(exc).__name__}: {exc}"
            )
            return
        if event is not None:
            await context.inbox.receive(event)

    async def _dead_letter(self, update_id: int | None, raw: Any, reason: str) -> None:
        ref = f"{EVENT_ID_PREFIX}{update_id}" if update_id is not None else ""
        reason = self._scrub(" ".join(reason.split()))
        # One malformed update must not stop every later one from arriving; it is
        # kept for an operator instead of being retried forever.
        log.warning(
            "Telegram update %s could not be read (%s); set aside as a dead letter",
            update_id if update_id is not None else "(no update_id)",
            reason,
        )
        if self._dead_letters is None:
            log.error("no dead-letter store: Telegram update %s is dropped", update_id)
            return
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
        await self._dead_letters.dead_letter(self.platform, ref, text, reason)

    # --- receiving: webhook ------------------------------------------------------

    @property
    def webhook_path(self) -> str:
        return urlsplit(self._webhook_url or "").path or "/"

    def routes(self) -> list[web.RouteDef]:
        """The webhook route for the gateway's aiohttp app (none in polling mode)."""
        if self._webhook_url is None:
            return []
        return [web.post(self.webhook_path, self._on_webhook)]

    async def _on_webhook(self, request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER)
        if secret is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(secret.encode(), self._webhook_secret.encode()):
            return web.Response(status=403, text="wrong secret token")
        context, bot = self._context, self._bot
        if context is None or bot is None or not self._connected:
            # Telegram retries later; the update is not lost.
            return web.Response(status=503, text="not started")
        body = await request.read()
        raw: Any
        try:
            raw = json.loads(body)
        except ValueError:
            raw = body.decode("utf-8", "replace")
        update_id = _update_id(raw)
        try:
            if isinstance(raw, str):
                await self._dead_letter(update_id, raw, "not JSON")
            else:
                await self._store_raw(bot, context, raw, update_id)
        except Exception:
            log.exception("storing Telegram update %s failed", update_id)
            # A non-200 answer makes Telegram deliver the update again.
            return web.Response(status=500, text="not stored")
        # Also for a dead letter: an error answer would make Telegram send it again
        # and again, holding up the updates behind it.
        return web.Response(status=200)

    # --- sending -----------------------------------------------------------------

    async def deliver(self, delivery: Delivery) -> str:
        bot = self._bot
        if bot is None or self._context is None:
            # Also after stop(): a send then would quietly reopen the HTTP session.
            raise DeliveryError("the Telegram adapter is not started", permanent=False)
        try:
            chat_id = chat_id_of(delivery.chat)
            markup = keyboard(delivery)
        except CallbackDataTooLong as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        try:
            if delivery.callback_id:
                await bot.answer_callback_query(
                    delivery.callback_id, text=callback_answer_text(delivery.text) or None
                )
                return ""
            return await self._send(bot, chat_id, delivery, markup)
        except Exception as exc:
            error = delivery_error(exc, self._scrub)
            if error is None:
                raise
            raise error from None

    async def _send(
        self, bot: Bot, chat_id: int, delivery: Delivery, markup: InlineKeyboardMarkup | None
    ) -> str:
        parts = split_text(render_text(delivery))
        message_id = ""
        for index, part in enumerate(parts):
            # Buttons belong under the end of the text, where the reader is.
            part_markup = markup if index == len(parts) - 1 else None
            if index == 0 and delivery.edit_of:
                message_id = await self._edit(bot, chat_id, delivery.edit_of, part, part_markup)
            else:
                sent = await bot.send_message(chat_id, part, reply_markup=part_markup)
                message_id = str(sent.message_id)
        return message_id

    async def _edit(
        self,
        bot: Bot,
        chat_id: int,
        edit_of: str,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> str:
        try:
            message_id = int(edit_of)
        except ValueError:
            message_id = 0
        if message_id > 0:
            try:
                await bot.edit_message_text(
                    text=text,
                    chat_id=chat_id,
                    message_id=message_id,
                    # An empty keyboard removes the old buttons, so a prompt that was
                    # answered cannot be answered twice.
                    reply_markup=markup or InlineKeyboardMarkup(inline_keyboard=[]),
                )
                return edit_of
            except TelegramBadRequest as exc:
                if is_not_modified(exc):
                    return edit_of
                if not is_not_editable(exc):
                    raise
                log.info("Telegram message %s cannot be edited; sending anew", edit_of)
        sent = await bot.send_message(chat_id, text, reply_markup=markup)
        return str(sent.message_id)


def _update_id(raw: Any) -> int | None:
    """The update_id of a raw update, if it has a usable one."""
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _errors(exc: ValidationError) -> str:
    """Where the update is malformed, without the values (they are people's messages)."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'update'}: {error['msg']}"
        for error in exc.errors()[:5]
    ]
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
