"""The local web chat as the rest of carecheck sees it: one setting, no invitations
(opening a person's chat page reaches them there)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import Adapter, Inviter, NoInvitations, PlatformDeps, Render, StateStore
from core.ids import ChatRef, chat_ref

NAME = "local"


class LocalSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # The local web chat lets anyone on this machine act as any person: a demo and
    # training tool. It listens on the web host only. Unset: on when no chat platform
    # is configured.
    local_chat: bool | None = None

    @field_validator("local_chat", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value


class LocalPlatform:
    name = NAME
    settings = LocalSettings
    chat = True
    # People are reached here by opening their chat page, not through the people file.
    csv_column = False
    csv_max_length = 64
    channel_form = "local:<name>"

    def enabled(self, settings: LocalSettings) -> bool | None:
        # Unset, it runs when nothing else does: a newcomer with no tokens sees the
        # whole flow here.
        return settings.local_chat

    def build(self, settings: LocalSettings, deps: PlatformDeps) -> Adapter:
        from adapters.local.adapter import LocalChatAdapter

        return LocalChatAdapter()

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        if not self.channel_ok(value):
            raise ValueError("not a local chat name (letters and digits, no spaces)")
        return value, chat_ref(NAME, value)

    def channel_ok(self, rest: str) -> bool:
        return bool(rest) and rest.isprintable() and not any(c.isspace() for c in rest)

    async def inviter(self, settings: LocalSettings, render: Render) -> Inviter:
        return NoInvitations()

    async def status_notes(self, state: StateStore) -> list[str]:
        return []


LOCAL = LocalPlatform()
