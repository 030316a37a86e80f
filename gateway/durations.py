"""Durations as operators write them: "30s", "20m", "1h30m", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    pos = 0
    total = timedelta()
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        total += timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"not a duration: {text!r} (write for example 30s, 20m, 1h30m, 2d)")
    return total


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
