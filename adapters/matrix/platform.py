"""Matrix as the rest of carecheck sees it: settings, identities, invitations, the rooms
it cannot read.

Light on purpose: matrix-nio is imported only to build the adapter.
"""

from __future__ import annotations

import json
import re

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import Adapter, Inviter, PlatformDeps, Render, StateStore
from core.enums import InvitePolicy
from core.ids import ChatRef, chat_ref

NAME = "matrix"
# Rooms the bot found encrypted (a JSON list), kept by the adapter for `status`.
STATE_ENCRYPTED_ROOMS = "matrix.encrypted_rooms"

_USER_ID = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_USER_ID_MAX = 255  # the Matrix specification's limit on a user id


class MatrixSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    matrix_homeserver: str = ""
    matrix_user_id: str = ""
    matrix_password: SecretStr = SecretStr("")
    matrix_access_token: SecretStr = SecretStr("")

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver and self.matrix_user_id) and bool(
            self.matrix_password.get_secret_value() or self.matrix_access_token.get_secret_value()
        )


def json_list(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [str(item) for item in value] if isinstance(value, list) else []


class _Invitations:
    def __init__(self, bot: str, render: Render) -> None:
        self.bot = bot
        self.render = render

    def lines(self, code: str, *, team: bool) -> list[str]:
        if team:
            return [f"Matrix: invite the bot to the team's room, then send !link {code} there"]
        if not self.bot:
            return [f"Matrix: send !link {code} (or /start {code}) to the carecheck bot"]
        return [
            self.render("invite_matrix", bot=self.bot, code=code),
            f"        https://matrix.to/#/{self.bot}",
        ]

    def qr_target(self, code: str, *, team: bool) -> str | None:
        # matrix.to opens a chat with the bot but cannot carry the code, and the
        # card's words are about tapping Start: a scanned card would mislead.
        return None

    def card_lines(self, code: str) -> list[str]:
        return [f"Matrix: !link {code} → {self.bot}"] if self.bot else []


class MatrixPlatform:
    name = NAME
    settings = MatrixSettings
    chat = True
    csv_column = True
    csv_max_length = 1000
    channel_form = "matrix:<room id>"

    def enabled(self, settings: MatrixSettings) -> bool:
        return settings.matrix_enabled

    def build(self, settings: MatrixSettings, deps: PlatformDeps) -> Adapter:
        from adapters.matrix.adapter import MatrixAdapter

        async def may_join(room_id: str, inviter: str) -> bool:
            if deps.invite_policy is InvitePolicy.ANYONE or await deps.is_known(inviter):
                return True
            # Someone about to send `!link CODE` is not known yet: while personal
            # invitations are outstanding, their direct room is accepted.
            return await deps.invites_open()

        return MatrixAdapter(
            settings.matrix_homeserver,
            settings.matrix_user_id,
            password=settings.matrix_password.get_secret_value() or None,
            access_token=settings.matrix_access_token.get_secret_value() or None,
            may_join=may_join,
            dead_letters=deps.dead_letters,
        )

    def identity_from_csv(self, value: str) -> tuple[str, ChatRef]:
        if len(value) > _USER_ID_MAX or not _USER_ID.fullmatch(value):
            raise ValueError("not @user:server")
        # The adapter opens a direct room with the user on the first message.
        return value, chat_ref(NAME, value)

    def channel_ok(self, rest: str) -> bool:
        # A room id (room version 12 ids have no server part); aliases are not resolved.
        return rest.startswith("!") and len(rest) > 1 and rest.isprintable() and " " not in rest

    async def inviter(self, settings: MatrixSettings, render: Render) -> Inviter:
        return _Invitations(settings.matrix_user_id if self.enabled(settings) else "", render)

    async def status_notes(self, state: StateStore) -> list[str]:
        return [
            f"Matrix room {room} is encrypted; the bot cannot read it"
            for room in json_list(await state.get(STATE_ENCRYPTED_ROOMS))
        ]


MATRIX = MatrixPlatform()
