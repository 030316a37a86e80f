"""Telegram, through aiogram 3's Bot over the HTTP Bot API.

The adapter is imported on first use: `adapters.telegram.platform` must stay cheap to
import, and aiogram takes seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.telegram.adapter import OFFSET_KEY, TelegramAdapter

__all__ = ["OFFSET_KEY", "TelegramAdapter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from adapters.telegram import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
