"""Shared helpers for the repository mixins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite


def ts(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return when.timestamp()


def from_ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def opt_ts(value: float | None) -> datetime | None:
    return None if value is None else from_ts(value)


class Repo:
    """Base of the repository mixins: one open connection inside a transaction."""

    conn: aiosqlite.Connection

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            row: aiosqlite.Row | None = await cursor.fetchone()
            return row

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; returns lastrowid (inserts) or rowcount (updates)."""
        async with self.conn.execute(sql, params) as cursor:
            if sql.lstrip().upper().startswith("INSERT"):
                return int(cursor.lastrowid or 0)
            return int(cursor.rowcount)

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)
