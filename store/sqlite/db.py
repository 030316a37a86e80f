"""One SQLite file: WAL, migrations, and serialised transactions."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.ids import OutboxId
from core.ports import SchemaTooNew, StoreOpenError
from store.sending import Sending
from store.sqlite.away import AwayRepo
from store.sqlite.base import ts
from store.sqlite.care import CareRepo
from store.sqlite.console import ConsoleRepo
from store.sqlite.deadletters import DeadLetterRepo
from store.sqlite.delivery import DeliveryRepo
from store.sqlite.history import HistoryRepo
from store.sqlite.migrations import LATEST, MIGRATIONS
from store.sqlite.misc import MiscRepo
from store.sqlite.needs import NeedsRepo
from store.sqlite.people import PeopleRepo
from store.sqlite.privacy import PrivacyRepo
from store.sqlite.users import UsersRepo
from store.sqlite.watch import WatchRepo

log = logging.getLogger(__name__)

# Bytes the WAL file is cut back to after a checkpoint.
WAL_SIZE_LIMIT = 4 * 1024 * 1024


class Tx(
    PeopleRepo,
    CareRepo,
    DeliveryRepo,
    MiscRepo,
    NeedsRepo,
    HistoryRepo,
    DeadLetterRepo,
    UsersRepo,
    ConsoleRepo,
    AwayRepo,
    WatchRepo,
    PrivacyRepo,
):
    """Everything the gateway reads or writes, inside one transaction."""

    def __init__(
        self,
        db: sqlite3.Connection,
        conn: aiosqlite.Connection,
        sending: AbstractSet[OutboxId] = frozenset(),
    ) -> None:
        self.db = db
        self.conn = conn
        self.sending = sending
        self._savepoints = 0

    def savepoint(self) -> Savepoint:
        """A nested unit inside the transaction: one failing event rolls back alone."""
        self._savepoints += 1
        return Savepoint(self, f"sp{self._savepoints}")


# The context managers below are classes rather than @asynccontextmanager generators:
# they are entered once per inbound event, and the generator machinery cost more than
# the SQL of a short transaction.


class Savepoint:
    def __init__(self, tx: Tx, name: str) -> None:
        self._tx = tx
        self._name = name

    async def __aenter__(self) -> None:
        self._tx.db.execute(f"SAVEPOINT {self._name}")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc_type is None:
            self._tx.db.execute(f"RELEASE {self._name}")
            return
        # Through aiosqlite's queue: if a bulk statement was cancelled mid-way it is
        # still running there, and the rollback must come after it.
        await self._tx.conn.execute(f"ROLLBACK TO {self._name}")
        await self._tx.conn.execute(f"RELEASE {self._name}")


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (or ROLLBACK), holding the store's lock throughout."""

    def __init__(self, store: Store, *, write: bool) -> None:
        self._store = store
        self._write = write

    async def __aenter__(self) -> Tx:
        store = self._store
        await store._lock.acquire()
        try:
            await store._write_sent()
            if self._write:
                store.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            store._lock.release()
            raise
        return Tx(store.db, store.conn, store._sending.ids)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        store = self._store
        try:
            if self._write:
                await store._end(exc_type is None)
        finally:
            store._lock.release()


def _open_problem(path: Path, exc: sqlite3.Error) -> str:
    """Why SQLite could not open or write `path`, in an operator's words."""
    if path.is_dir():
        return "it is a directory"
    if not os.access(path.parent, os.W_OK):
        return "the directory is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    return str(exc)


