"""Which database: `CARECHECK_DB` is a SQLite file path (the embedded default) or a
`postgresql://` URL (more than one machine). Any other scheme is refused, so a typo
cannot quietly become a SQLite file named after the URL."""

from __future__ import annotations

import re
from pathlib import Path

from core.ports import Store, StoreOpenError
from store.postgres import create_store as create_postgres_store
from store.postgres import display_url, is_postgres_url
from store.sqlite import Store as SqliteStore

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def create_store(db: str | Path) -> Store:
    text = str(db)
    if is_postgres_url(text):
        return create_postgres_store(text)
    scheme = _SCHEME.match(text)
    if scheme:
        raise StoreOpenError(
            f"CARECHECK_DB: unknown database scheme {scheme.group(1)}:// "
            "(use a SQLite file path or postgresql://user@host:port/database)"
        )
    return SqliteStore(Path(text))


def describe(db: str | Path) -> str:
    """The database for a log line: a PostgreSQL URL without its password."""
    text = str(db)
    if is_postgres_url(text):
        return display_url(text)
    return text
