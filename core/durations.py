"""Durations as operators write them: "30s", "20m", "1h30m", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Nothing in a workflow waits longer than this; beyond it a number is a typo, and far
# beyond it Python's datetime arithmetic overflows.
MAX_DURATION = timedelta(days=3650)
_MAX_DIGITS = 9


def parse_duration(text: str) -> timedelta:
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    pos = 0
    seconds = 0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        digits = match.group(1)
        if len(digits) > _MAX_DIGITS:
            raise _too_long(text)
        seconds += int(digits) * _SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"not a duration: {_shown(text)} (write for example 30s, 20m, 1h30m, 2d)")
    if seconds > MAX_DURATION.total_seconds():
        raise _too_long(text)
    return timedelta(seconds=seconds)


def _too_long(text: str) -> ValueError:
    return ValueError(
        f"duration {_shown(text)} is too long (at most {format_duration(MAX_DURATION)})"
    )


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
