"""Matrix failures translated into `DeliveryError`, once, here at the edge.

matrix-nio answers a failed request with an `ErrorResponse` (errcode, message,
`retry_after_ms`, and the aiohttp response holding the HTTP status) and raises
aiohttp or timeout errors for a dropped connection (the client is configured with
`max_timeouts=0`, so it never retries on its own). Nothing above the adapter should
know any of that: it sees `permanent`, `retry_after` and `whole_platform`.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.base import DeliveryError

RATE_LIMITED = "M_LIMIT_EXCEEDED"
DUPLICATE_ANNOTATION = "M_DUPLICATE_ANNOTATION"
# Problems of the bot account rather than of one room: a later attempt can succeed
# (the operator renews the token, the server frees capacity), for every room at once.
ACCOUNT_PROBLEMS = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_RESOURCE_LIMIT_EXCEEDED"})
# What a dropped connection, a refused connect or a slow server raises through nio.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)


def errcode(response: Any) -> str:
    code = getattr(response, "status_code", None)
    return code if isinstance(code, str) else ""


def http_status(response: Any) -> int | None:
    status = getattr(getattr(response, "transport_response", None), "status", None)
    return status if isinstance(status, int) else None


def retry_after_seconds(response: Any) -> float | None:
    """Synapse puts `retry_after_ms` in the body; newer servers may only send the
    standard `Retry-After` header (seconds)."""
    retry_ms = getattr(response, "retry_after_ms", None)
    if isinstance(retry_ms, int | float) and retry_ms > 0:
        return float(retry_ms) / 1000
    headers = getattr(getattr(response, "transport_response", None), "headers", None)
    header = headers.get("Retry-After") if headers is not None else None
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def response_error(response: Any, action: str) -> DeliveryError:
    """The DeliveryError for an `ErrorResponse` nio returned while trying to `action`."""
    code, status = errcode(response), http_status(response)
    message = getattr(response, "message", "")
    text = f"matrix: cannot {action}: {code or status or 'error'} {message}".rstrip()
    if code == RATE_LIMITED or status == 429:
        # Synapse limits messages per account, so every room waits, not just this one.
        return DeliveryError(
            text, permanent=False, retry_after=retry_after_seconds(response), whole_platform=True
        )
    if code in ACCOUNT_PROBLEMS:
        return DeliveryError(text, permanent=False, whole_platform=True)
    if status is None:
        # No HTTP answer to judge by: only a Matrix errcode says the request was refused.
        return DeliveryError(text, permanent=bool(code))
    # 4xx: forbidden, unknown room, not in room, bad content... a retry sends the same.
    return DeliveryError(text, permanent=400 <= status < 500 and status != 408)


def connection_error(exc: BaseException, action: str) -> DeliveryError:
    detail = str(exc) or "no answer"
    return DeliveryError(
        f"matrix: cannot {action}: {type(exc).__name__}: {detail}", permanent=False
    )


def scrub(text: str, *secrets: str | None) -> str:
    """Never let a password or access token reach a log line or an error message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
