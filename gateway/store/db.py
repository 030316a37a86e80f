"""One SQLite file through aiosqlite: WAL, migrations, and serialised transactions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from gateway.store.care import CareRepo
from gateway.store.delivery import DeliveryRepo
from gateway.store.migrations import LATEST, MIGRATIONS
from gateway.store.misc import MiscRepo
from gateway.store.people import PeopleRepo

log = logging.getLogger(__name__)


class Tx(PeopleRepo, CareRepo, DeliveryRepo, MiscRepo):
    """Everything the gateway reads or writes, inside one transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._savepoints = 0

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested unit inside the transaction: one failing event rolls back alone."""
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        await self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self.conn.execute(f"ROLLBACK TO {name}")
            await self.conn.execute(f"RELEASE {name}")
            raise
        else:
            await self.conn.execute(f"RELEASE {name}")


class SchemaTooNew(Exception):
    pass


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # One connection, one writer: SQLite serialises writes anyway, and holding the
        # lock for a whole transaction keeps a workflow's reads and writes consistent.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against process crashes under WAL; only an OS crash or power
        # cut can lose the last commits. FULL costs an fsync per commit.
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 10000")
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open")
        return self._conn

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > LATEST:
            raise SchemaTooNew(
                f"{self.path} has schema version {version}; this carecheck knows up to {LATEST}"
            )
        for target in range(version + 1, LATEST + 1):
            log.info("migrating database to schema version %d", target)
            await self.conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + MIGRATIONS[target - 1]
                + f"\nPRAGMA user_version = {target};\nCOMMIT;"
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """Reads only, without BEGIN/COMMIT: each statement sees committed data."""
        async with self._lock:
            yield Tx(self.conn)

    async def ping(self) -> bool:
        async with self._lock, self.conn.execute("SELECT 1") as cursor:
            return (await cursor.fetchone()) is not None
