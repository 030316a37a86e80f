"""Invitation links: Telegram deep links need the bot's username, from getMe."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError

from adapters.base import AdapterStartError
from adapters.telegram.platform import deep_link

__all__ = ["bot_username", "deep_link"]


async def bot_username(token: str, api_base: str | None = None) -> str:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else None
    try:
        bot = Bot(token, session=session) if session else Bot(token)
    except Exception:
        raise AdapterStartError("the Telegram token is malformed (expected digits:text)") from None
    try:
        me = await bot.get_me()
    except (TelegramAPIError, ClientError, TimeoutError, OSError) as exc:
        raise AdapterStartError(f"Telegram getMe failed: {type(exc).__name__}") from None
    finally:
        await bot.session.close()
    return me.username or ""
