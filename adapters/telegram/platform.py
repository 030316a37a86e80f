"""Telegram as the rest of carecheck sees it: settings, identities, invitations.

Light on purpose: aiogram (seconds to import) is imported only to build the adapter or
to ask the Bot API for the bot's username.
"""

from __future__ import annotations

import re

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import (
    Adapter,
    AdapterStartError,
    Inviter,
    NoInvitations,
    PlatformDeps,
    Render,
    StateStore,
)
from core.ids import ChatRef, chat_ref

NAME = "telegram"

# Telegram chat ids: people are positive, groups negative (supergroups -100…); none has
# more than 52 significant bits. Leading zeros would never match what Telegram sends.
_CHAT_ID = re.compile(r"-?[1-9][0-9]{0,15}")
_CHAT_ID_MAX = 2**52
# The bot's username per (token, API server), asked of the Bot API (getMe) once per
# process and kept: a sheet of cards in two languages, and every later sheet the console
# prints, need it again. A new token means a new process.
_USERNAMES: dict[tuple[str, str], str] = {}


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr = SecretStr("")
    telegram_api_base: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token.get_secret_value())


def deep_link(username: str, code: str, *, group: bool = False) -> str:
    """`start` opens a private chat with the bot; `startgroup` lets the user pick the
    group to add the bot to, and sends `/start CODE` there."""
    return f"https://t.me/{username}?{'startgroup' if group else 'start'}={code}"


class _DeepLinks:
    def __init__(self, username: str) -> None:
        self.username = username

    def lines(self, code: str, *, team: bool) -> list[str]:
        lines = [f"Telegram: {deep_link(self.username, code, group=team)}"]
        if team:
            lines.append(f"or add the bot to the group, then send /link {code} there")
        return lines

    def qr_target(self, code: str, *, team: bool) -> str | None:
        return deep_link(self.username, code, group=team)

    def card_lines(self, code: str) -> list[str]:
        return []


class _NotConfigured(NoInvitations):
    def lines(self, code: str, *, team: bool) -> list[str]:
        return ["Telegram: (set CARECHECK_TELEGRAM_TOKEN to print the deep link)"]


class TelegramPlatform:
    name = NAME
    settings = TelegramSettings
    chat = True
    csv_column = True
    csv_max_length = 200
    channel_form = "telegram:<chat id>"

    def enabled(self, settings: TelegramSettings) -> bool:
        return settings.telegram_enabled

    def build(self, settings: TelegramSettings, deps: PlatformDeps) -> Adapter:
        from adapters.telegram.adapter import TelegramAdapter

        secret = settings.telegram_webhook_secret.get_secret_value()
        try:
            return TelegramAdapter(
                settings.telegram_token.get_secret_value(),
                settings.telegram_api_base or None,
                webhook_url=settings.telegram_webhook_url or None,
                webhook_secret=secret or None,
                dead_letters=deps.dead_letters,
            )
        except ValueError as exc:  # a webhook without a (valid) secret
            raise AdapterStartError(
                f"CARECHECK_TELEGRAM_WEBHOOK_SECRET: {exc} (CARECHECK_TELEGRAM_WEBHOOK_URL is set)"
            ) from None

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        if not _CHAT_ID.fullmatch(value) or abs(int(value)) > _CHAT_ID_MAX:
            raise ValueError(
                "not a Telegram chat id (a number such as 123456789, at most 16 digits)"
            )
        return value, chat_ref(NAME, value)

    def channel_ok(self, rest: str) -> bool:
        # A group's chat id: what the adapter can send to.
        return bool(_CHAT_ID.fullmatch(rest)) and abs(int(rest)) <= _CHAT_ID_MAX

    async def inviter(self, settings: TelegramSettings, render: Render) -> Inviter:
        if not self.enabled(settings):
            return _NotConfigured()
        from adapters.telegram.links import bot_username

        key = (settings.telegram_token.get_secret_value(), settings.telegram_api_base)
        if key not in _USERNAMES:
            _USERNAMES[key] = await bot_username(key[0], key[1] or None)
        return _DeepLinks(_USERNAMES[key])

    async def status_notes(self, state: StateStore) -> list[str]:
        return []


TELEGRAM = TelegramPlatform()
