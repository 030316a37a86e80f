"""Telegram, through aiogram 3's Bot over the HTTP Bot API."""

from adapters.telegram.adapter import OFFSET_KEY, TelegramAdapter

__all__ = ["OFFSET_KEY", "TelegramAdapter"]
