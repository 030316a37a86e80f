"""The store on PostgreSQL, for more than one machine (`CARECHECK_DB=postgresql://…`)."""

from __future__ import annotations

from store.postgres.db import PgStore, PgTx, display_url

__all__ = ["SCHEMES", "PgStore", "PgTx", "create_store", "display_url", "is_postgres_url"]

# What libpq and asyncpg accept as a PostgreSQL connection URL.
SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: str) -> bool:
    return db.lower().startswith(SCHEMES)


def create_store(db: str) -> PgStore:
    """The store for a `postgresql://user:password@host:port/database` URL (not yet
    open). Anything else is refused: a path is for the SQLite store."""
    if not is_postgres_url(db):
        raise ValueError(
            "not a PostgreSQL URL (postgresql://user@host:port/database): "
            f"{db.split('://', 1)[0] + '://…' if '://' in db else db!r}"
        )
    return PgStore(db)
