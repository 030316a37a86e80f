"""Posts to a WeCom group through its robot: `POST /cgi-bin/webhook/send?key=KEY` with
`{"msgtype": "markdown", "markdown": {"content": …}}`.

A robot takes at most 20 messages a minute: that is this adapter's per-chat limit, so
the outbox keeps it (alerts still go first, and each robot's posts stay in order). If
WeCom says the limit was hit all the same (errcode 45009), the post waits a minute and
goes again. A key WeCom does not know (errcode 93000, or 404) is a permanent failure:
logged as an error and shown on /healthz until a post to that robot succeeds. The key
is a secret: never logged or stored in an error in full.
"""

from __future__ import annotations

import logging

import aiohttp

from adapters.base import DeliveryError, Rate, RateLimits
from adapters.posts import PostingAdapter, console_link, post_text
from core.commands import Delivery
from core.ids import split_chat_ref

log = logging.getLogger(__name__)

PER_ROBOT = Rate(20, 60.0)
LIMITED = 45009
INVALID_KEY = frozenset({93000})
BUSY = -1
# WeCom refuses markdown content over 4,096 bytes.
MAX_BYTES = 4096


def shown(key: str) -> str:
    return key[:4] + "…"


def markdown(delivery: Delivery, console_url: str) -> str:
    """The post: the message's text, then the link to act on it in the console."""
    text = post_text(delivery)
    link = console_link(delivery, console_url)
    tail = f"\n\n[{link}]({link})" if link else ""
    room = MAX_BYTES - len(tail.encode())
    body = text.encode()
    if len(body) > room:
        text = body[: room - 3].decode(errors="ignore") + "…"
    return text + tail


class WecomAdapter(PostingAdapter):
    platform = "wecom"
    # Every robot posts to a group: the per-group limit is each robot's own.
    limits = RateLimits(per_group=PER_ROBOT, max_in_flight=4)

    def __init__(self, api_base: str, console_url: str = "") -> None:
        super().__init__(console_url)
        self._api = api_base.rstrip("/")

    async def deliver(self, delivery: Delivery) -> str:
        if self._http is None:
            raise DeliveryError("not started", permanent=False)
        _, key = split_chat_ref(delivery.chat)
        payload = {
            "msgtype": "markdown",
            "markdown": {"content": markdown(delivery, self._console_url)},
        }
        url = f"{self._api}/cgi-bin/webhook/send"
        try:
            async with self._http.post(url, params={"key": key}, json=payload) as response:
                status = response.status
                answer = await response.json(content_type=None) if status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            why = f"robot unreachable: {type(exc).__name__}"
            raise DeliveryError(why, permanent=False) from None
        code = answer.get("errcode") if isinstance(answer, dict) else None
        if status == 200 and code == 0:
            self._refused.pop(delivery.chat, None)
            return str(delivery.outbox_id)
        if code == LIMITED:
            raise DeliveryError(
                "robot limit (45009)", permanent=False, retry_after=PER_ROBOT.per_seconds
            )
        if status == 404 or code in INVALID_KEY:
            why = f"robot {shown(key)} refused: invalid key ({code or status}); fix the channel"
            self._refused[delivery.chat] = why
            log.error("wecom: %s", why)
            raise DeliveryError(why, permanent=True)
        if status >= 500 or code == BUSY or status == 429:
            raise DeliveryError(f"robot busy ({code or status})", permanent=False)
        raise DeliveryError(
            f"robot {shown(key)} refused the post ({code or status})", permanent=True
        )
