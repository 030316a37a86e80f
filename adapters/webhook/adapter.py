"""Posts each message as signed JSON to the channel's URL.

Body: `{"event": "alert.opened", "alert": {…}, "text": …, "url": …, "id": …}` (the
alert or need when the message is about one; `url` its console page). Headers:
`X-Carecheck-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`,
`X-Carecheck-Event`, and `Idempotency-Key: carecheck-<outbox id>`, the same on every
retry, so a receiver drops a repeat after a lost answer. A 2xx is delivered; 429 and
5xx and network errors are retried by the outbox with backoff (or after Retry-After);
any other answer is a permanent failure, shown on /healthz until a send succeeds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp

from adapters.base import DeliveryError, RateLimits
from adapters.posts import PostingAdapter, console_link, event_name, post_text, subject
from core.commands import Delivery
from core.ids import ChatRef, split_chat_ref

log = logging.getLogger(__name__)

SIGNATURE = "X-Carecheck-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(delivery: Delivery, console_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event_name(delivery),
        "id": int(delivery.outbox_id),
        "text": post_text(delivery),
        "url": console_link(delivery, console_url),
    }
    found = subject(delivery)
    if found is not None:
        kind, facts = found
        body[kind] = {**facts, "url": body["url"]}
    return body


class WebhookAdapter(PostingAdapter):
    platform = "webhook"
    # A receiver's own limits answer 429 with Retry-After; a few posts at once.
    limits = RateLimits(max_in_flight=4)

    def __init__(self, secret: str, console_url: str = "") -> None:
        super().__init__(console_url)
        self._secret = secret

    async def deliver(self, delivery: Delivery) -> str:
        if not self._secret:
            raise self._refuse(delivery.chat, "CARECHECK_WEBHOOK_SECRET is not set")
        if self._http is None:
            raise DeliveryError("not started", permanent=False)
        _, url = split_chat_ref(delivery.chat)
        data = json.dumps(body_of(delivery, self._console_url), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE: sign(self._secret, data),
            "X-Carecheck-Event": event_name(delivery),
            "Idempotency-Key": f"carecheck-{delivery.outbox_id}",
        }
        try:
            async with self._http.post(url, data=data, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = f"webhook unreachable: {type(exc).__name__}"
            raise DeliveryError(why, permanent=False) from None
        if 200 <= status < 300:
            self._refused.pop(delivery.chat, None)
            return f"{delivery.outbox_id}"
        if status == 429 or status >= 500 or status == 408:
            wait = float(retry_after) if retry_after.isdigit() else None
            raise DeliveryError(f"webhook answered {status}", permanent=False, retry_after=wait)
        raise self._refuse(delivery.chat, f"webhook answered {status}")

    def _refuse(self, chat: ChatRef, why: str) -> DeliveryError:
        host = chat.split("/")[2] if chat.count("/") >= 2 else chat
        self._refused[chat] = f"{host} refused: {why}"
        log.error("webhook %s refused a message for good: %s", host, why)
        return DeliveryError(why, permanent=True)
