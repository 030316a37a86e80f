"""The chat platforms carecheck knows: the one place outside adapters/ that lists them.

Everything else asks these descriptions (adapters/base.py `Platform`) instead of naming
a platform: the settings inherit theirs, the people file has a column for each that
takes one, a team's channel must belong to one, invitations and `carecheck status` ask
each in turn. Their order is the order of the CSV columns and of the invitation lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.base import Platform
from adapters.local.platform import LOCAL, LocalSettings
from adapters.matrix.platform import MATRIX, MatrixSettings
from adapters.ping.platform import PING, PingSettings
from adapters.telegram.platform import TELEGRAM, TelegramSettings
from adapters.webhook.platform import WEBHOOK, WebhookSettings
from adapters.wecom.platform import WECOM, WecomSettings
from core.ids import split_chat_ref

PLATFORMS: tuple[Platform[Any], ...] = (TELEGRAM, MATRIX, LOCAL, PING, WECOM, WEBHOOK)


class PlatformSettings(
    TelegramSettings, MatrixSettings, LocalSettings, PingSettings, WecomSettings, WebhookSettings
):
    """Every platform's own settings, for the gateway's Settings to inherit."""


def csv_platforms() -> list[Platform[Any]]:
    return [p for p in PLATFORMS if p.csv_column]


def channel_problem(channel: str) -> str | None:
    """None when a team channel belongs to a platform and looks right for it; else
    what it must be instead."""
    try:
        name, rest = split_chat_ref(channel)
    except ValueError:
        name, rest = "", ""
    if any(p.name == name and p.channel_ok(rest) for p in PLATFORMS):
        return None
    forms = [f'"{p.channel_form}"' for p in PLATFORMS if p.channel_form]
    return f"must be {', '.join(forms[:-1])} or {forms[-1]}"


def enabled_platforms(settings: PlatformSettings) -> list[Platform[Any]]:
    """The platforms to run: those the settings turn on, and those left unset (the
    local web chat) only when no other chat platform is on."""
    said = [(p, p.enabled(settings)) for p in PLATFORMS]
    if any(on for p, on in said if p.chat):
        return [p for p, on in said if on]
    return [p for p, on in said if on or (on is None and p.chat)]


def chat_platform_names(names: Iterable[str]) -> list[str]:
    """Those of `names` that are chat platforms (not sensor pings or group robots)."""
    chats = {p.name for p in PLATFORMS if p.chat}
    return [name for name in names if name in chats]
