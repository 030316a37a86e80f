"""Deployment settings and secrets, from the environment or `.env` (prefix CARECHECK_)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # A SQLite file, or a postgresql:// URL (see gateway/database.py).
    db: str = "./carecheck.db"
    config: Path = Path("./carecheck.yaml")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)

    telegram_token: SecretStr = SecretStr("")
    telegram_api_base: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")

    matrix_homeserver: str = ""
    matrix_user_id: str = ""
    matrix_password: SecretStr = SecretStr("")
    matrix_access_token: SecretStr = SecretStr("")

    # The local web chat lets anyone on this machine act as any person: a demo and
    # training tool. It listens on the web host only.
    local_chat: bool = True
    # Seed a small demo community into an empty database on first run.
    demo_seed: bool = True
    # >1 runs the clock faster than real time so the whole flow fits in minutes.
    demo_speed: float = Field(default=1.0, gt=0)

    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"

    @field_validator("db", mode="before")
    @classmethod
    def _db_text(cls, value: object) -> object:
        return str(value) if isinstance(value, Path) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token.get_secret_value())

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver and self.matrix_user_id) and bool(
            self.matrix_password.get_secret_value() or self.matrix_access_token.get_secret_value()
        )
