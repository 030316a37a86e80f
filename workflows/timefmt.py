"""Times as people read them: local to the resident, hours and minutes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local(when: datetime, timezone: str) -> datetime:
    return when.astimezone(ZoneInfo(timezone))


def hm(when: datetime, timezone: str) -> str:
    return local(when, timezone).strftime("%H:%M")


def day_hm(when: datetime, timezone: str) -> str:
    return local(when, timezone).strftime("%m-%d %H:%M")
