"""Translate aiogram's exceptions into DeliveryError, once, at the edge.

Nothing above the adapter sees an HTTP status: it only learns whether retrying can
help (`permanent`), how long Telegram asked us to wait, and whether that wait holds
for the whole bot. Messages never carry the bot token.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from adapters.base import DeliveryError

# How long to hold every send when Telegram no longer accepts the token: nothing will
# get through until an operator fixes it, but the messages must not be dropped either.
UNAUTHORIZED_PAUSE = 60.0

# Bad-request descriptions that mean "this message cannot be edited; send a new one".
_NOT_EDITABLE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
)

_MAX_DESCRIPTION = 300


class TokenScrubber:
    """Removes the bot token (and its secret half) from any text meant for logs."""

    def __init__(self, token: str) -> None:
        secret = token.partition(":")[2]
        self._secrets = [s for s in (token, secret) if s]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<token>")
        return text


def describe(exc: BaseException, scrub: TokenScrubber) -> str:
    """One line for logs and DeliveryError: the aiogram text without its doc link."""
    if isinstance(exc, TelegramAPIError):
        # aiogram appends "(background on this error at: <url>)" on a second line.
        text = f"{exc.label} - {exc.message}"
    elif isinstance(exc, asyncio.TimeoutError):
        text = "request timed out"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = scrub(" ".join(text.split()))
    # A decode error carries the whole response body; a line is enough.
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def is_not_modified(exc: TelegramBadRequest) -> bool:
    return "message is not modified" in exc.message.lower()


def is_not_editable(exc: TelegramBadRequest) -> bool:
    description = exc.message.lower()
    return any(marker in description for marker in _NOT_EDITABLE)


def delivery_error(exc: BaseException, scrub: TokenScrubber) -> DeliveryError | None:
    """The DeliveryError for an exception raised while talking to Telegram, or None
    when it is not a Telegram or network failure (a bug: let it propagate)."""
    message = describe(exc, scrub)
    match exc:
        case TelegramRetryAfter():
            # Telegram's flood control is counted per bot, so the outbox pauses them all.
            return DeliveryError(
                message, permanent=False, retry_after=float(exc.retry_after), whole_platform=True
            )
        case TelegramUnauthorizedError():
            return DeliveryError(
                message, permanent=False, retry_after=UNAUTHORIZED_PAUSE, whole_platform=True
            )
        case TelegramMigrateToChat():
            # The group became a supergroup with a new id; the old id is gone for good.
            return DeliveryError(message, permanent=True)
        case TelegramEntityTooLarge():
            # A subclass of TelegramNetworkError, but resending the same thing cannot help.
            return DeliveryError(message, permanent=True)
        case TelegramServerError() | TelegramNetworkError() | TelegramConflictError():
            return DeliveryError(message, permanent=False)
        case TelegramForbiddenError() | TelegramBadRequest() | TelegramNotFound():
            # Blocked, deactivated, kicked, chat not found, malformed: retrying is useless.
            return DeliveryError(message, permanent=True)
        case ClientDecodeError():
            # A proxy's HTML error page instead of JSON: the server side is unwell.
            return DeliveryError(message, permanent=False)
        case TelegramAPIError():
            return DeliveryError(message, permanent=True)
        case asyncio.TimeoutError() | aiohttp.ClientError() | ConnectionError():
            return DeliveryError(message, permanent=False)
        case AiogramError():
            return DeliveryError(message, permanent=True)
    return None
