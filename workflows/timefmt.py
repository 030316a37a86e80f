"""Times as people read them: local to the resident, hours and minutes."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo


def local(when: datetime, timezone: str) -> datetime:
    return when.astimezone(ZoneInfo(timezone))


# Cached: an alert's text shows the same few times (opened, due, deadline) on every
# copy and every refresh of it, and a batch of answers shares one `now`.
@functools.lru_cache(maxsize=4096)
def hm(when: datetime, timezone: str) -> str:
    return local(when, timezone).strftime("%H:%M")


@functools.lru_cache(maxsize=4096)
def day_hm(when: datetime, timezone: str) -> str:
    return local(when, timezone).strftime("%m-%d %H:%M")
