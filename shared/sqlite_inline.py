"""SQLite without a thread hop: aiosqlite's interface, each call run at once.

aiosqlite hands every statement to its own thread and waits for a future: about
400 µs a statement here, against microseconds for the work itself. SQLite is a file
on the same machine; only waiting for another writer's lock can take long, and that
wait is made here with `asyncio.sleep` (`begin_immediate`), never by blocking the
loop. A COMMIT's fsync does block the loop, for as long as the disk takes: in a
worker thread it cost more than it saved (the thread waits for the busy loop's GIL,
up to its 5 ms switch interval, to return: latency p50 17 -> 22 ms at 200/s).
SQLAlchemy keeps its aiosqlite dialect; only the connection underneath changes
(`create_async_engine(async_creator=…)`).
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any, Callable

import aiosqlite
import structlog

log = structlog.get_logger("sqlite")

LOCK_WAIT_S = 30.0  # how long a writer waits for another writer's lock
BUSY_TIMEOUT_MS = 200  # what any other statement may wait inside SQLite itself


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the caller's thread (no worker)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]):
        super().__init__(connector, iter_chunk_size=64)

    def __await__(self):
        return self._connect().__await__()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn, *args, **kwargs) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def creator(path: str) -> Callable[[], Any]:
    async def connect() -> InlineConnection:
        return await InlineConnection(lambda: sqlite3.connect(
            path, isolation_level=None, check_same_thread=False))
    return connect


async def begin_immediate(raw: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's writer without blocking the
    loop: SQLite is asked not to wait, and a busy answer is retried after a sleep."""
    deadline, delay = time.monotonic() + LOCK_WAIT_S, 0.0005
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as busy:
                if "locked" not in str(busy) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Checkpointer:
    """WAL checkpoints in a thread of their own, off the event loop.

    By default the writer that pushes the WAL past 1,000 pages copies it into the
    database file and syncs it, inside its COMMIT: with the loop blocked for as long
    (a stall of over 100 ms every few thousand events, the latency's p99). Here the
    service's connections do not checkpoint (`wal_autocheckpoint=0`, set by Database)
    and this thread runs a PASSIVE checkpoint every `every` seconds: it copies what no
    reader still needs, never waits for a lock, and sqlite3 lets go of the GIL meanwhile.
    """

    def __init__(self, path: str, every: float = 0.5):
        self.path, self.every = path, every
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            while not self._halt.wait(self.every):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # busy or locked now: next time
                    log.debug("checkpoint_skipped", error=str(error))
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()
