"""Shared helpers for the repository mixins."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from core.ids import OutboxId

# executemany with more rows than this runs on aiosqlite's thread (see Repo).
BULK_ROWS = 500


def ts(when: datetime) -> float:
    if when.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return when.timestamp()


@functools.lru_cache(maxsize=65_536)
def from_ts(value: float) -> datetime:
    # Rows share a few times (a round's check-ins, a minute's answers): a cached
    # datetime is a quarter of the cost of a new one.
    return datetime.fromtimestamp(value, UTC)


def opt_ts(value: float | None) -> datetime | None:
    return None if value is None else from_ts(value)


def marks(n: int) -> str:
    """`?,?,…`: the placeholders of an IN list of n values."""
    return ",".join("?" * n)


def in_list(values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """The placeholders and parameters of `x IN (…)` for a page's worth of values (at
    least one), padded to a power of two by repeating the last. A page's statements
    then come in a few lengths that SQLite's statement cache keeps, rather than one
    length per page size, each prepared anew and crowding the others out."""
    n = 1 << (len(values) - 1).bit_length()
    return marks(n), (*values, *[values[-1]] * (n - len(values)))


class Repo:
    """Base of the repository mixins: one open connection inside a transaction.

    Short statements run inline on the event loop's thread: handing one to aiosqlite's
    thread and back costs about 150 µs, 25 times the statement itself, and a check-in
    answer takes a dozen statements. Work that can take long — bulk inserts, reads of
    a whole table — goes through aiosqlite (`conn`, the same SQLite connection) so the
    loop keeps serving sockets meanwhile. The store's lock means the two never overlap.
    """

    db: sqlite3.Connection
    conn: aiosqlite.Connection
    # Outbox rows being delivered right now (see store/sending.py).
    sending: AbstractSet[OutboxId]

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    async def _all(
        self, sql: str, params: Sequence[Any] = (), *, bulk: bool = False
    ) -> list[sqlite3.Row]:
        """All rows; `bulk` for reads that may return a large part of a table."""
        if bulk:
            return list(await self.conn.execute_fetchall(sql, params))
        rows: list[sqlite3.Row] = self.db.execute(sql, params).fetchall()
        return rows

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; returns lastrowid (inserts) or rowcount (updates)."""
        cursor = self.db.execute(sql, params)
        if sql.lstrip()[:6].upper() == "INSERT":
            return int(cursor.lastrowid or 0)
        return int(cursor.rowcount)

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """executemany; returns the number of rows changed."""
        batch = rows if isinstance(rows, list) else list(rows)
        if not batch:
            return 0
        if len(batch) > BULK_ROWS:
            cursor = await self.conn.executemany(sql, batch)
            return int(cursor.rowcount)
        return int(self.db.executemany(sql, batch).rowcount)
