"""Sensor pings as the rest of carecheck sees it: no settings, no people-file column,
no channels, no invitations (`carecheck people ping-url NAME` makes the URL)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import Adapter, Inviter, NoInvitations, PlatformDeps, Render, StateStore
from core.ids import ChatRef

NAME = "ping"


class PingSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


class PingPlatform:
    name = NAME
    settings = PingSettings
    # Pings only say someone is up and about: nobody talks with carecheck here.
    chat = False
    csv_column = False
    csv_max_length = 0
    channel_form = ""  # pings have no channels

    def enabled(self, settings: PingSettings) -> bool:
        # Always listening: a URL nobody was given is never called.
        return True

    def build(self, settings: PingSettings, deps: PlatformDeps) -> Adapter:
        from adapters.ping.adapter import PingAdapter

        return PingAdapter()

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        raise ValueError("ping URLs are made with `carecheck people ping-url NAME`")

    def channel_ok(self, rest: str) -> bool:
        return False

    async def inviter(self, settings: PingSettings, render: Render) -> Inviter:
        return NoInvitations()

    async def status_notes(self, state: StateStore) -> list[str]:
        return []


PING = PingPlatform()
