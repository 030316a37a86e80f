"""Deployment settings and secrets, from the environment or `.env` (prefix CARECHECK_).

Each chat platform declares its own settings (CARECHECK_TELEGRAM_TOKEN and the like, in
adapters/<platform>/platform.py); these inherit them, so one object holds them all."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from gateway.platforms import PlatformSettings


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(PlatformSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARECHECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # A SQLite file, or a postgresql:// URL (see gateway/database.py).
    db: str = "./carecheck.db"
    config: Path = Path("./carecheck.yaml")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)

    # The console's address as people's browsers reach it (for `/web` login links and
    # the Origin check); default http://WEB_HOST:WEB_PORT.
    web_base_url: str = ""

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
