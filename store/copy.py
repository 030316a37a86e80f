"""Copy a whole database from one store to another (`carecheck db copy SOURCE TARGET`):
SQLite to PostgreSQL when a community outgrows one machine, and back.

Every table is copied row for row with its ids, so every reference (an alert's
check-in, an edit's original, a timer's ref) still points where it did. The source is
read in one snapshot; the target is written in one transaction, with its foreign keys
checked at the end, and only if it is empty: a copy never merges into live data. Row
counts are checked per table before the target commits. Both stores must be open (and
so migrated to the same schema version); the gateway should be stopped meanwhile,
since what it writes to the source after the snapshot is not copied.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from store.postgres.db import PgStore
from store.sqlite.db import Store

BATCH = 5000

# SQLite tables whose implicit rowid is PostgreSQL's `id` column (see
# store/postgres/migrations.py): an alert's copies are ordered by it.
ROWID_IS_ID = frozenset({"alert_notifications"})


class CopyError(Exception):
    """The copy cannot be made, or did not come out whole: one line saying why."""


async def copy_database(source: Store | PgStore, target: Store | PgStore) -> dict[str, int]:
    """Copy every table of `source` into the empty `target`; returns rows per table."""
    if source is target:
        raise CopyError("source and target are the same database")
    versions = (await source.schema_version(), await target.schema_version())
    if versions[0] != versions[1]:
        raise CopyError(
            f"source has schema version {versions[0]} and target {versions[1]}: "
            "open both with the same carecheck first"
        )
    async with _side(source).reading() as reader, _side(target).writing() as writer:
        tables = await reader.tables()
        theirs = await writer.tables()
        if set(tables) != set(theirs):
            raise CopyError(f"the tables differ: {_difference(set(tables), set(theirs))}")
        for table, columns in tables.items():
            if set(columns) != set(theirs[table]):
                raise CopyError(
                    f"table {table}: the columns differ: "
                    f"{_difference(set(columns), set(theirs[table]))}"
                )
        filled = [(table, await writer.count(table)) for table in sorted(theirs)]
        if any(n for _, n in filled):
            listed = ", ".join(f"{table} ({n} rows)" for table, n in filled if n)
            raise CopyError(f"target database is not empty: {listed}")
        counts: dict[str, int] = {}
        for table in sorted(tables):
            columns = tables[table]
            copied = 0
            async for batch in reader.rows(table, columns):
                await writer.insert(table, columns, batch)
                copied += len(batch)
            counts[table] = copied
        await writer.finish(tables)
        for table in sorted(tables):
            expected = await reader.count(table)
            written = await writer.count(table)
            if not expected == written == counts[table]:
                raise CopyError(
                    f"table {table}: {expected} rows in the source, {counts[table]} read, "
                    f"{written} in the target; nothing was copied"
                )
    return counts


def _difference(ours: set[str], theirs: set[str]) -> str:
    parts = []
    if ours - theirs:
        parts.append("only in the source: " + ", ".join(sorted(ours - theirs)))
    if theirs - ours:
        parts.append("only in the target: " + ", ".join(sorted(theirs - ours)))
    return "; ".join(parts)


class _Side:
    """One database as the copy sees it: tables, counts, rows in, rows out."""

    async def tables(self) -> dict[str, list[str]]:
        raise NotImplementedError

    async def count(self, table: str) -> int:
        raise NotImplementedError

    def rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def finish(self, tables: dict[str, list[str]]) -> None:
        """After the last row: whatever the database needs to go on from here."""


def _side(store: Store | PgStore) -> _SqliteSide | _PgSide:
    return _PgSide(store) if isinstance(store, PgStore) else _SqliteSide(store)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _SqliteSide(_Side):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.tx: Any = None

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[_SqliteSide]:
        async with self.store.read() as tx:
            self.tx = tx
            # One read transaction: a snapshot of the whole file (WAL keeps it).
            tx.db.execute("BEGIN")
            try:
                yield self
            finally:
                await tx.conn.execute("ROLLBACK")

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[_SqliteSide]:
        async with self.store.transaction() as tx:
            self.tx = tx
            # Rows arrive table by table: a family link or an edit may point at a row
            # of a table (or a part of one) not copied yet. Checked at COMMIT.
            tx.db.execute("PRAGMA defer_foreign_keys = ON")
            yield self

    async def tables(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        names = self.tx.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
        for (name,) in names:
            columns = [r[1] for r in self.tx.db.execute(f"PRAGMA table_info({_quote(name)})")]
            found[name] = ["id", *columns] if name in ROWID_IS_ID else columns
        return found

    async def count(self, table: str) -> int:
        row = self.tx.db.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()
        return int(row[0])

    def _physical(self, table: str, columns: Sequence[str]) -> list[str]:
        if table in ROWID_IS_ID:
            return ["rowid" if c == "id" else _quote(c) for c in columns]
        return [_quote(c) for c in columns]

    async def rows(
        self, table: str, columns: Sequence[str]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(self._physical(table, columns))
        # On aiosqlite's thread: a big table must not hold up the event loop.
        cursor = await self.tx.conn.execute(f"SELECT {names} FROM {_quote(table)} ORDER BY rowid")
        try:
            while batch := await cursor.fetchmany(BATCH):
                yield [tuple(row) for row in batch]
        finally:
            await cursor.close()

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(self._physical(table, columns))
        marks = ", ".join("?" * len(columns))
        await self.tx.conn.executemany(
            f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})", rows
        )


# How a value read from SQLite (typed per value, not per column) becomes what the
# PostgreSQL column takes.
_CONVERT: dict[str, Any] = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "double precision": float,
    "real": float,
    "text": str,
    "boolean": bool,
}


class _PgSide(_Side):
    def __init__(self, store: PgStore) -> None:
        self.store = store
        self.tx: Any = None
        self.types: dict[str, dict[str, str]] = {}

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[_PgSide]:
        async with self.store.read() as tx:
            self.tx = tx
            async with tx.conn.transaction(isolation="repeatable_read", readonly=True):
                yield self

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[_PgSide]:
        async with self.store.transaction() as tx:
            self.tx = tx
            # Foreign keys are DEFERRABLE in this schema: checked at COMMIT.
            await tx.conn.execute("SET CONSTRAINTS ALL DEFERRED")
            yield self

    async def tables(self) -> dict[str, list[str]]:
        rows = await self.tx.conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name <> 'schema_version' "
            "ORDER BY table_name, ordinal_position"
        )
        found: dict[str, list[str]] = {}
        for r in rows:
            found.setdefault(r["table_name"], []).append(r["column_name"])
            self.types.setdefault(r["table_name"], {})[r["column_name"]] = r["data_type"]
        return found

    async def count(self, table: str) -> int:
        return int(await self.tx.conn.fetchval(f"SELECT count(*) FROM {_quote(table)}"))

    async def rows(
        self, table: str, columns: Sequence[str]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(_quote(c) for c in columns)
        order = " ORDER BY id" if "id" in columns else ""
        batch: list[tuple[Any, ...]] = []
        async for record in self.tx.conn.cursor(
            f"SELECT {names} FROM {_quote(table)}{order}", prefetch=BATCH
        ):
            batch.append(tuple(record))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        types = self.types[table]
        converters = [_CONVERT.get(types[c]) for c in columns]
        records = [
            tuple(
                value if value is None or convert is None else convert(value)
                for value, convert in zip(row, converters, strict=True)
            )
            for row in rows
        ]
        # COPY: the fastest way in, many times faster than INSERTs.
        await self.tx.conn.copy_records_to_table(table, records=records, columns=list(columns))

    async def finish(self, tables: dict[str, list[str]]) -> None:
        # The copied ids were given, not drawn: move each id sequence past them so
        # that the next row inserted does not collide with a copied one.
        for table, columns in tables.items():
            if "id" not in columns:
                continue
            await self.tx.conn.execute(
                "SELECT setval(pg_get_serial_sequence($1, 'id'), "
                f"coalesce((SELECT max(id) FROM {_quote(table)}), 0) + 1, false)",
                table,
            )
