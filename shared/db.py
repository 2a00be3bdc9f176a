"""One database per service: SQLite file by default, PostgreSQL via DATABASE_URL."""
from __future__ import annotations

import asyncio
import weakref
from contextlib import asynccontextmanager
from typing import AsyncIterator

from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from . import sqlite_inline

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
OUTBOX_QUEUED = "hyeopchi.outbox_queued"
RELAXED = "hyeopchi_relaxed"  # execution option: this transaction need not be durable


def queued_outbox(conn: AsyncConnection) -> None:
    """Say that this transaction queued outbox rows: the relay wakes once it commits."""
    conn.info[OUTBOX_QUEUED] = True


def async_url(url: str) -> str:
    """Accept plain `sqlite:///f.db` / `postgresql://…` and pick the async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=DRIVERS[backend]).render_as_string(hide_password=False)


class Database:
    """An async engine plus the tables it holds; `transaction()` is the unit of work."""

    def __init__(self, url: str, *metadatas: MetaData, echo: bool = False,
                 background_checkpoints: bool = False):
        """`background_checkpoints`: SQLite's WAL is checkpointed by a thread of this
        object's (sqlite_inline.Checkpointer), never inside a commit: for a service."""
        self.url = async_url(url)
        self.metadatas = list(metadatas)
        self.is_sqlite = self.url.startswith("sqlite")
        # SQLite connections are pooled too: opening one per transaction (a thread, a
        # file handle, the pragmas) cost ~10 ms and capped a service near 100
        # transactions/s (90 against 660 commits/s pooled, same file). Each statement
        # runs at once in the loop's thread (sqlite_inline: no aiosqlite thread hop);
        # writers of this process queue on `_writers` instead of on SQLite's lock.
        options = ({"async_creator": sqlite_inline.creator(
            make_url(self.url).database or ":memory:")} if self.is_sqlite
            else {"pool_pre_ping": True})
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, **options)
        path = make_url(self.url).database or ":memory:"
        self._checkpointer = (sqlite_inline.Checkpointer(path) if self.is_sqlite
                              and background_checkpoints and path != ":memory:" else None)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine, autocheckpoint=self._checkpointer is None)
        if self._checkpointer:
            self._checkpointer.start()
        self._writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Set when a transaction that queued outbox rows commits: the relay wakes on
        # it instead of polling (shared/outbox.py); `queued_outbox` marks such a one.
        self._outbox_watchers: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            for md in self.metadatas:
                await conn.run_sync(md.create_all)

    @asynccontextmanager
    async def transaction(self, durable: bool = True) -> AsyncIterator[AsyncConnection]:
        """A write transaction. `durable=False`: its commit does not wait for the disk
        (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit off), so a power
        loss may undo it, and only it and later ones: never half of it, never an
        earlier one. For writes the log redoes (a projection's rows with their
        offsets, the relay forgetting what it published), never for events."""
        if not self.is_sqlite:
            async with self._transaction(durable) as conn:
                yield conn
            return
        async with self._writer_lock(), self._transaction(durable) as conn:
            yield conn

    def _writer_lock(self) -> asyncio.Lock:
        """One SQLite writer of this process at a time, in order (per event loop)."""
        loop = asyncio.get_running_loop()
        lock = self._writers.get(loop)
        if lock is None:
            lock = self._writers[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _transaction(self, durable: bool) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            if not durable:  # SQLite: read by the begin hook, before BEGIN
                await conn.execution_options(**{RELAXED: True})
            async with conn.begin():
                if not durable and not self.is_sqlite:
                    await conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                # The info dict lives with the pooled connection: a rolled-back
                # transaction may have left the mark. Read only while the connection
                # is sound: touching a broken one would hide the real error behind
                # PendingRollbackError.
                conn.info.pop(OUTBOX_QUEUED, None)
                yield conn
                queued = conn.info.pop(OUTBOX_QUEUED, False)
                if queued and not durable:
                    raise RuntimeError("events are recorded only in durable transactions")
        if queued:
            for watcher in self._outbox_watchers:
                watcher.set()

    def watch_outbox(self) -> asyncio.Event:
        """An event set each time a transaction that queued outbox rows commits
        (made in the caller's loop; forgotten with it)."""
        watcher = asyncio.Event()
        self._outbox_watchers.add(watcher)
        return watcher

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A read: on SQLite a deferred transaction, so it never waits for a writer."""
        async with self.engine.connect() as conn:
            yield await conn.execution_options(read_only=True)

    async def reachable(self) -> bool:
        """Does the database answer? Tells an outage from a failure of one record."""
        try:
            async with self.reading() as conn:
                await conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._checkpointer:
            await asyncio.to_thread(self._checkpointer.stop)


def _sqlite_pragmas(engine: AsyncEngine, autocheckpoint: bool) -> None:
    # WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the write lock up
    # front (waiting with the loop free) instead of failing mid-transaction.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001
        if dbapi_conn.isolation_level is not None:  # sqlite_inline opens it so
            dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not autocheckpoint:  # a Checkpointer thread does it
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):  # noqa: ANN001
        options = conn.get_execution_options()
        if options.get("read_only", False):
            conn.exec_driver_sql("BEGIN")
            return
        raw = conn.connection.driver_connection._conn
        # Set for each write transaction (it cannot change inside one): FULL unless
        # this one is relaxed (Database.transaction(durable=False)).
        raw.execute("PRAGMA synchronous=NORMAL" if options.get(RELAXED) else
                    "PRAGMA synchronous=FULL")
        await_(sqlite_inline.begin_immediate(raw))  # waits with the loop free
