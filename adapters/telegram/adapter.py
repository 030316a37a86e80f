"""The Telegram adapter: aiogram's Bot for the HTTP calls, our own receive loop.

We do not use aiogram's Dispatcher: its polling confirms an update (moves the offset)
before the handler has finished. Here every update of a batch is stored through the
gateway's inbox first, and only then is the next offset saved.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramUnauthorizedError
from aiogram.types import InlineKeyboardMarkup, Update
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp import web
from pydantic import ValidationError

from adapters.base import AdapterContext, AdapterStartError, DeliveryError, Rate, RateLimits
from adapters.telegram.convert import (
    ALLOWED_UPDATES,
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
from gateway.domain.commands import Delivery
from gateway.domain.ids import ChatRef

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram.offset"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's own rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# How long stop() lets a batch that is being stored finish before cancelling it.
_STOP_GRACE = 5.0


class TelegramAdapter:
    platform = "telegram"
    # Telegram's documented limits: about 30 messages/s per bot, 1/s per chat and
    # 20/min per group. A few sends in flight keep a round of prompts moving while one
    # slow request waits.
    limits = RateLimits(
        overall=Rate(30, 1.0),
        per_chat=Rate(1, 1.0),
        per_group=Rate(20, 60.0),
        max_in_flight=4,
    )

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
        self._scrub = TokenScrubber(token)
        # Known after start(): the bot's @username (deep links) and numeric id.
        self.username = ""
        self.bot_id = 0
        self._bot: Bot | None = None
        self._context: AdapterContext | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        # True while a fetched batch is being stored; stop() then waits instead of
        # cancelling, so the inbox is never interrupted half-way through an update.
        self._storing = False

    # --- lifecycle ---------------------------------------------------------------

    async def start(self, context: AdapterContext) -> None:
        bot = self._make_bot()
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
            await bot.session.close()
            raise AdapterStartError(
                "Telegram refused the bot token (401 Unauthorized); check the token"
            ) from None
        except Exception as exc:
            await bot.session.close()
            error = delivery_error(exc, self._scrub)
            if error is None:
                raise
            raise AdapterStartError(f"cannot start the Telegram bot: {error}") from None
        self.username = me.username or ""
        self.bot_id = me.id
        self._context = context
        self._stopping = False
        if self._webhook_url is None:
            offset = await self._stored_offset(context)
            self._poller = asyncio.create_task(self._poll(bot, context, offset))
        log.info("Telegram bot @%s started (%s)", self.username, self._mode)

    async def stop(self) -> None:
        self._stopping = True
        poller, self._poller = self._poller, None
        if poller is not None:
            if not self._storing:
                poller.cancel()
            done, _ = await asyncio.wait({poller}, timeout=_STOP_GRACE)
            if not done:
                poller.cancel()
                await asyncio.wait({poller})
            if not poller.cancelled() and (exc := poller.exception()) is not None:
                log.error("Telegram polling ended with %s", describe(exc, self._scrub))
        self._context = None
        if self._bot is not None:
            await self._bot.session.close()

    def is_group(self, chat: ChatRef) -> bool:
        return is_group_chat(chat)

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
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=self._polling_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                    request_timeout=request_timeout,
                )
            except Exception as exc:
                log.warning(
                    "Telegram getUpdates failed (%s); retrying in %.1fs",
                    describe(exc, self._scrub),
                    delay,
                )
            else:
                self._storing = True
                try:
                    offset = await self._store_batch(context, updates, offset)
                    delay = self._backoff_first
                    continue
                except Exception:
                    # The offset did not move, so the same batch comes again; the
                    # inbox drops the updates it already stored.
                    log.exception("storing Telegram updates failed; retrying in %.1fs", delay)
                finally:
                    self._storing = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_cap)

    async def _store_batch(
        self, context: AdapterContext, updates: list[Update], offset: int | None
    ) -> int | None:
        for update in updates:
            await self._store(context, update)
            offset = update.update_id + 1
        if updates:
            await context.state.set(OFFSET_KEY, str(offset))
        return offset

    async def _store(self, context: AdapterContext, update: Update) -> None:
        try:
            event = event_from_update(update)
        except Exception:
            # One malformed update must not stop every later one from arriving.
            log.exception("skipping Telegram update %d that could not be read", update.update_id)
            return
        if event is not None:
            await context.inbox.receive(event)

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
        if context is None or bot is None:
            # Telegram retries later; the update is not lost.
            return web.Response(status=503, text="not started")
        try:
            update = Update.model_validate(await request.json(), context={"bot": bot})
        except (ValueError, ValidationError):
            return web.Response(status=400, text="not a Telegram update")
        try:
            await self._store(context, update)
        except Exception:
            log.exception("storing Telegram update %d failed", update.update_id)
            # A non-200 answer makes Telegram deliver the update again.
            return web.Response(status=500, text="not stored")
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
