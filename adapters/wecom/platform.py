"""WeCom (企业微信) group robots as a channel: `wecom:<robot key>` in the workflow file
(a team's or a grid's). Outbound only: a robot cannot receive, so each post links to
the console page where the alert or need is acted on."""

from __future__ import annotations

import re

from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import Adapter, Inviter, NoInvitations, PlatformDeps, Render, StateStore
from core.ids import ChatRef

NAME = "wecom"
# The `key` of the robot's webhook address (a UUID today).
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


class WecomSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Another robot API (tests, a relay); default WeCom's own.
    wecom_api_base: str = "https://qyapi.weixin.qq.com"


class WecomPlatform:
    name = NAME
    settings = WecomSettings
    chat = False
    csv_column = False
    csv_max_length = 0
    channel_form = "wecom:<robot key>"

    def enabled(self, settings: WecomSettings) -> bool:
        # Nothing to connect to: a robot that is never named is never posted to.
        return True

    def build(self, settings: WecomSettings, deps: PlatformDeps) -> Adapter:
        from adapters.wecom.adapter import WecomAdapter

        return WecomAdapter(settings.wecom_api_base, deps.console_url)

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        raise ValueError("a WeCom robot is a team's or a grid's channel, not a person's")

    def channel_ok(self, rest: str) -> bool:
        return bool(_KEY.fullmatch(rest))

    async def inviter(self, settings: WecomSettings, render: Render) -> Inviter:
        return NoInvitations()

    async def status_notes(self, state: StateStore) -> list[str]:
        return []


WECOM = WecomPlatform()
