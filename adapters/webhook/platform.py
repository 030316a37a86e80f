"""A generic webhook as a channel: `webhook:https://…` in the workflow file, for any
other system (DingTalk or Feishu bots behind a relay, a call-centre queue, an SMS
gateway). Outbound only; one setting, the signing secret."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import Adapter, Inviter, NoInvitations, PlatformDeps, Render, StateStore
from core.ids import ChatRef

NAME = "webhook"
# Plain http only to this machine (a relay beside the gateway, tests).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Signs every body (HMAC-SHA256, X-Carecheck-Signature); sends fail without it.
    webhook_secret: SecretStr = SecretStr("")


class WebhookPlatform:
    name = NAME
    settings = WebhookSettings
    chat = False
    csv_column = False
    csv_max_length = 0
    channel_form = "webhook:https://<host>/<path>"

    def enabled(self, settings: WebhookSettings) -> bool:
        # Nothing to connect to: a channel that is never named is never posted to.
        return True

    def build(self, settings: WebhookSettings, deps: PlatformDeps) -> Adapter:
        from adapters.webhook.adapter import WebhookAdapter

        return WebhookAdapter(settings.webhook_secret.get_secret_value(), deps.console_url)

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        raise ValueError("a webhook is a team's or a grid's channel, not a person's")

    def channel_ok(self, rest: str) -> bool:
        try:
            url = urlsplit(rest)
        except ValueError:
            return False
        if not url.hostname or not rest.isprintable() or " " in rest:
            return False
        return url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK)

    async def inviter(self, settings: WebhookSettings, render: Render) -> Inviter:
        return NoInvitations()

    async def status_notes(self, state: StateStore) -> list[str]:
        return []


WEBHOOK = WebhookPlatform()
