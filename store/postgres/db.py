"""A PostgreSQL database shared by one or more carecheck instances: a pool of
connections, migrations, transactions, and locks that one instance at a time holds."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import urllib.parse
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import asyncpg

from core.ids import OutboxId
from store.postgres.away import AwayRepo
from store.postgres.care import CareRepo
from store.postgres.console import ConsoleRepo
from store.postgres.deadletters import DeadLetterRepo
from store.postgres.delivery import DeliveryRepo
from store.postgres.history import HistoryRepo
from store.postgres.migrations import LATEST, MIGRATIONS, VERSION_TABLE
from store.postgres.misc import MiscRepo
from store.postgres.needs import NeedsRepo
from store.postgres.people import PeopleRepo
from store.postgres.privacy import PrivacyRepo
from store.postgres.records import SchemaTooNew, StoreOpenError, ts
from store.postgres.users import UsersRepo
from store.postgres.watch import WatchRepo
from store.sending import Sending

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 10.0
# About 130 distinct statements: keep every one prepared on every connection.
STATEMENT_CACHE = 512
# Taken while migrating, so instances starting together migrate one after the other.
MIGRATION_LOCK = "carecheck:migrate"

# The channel the wake-up trigger (migration 7) notifies on, and how long a lost
# listening connection waits before it connects again.
WAKE_CHANNEL = "carecheck_wake"
WATCH_RETRY = 2.0
WATCHED = ("outbox", "timers", "inbox")

# What is wrong when the server cannot be reached or refuses us.
_OPEN_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PgTx(
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
        self, conn: asyncpg.Connection, sending: AbstractSet[OutboxId] = frozenset()
    ) -> None:
        self.conn = conn
        self.sending = sending

    def savepoint(self) -> PgSavepoint:
        """A nested unit inside the transaction: one failing event rolls back alone."""
        return PgSavepoint(self.conn)


class PgSavepoint:
    def __init__(self, conn: asyncpg.Connection) -> None:
        # Inside a transaction, asyncpg makes a nested one a SAVEPOINT.
        self._inner = conn.transaction()

    async def __aenter__(self) -> None:
        await self._inner.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc_type is None:
            await self._inner.commit()
        else:
            await self._inner.rollback()


class _PgTransaction:
    """One pooled connection; for writes, BEGIN … COMMIT (or ROLLBACK) on it while
    holding the store's write lock."""

    def __init__(self, store: PgStore, *, write: bool) -> None:
        self._store = store
        self._write = write
        self._conn: Any = None
        self._xact: Any = None

    async def __aenter__(self) -> PgTx:
        store = self._store
        if self._write:
            await store._write_lock.acquire()
        try:
            # What was noted before this transaction began is written before it.
            await store._write_sent()
            conn = await store.pool.acquire()
            try:
                if self._write:
                    xact = conn.transaction()
                    await xact.start()
                    self._xact = xact
            except BaseException:
                await store.pool.release(conn)
                raise
        except BaseException:
            if self._write:
                store._write_lock.release()
            raise
        self._conn = conn
        return PgTx(conn, store._sending.ids)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        store = self._store
        try:
            if self._xact is not None:
                if exc_type is None:
                    await self._xact.commit()
                else:
                    try:
                        await self._xact.rollback()
                    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                        # The connection is broken; the server rolls back on its own,
                        # and the pool drops the connection. The first error matters.
                        log.debug("rollback failed", exc_info=True)
        finally:
            try:
                await store.pool.release(self._conn)
            finally:
                if self._write:
                    store._write_lock.release()


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def lock_key(name: str) -> int:
    """A named lock's 64-bit key for pg_advisory_lock (stable across versions)."""
    digest = hashlib.sha256(b"carecheck:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def display_url(url: str) -> str:
    """The URL without its password, for messages and logs: neither the one before
    the host nor a `password=` parameter (libpq and asyncpg accept both)."""
    url = _QUERY_PASSWORD.sub(r"\1***", url)
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class PgStore:
    """The store on PostgreSQL. Same API as the SQLite store (store.sqlite.Store):
    both implement core.ports.Store.

    Inside one process write transactions run one at a time, as on SQLite: the
    workflows read, decide and write in one transaction and were written for that.
    Reads run beside them on other pooled connections, each statement seeing what is
    committed. Several processes may share the database: what could be handed to two
    of them (a due timer, an inbound event, a message to send) is claimed with a row
    lock that the other skips (claim_timer, claim_inbound, claim_sendable), and a loop
    that only one process may run (receiving from a platform) is guarded by a named
    lock (try_hold): held while the holder's connection lives.
    """

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self._url = url
        self.display_url = display_url(url)
        self._max_connections = max_connections
        self._pool: Any = None
        self._write_lock = asyncio.Lock()
        # Inbound events are stored beside the write transactions, one append at a time.
        self._append_lock = asyncio.Lock()
        # Deliveries noted but not yet written (see record_sent), and the lock held
        # while a batch of them is written.
        self._sent: list[tuple[OutboxId, str, float]] = []
        self._flush_lock = asyncio.Lock()
        self._sending = Sending()
        # Named locks held: each on a connection of its own, outside the pool.
        self._held: dict[str, Any] = {}
        # Written as application_name on every connection: the wake-up trigger puts it
        # in its notification, so this instance can tell its own writes from others'.
        self.instance = f"carecheck-{secrets.token_hex(6)}"
        self._watcher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"PgStore({self.display_url!r})"

    async def open(self) -> None:
        try:
            pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._max_connections,
                timeout=CONNECT_TIMEOUT,
                statement_cache_size=STATEMENT_CACHE,
                reset=_keep_session,
                server_settings={"application_name": self.instance},
            )
        except _OPEN_ERRORS as exc:
            raise StoreOpenError(
                f"cannot open database {self.display_url}: {_reason(exc)}"
            ) from None
        self._pool = pool
        try:
            await self._migrate()
        except SchemaTooNew:
            await self.close()
            raise
        except _OPEN_ERRORS as exc:
            await self.close()
            raise StoreOpenError(
                f"cannot open database {self.display_url}: {_reason(exc)}"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._pool is None:
            return
        try:
            await self._write_sent()
        finally:
            for name in list(self._held):
                await self.release(name)
            pool, self._pool = self._pool, None
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await pool.close()
            except TimeoutError:
                log.warning("database connections still busy after %gs: closed", CLOSE_TIMEOUT)
                pool.terminate()

    async def __aenter__(self) -> PgStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def schema_version(self) -> int:
        async with self.pool.acquire() as conn:
            return await _version(conn)

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # Instances started together: the first migrates, the others wait for it
            # and then find nothing left to do.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(MIGRATION_LOCK))
            await conn.execute(VERSION_TABLE)
            version = await _version(conn)
            if version > LATEST:
                raise SchemaTooNew(
                    f"{self.display_url} has schema version {version}; "
                    f"this carecheck knows up to {LATEST}"
                )
            for target in range(version + 1, LATEST + 1):
                log.info("migrating database to schema version %d", target)
                await conn.execute(MIGRATIONS[target - 1])
                await conn.execute(
                    "INSERT INTO schema_version (version) VALUES ($1) "
                    "ON CONFLICT (only_row) DO UPDATE SET version = excluded.version",
                    target,
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
        await self._write_sent()

    async def _write_sent(self) -> None:
        # A read that starts while a batch is being written waits for it: until it is
        # committed, its rows would still read as pending.
        if not self._sent and not self._flush_lock.locked():
            return
        async with self._flush_lock:
            if not self._sent:
                return
            batch, self._sent = self._sent, []
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await PgTx(conn).mark_sent_many(batch)
            except BaseException:
                self._sent = batch + self._sent
                raise

    def transaction(self) -> _PgTransaction:
        """`async with store.transaction() as tx`: one write transaction."""
        return _PgTransaction(self, write=True)

    def read(self) -> _PgTransaction:
        """Reads only, without BEGIN/COMMIT: each statement sees committed data."""
        return _PgTransaction(self, write=False)

    async def append_inbound(
        self, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[bool]:
        # One statement on a connection of its own, committed by itself: it does not
        # wait for the write lock (an insert decides nothing the workflows read), only
        # for the append before it, so events keep the order they were handed in.
        async with self._append_lock, self.pool.acquire() as conn:
            return await PgTx(conn).store_inbound_many(events, now)

    async def lease_for_sending(
        self, outbox_ids: Sequence[OutboxId], now: datetime, lease_until: datetime
    ) -> set[OutboxId]:
        # One statement committed by itself; rows another transaction has locked are
        # skipped, not waited for. Deliveries noted so far are written first, as before
        # any transaction: the fewer sends unrecorded, the fewer sent twice after a crash.
        await self._write_sent()
        async with self.pool.acquire() as conn:
            return await PgTx(conn).take_for_sending(outbox_ids, now, lease_until)

    async def ping(self) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)

    async def write_check(self, now: datetime) -> None:
        """One tiny write in its own transaction; raises when the database cannot take
        it (disk full, a read-only replica, the server gone)."""
        async with self.transaction() as tx:
            await tx.write_check(now)

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL checkpoints its write-ahead log on its own. Here
        so the housekeeping job runs the same on either store."""
        await self._write_sent()

    # -- named locks ------------------------------------------------------------------

    # Other instances may share this database.
    shared = True

    async def try_hold(self, name: str) -> bool:
        """Take the lock `name` if no other instance holds it; True if this one holds it
        now. It stays held while this store is open and its connection lives: when the
        holder's process dies or loses the server, the server lets it go and the next
        instance to try takes over. Call again now and then to take over; call
        `holding` now and then to notice having lost it."""
        conn = self._held.get(name)
        if conn is not None and not conn.is_closed():
            return True
        self._held.pop(name, None)
        try:
            conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT)
        except _OPEN_ERRORS as exc:
            raise StoreOpenError(
                f"cannot reach database {self.display_url}: {_reason(exc)}"
            ) from None
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name))
        except BaseException:
            conn.terminate()
            raise
        if not got:
            await conn.close()
            return False
        self._held[name] = conn
        log.info("holding %s", name)
        return True

    async def holding(self, name: str) -> bool:
        """Whether this instance still holds `name`: its connection answers. (A session
        lock ends only with its session, and this store never unlocks one otherwise.)"""
        conn = self._held.get(name)
        if conn is None:
            return False
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await conn.fetchval("SELECT 1")
        except (*_OPEN_ERRORS, TimeoutError):
            self._held.pop(name, None)
            conn.terminate()
            log.warning("lost %s: its database connection is gone", name)
            return False
        return True

    async def release(self, name: str) -> None:
        """Let `name` go (closing its connection ends the session, and the lock)."""
        conn = self._held.pop(name, None)
        if conn is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await conn.close()
        except (*_OPEN_ERRORS, TimeoutError):
            conn.terminate()

    # -- waking other instances ----------------------------------------------------

    def watch(self, changed: Callable[[str], None]) -> None:
        """Call `changed(table)` when another instance (or a `carecheck` command) adds
        messages to send, deadlines or inbound events: the wake-up trigger notifies on
        a connection of its own that LISTENs. After that connection was lost, and when
        it first listens, every table counts as changed."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(changed), name="pg-watch")

    async def _watch(self, changed: Callable[[str], None]) -> None:
        while True:
            try:
                await self._listen(changed)
            except (*_OPEN_ERRORS, TimeoutError) as exc:
                log.warning("not told of other instances' writes: %s; retrying", _reason(exc))
            await asyncio.sleep(WATCH_RETRY)

    async def _listen(self, changed: Callable[[str], None]) -> None:
        """One listening connection, until it is lost."""

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            table, _, writer = payload.partition(" ")
            if writer != self.instance:
                changed(table)

        lost = asyncio.Event()
        conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT)
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(WAKE_CHANNEL, notified)
            for table in WATCHED:
                changed(table)
            # Polled as well: a connection that dies without closing (the server's
            # host gone) tells no termination listener.
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await lost.wait()
                if not lost.is_set():
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()


async def _keep_session(conn: Any) -> None:
    """Nothing to reset when a connection goes back to the pool: carecheck keeps no
    session state on pooled connections (named locks have connections of their own;
    SET CONSTRAINTS lasts one transaction). asyncpg still rolls back a transaction left
    open. The default reset (unlock all, close cursors, unlisten, RESET ALL) is one
    more round trip on every transaction and every read."""


async def _version(conn: Any) -> int:
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return 0
    version = await conn.fetchval("SELECT version FROM schema_version")
    return 0 if version is None else int(version)