def _create_owner_only(path: Path) -> None:
    """A new database file is readable by its owner only (0600): it holds what a
    community knows about its most fragile people. SQLite gives its -wal and -shm files
    the database file's mode."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # a missing or read-only directory: the connect below says so


def _owner_only(path: Path) -> None:
    """Tighten a database made before (or by other tools) to 0600, with its -wal/-shm."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError as exc:
            log.warning("cannot make %s readable by its owner only: %s", file, exc.strerror)


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._conn: aiosqlite.Connection | None = None
        # One connection, one writer: SQLite serialises writes anyway, and holding the
        # lock for a whole transaction keeps a workflow's reads and writes consistent.
        self._lock = asyncio.Lock()
        # Deliveries noted but not yet written (see record_sent).
        self._sent: list[tuple[OutboxId, str, float]] = []
        self._sending = Sending()

    async def open(self) -> None:
        # Never made on the fly: a mistyped path, or a volume that is not mounted,
        # would otherwise quietly start a second, empty database elsewhere.
        if not self.path.parent.is_dir():
            raise StoreOpenError(f"cannot open database {self.path}: the directory does not exist")
        _create_owner_only(self.path)
        try:
            db = self._connect()
        except sqlite3.Error as exc:
            raise StoreOpenError(
                f"cannot open database {self.path}: {_open_problem(self.path, exc)}"
            ) from None
        _owner_only(self.path)
        conn = aiosqlite.Connection(lambda: db, 64)
        await conn  # starts aiosqlite's thread on the same connection
        self._db, self._conn = db, conn
        try:
            await self._migrate()
        except sqlite3.Error as exc:
            await self.close()
            raise StoreOpenError(
                f"cannot open database {self.path}: {_open_problem(self.path, exc)}"
            ) from None
        except BaseException:
            await self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        # Used from the loop's thread and from aiosqlite's, never at once (the lock).
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        try:
            self._configure(db)
        except BaseException:
            db.close()
            raise
        return db

    def _configure(self, db: sqlite3.Connection) -> None:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against process crashes under WAL; only an OS crash or power
        # cut can lose the last commits. FULL costs an fsync per commit.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 10000")
        # 32 MiB of page cache (the default is 2 MiB): a street's hot rows stay in memory.
        db.execute("PRAGMA cache_size = -32768")
        db.execute("PRAGMA temp_store = MEMORY")
        # Checkpoint (copy the WAL into the database, with an fsync) every ~40 MiB of
        # WAL rather than every 4 MiB: a batch of answers dirties pages all over the
        # file, and checkpointing after nearly every commit doubled its cost. It does
        # not change what a commit guarantees.
        db.execute("PRAGMA wal_autocheckpoint = 10000")
        # A checkpoint copies the WAL back but leaves the file at its largest size; this
        # cuts it back afterwards. The housekeeping job (`checkpoint`) empties it too.
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                await self._write_sent()
            await self._conn.close()
            self._conn = None
            self._db = None

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

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def schema_version(self) -> int:
        row = self.db.execute("PRAGMA user_version").fetchone()
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

    def sending(self, outbox_id: OutboxId) -> AbstractContextManager[None]:
        return self._sending.marked(outbox_id)

    def record_sent(self, outbox_id: OutboxId, message_id: str, now: datetime) -> None:
        """Note that a message went out. Noted deliveries are written together, in one
        transaction, before the store is next used for anything — so nothing can read
        a row as still pending after its send — and at close. If the process dies
        first, the message is sent again on restart: at least once, never lost."""
        self._sent.append((outbox_id, message_id, ts(now)))

    async def flush(self) -> None:
        """Write noted deliveries now rather than at the store's next use."""
        if self._sent:
            async with self._lock:
                await self._write_sent()

    async def _write_sent(self) -> None:
        if not self._sent:
            return
        batch, self._sent = self._sent, []
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            ok = False
            try:
                await Tx(db, self.conn).mark_sent_many(batch)
                ok = True
            finally:
                await self._end(ok)
        except BaseException:
            self._sent = batch + self._sent
            raise

    async def _end(self, commit: bool) -> None:
        db = self.db
        if not commit:
            # Through aiosqlite's queue, after anything a cancelled bulk statement left
            # running there.
            await self.conn.execute("ROLLBACK")
            return
        try:
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def transaction(self) -> _Transaction:
        """`async with store.transaction() as tx`: one write transaction."""
        return _Transaction(self, write=True)

    def read(self) -> _Transaction:
        """Reads only, without BEGIN/COMMIT: each statement sees committed data."""
        return _Transaction(self, write=False)

    async def append_inbound(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        # One writer at a time on the file: a transaction like any other.
        async with self.transaction() as tx:
            return await tx.store_inbound_many(events, now)

    async def lease_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        async with self.transaction() as tx:
            return await tx.take_for_sending(outbox_ids, now, lease_until)

    async def ping(self) -> bool:
        async with self._lock:
            return self.db.execute("SELECT 1").fetchone() is not None

    async def write_check(self, now: datetime) -> None:
        """One tiny write in its own transaction; raises when the database cannot take
        it (disk full, read-only file system, a broken file)."""
        async with self.transaction() as tx:
            await tx.write_check(now)

    # One process has the file to itself: there is nobody to share the named locks with.
    shared = False

    async def try_hold(self, name: str) -> bool:
        return True

    async def holding(self, name: str) -> bool:
        return True

    async def release(self, name: str) -> None:
        return None

    def watch(self, changed: Callable[[str], None]) -> None:
        """Nothing to watch: this process is the only one writing what its loops read."""

    async def checkpoint(self) -> None:
        """Copy the WAL into the database and empty the WAL file. Without it the WAL
        keeps its largest size between the automatic checkpoints: many times the size
        of a small database."""
        async with self._lock:
            await self._write_sent()
            # Through aiosqlite's thread: it writes and fsyncs the whole database file.
            rows = await self.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = next(iter(rows), (0,))[0]
        if busy:
            log.warning("WAL checkpoint could not finish (database busy)")
