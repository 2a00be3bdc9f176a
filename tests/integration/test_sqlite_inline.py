"""SQLite without aiosqlite's thread hop (shared/sqlite_inline.py): statements run in
the loop's thread, yet a writer waiting for another process's lock leaves the loop
free, writers of one process take turns, and a lock held too long is an error."""
from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import func, insert, select, text

from shared import sqlite_inline
from shared.db import Database
from shared.tables import backbone, outbox

pytestmark = pytest.mark.integration


async def rows(db: Database) -> int:
    async with db.reading() as conn:
        return await conn.scalar(select(func.count()).select_from(outbox))


async def test_a_writer_waits_for_another_connections_lock_with_the_loop_free(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'w.db'}", backbone)
    await db.create_tables()
    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def write():
        async with db.transaction() as conn:
            await conn.execute(insert(outbox).values(event_id="e-1", topic="t"))
    beating = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done(), "the lock is held: the writer must still be waiting"
    assert ticks >= 20, f"the loop must run while the writer waits ({ticks} ticks)"
    assert await rows(db) == 0  # a reader is not blocked by the waiting writer
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 5)
    beating.cancel()
    assert await rows(db) == 1
    other.close()
    await db.dispose()


async def test_writers_of_one_process_take_turns_and_all_commit(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'turns.db'}", backbone)
    await db.create_tables()
    inside, most = 0, 0

    async def write(k: int):
        nonlocal inside, most
        async with db.transaction() as conn:
            inside += 1
            most = max(most, inside)
            await conn.execute(insert(outbox).values(event_id=f"e-{k}", topic="t"))
            await asyncio.sleep(0.002)  # other work awaited mid-transaction
            inside -= 1
    await asyncio.gather(*(write(k) for k in range(30)))
    assert most == 1
    assert await rows(db) == 30
    await db.dispose()


async def test_a_lock_held_past_the_wait_is_an_error_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_inline, "LOCK_WAIT_S", 0.2)
    db = Database(f"sqlite:///{tmp_path / 'held.db'}", backbone)
    await db.create_tables()
    other = sqlite3.connect(tmp_path / "held.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(Exception, match="locked"):
        async with db.transaction() as conn:
            await conn.execute(insert(outbox).values(event_id="e-1", topic="t"))
    other.execute("ROLLBACK")
    async with db.transaction() as conn:  # the pool's connection is usable again
        await conn.execute(insert(outbox).values(event_id="e-2", topic="t"))
    assert await rows(db) == 1
    other.close()
    await db.dispose()


async def test_a_service_database_checkpoints_in_its_own_thread(tmp_path):
    """Commits never checkpoint (that stalled the loop); the thread copies the WAL."""
    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}", backbone, background_checkpoints=True)
    await db.create_tables()
    try:
        async with db.reading() as conn:
            assert await conn.scalar(text("PRAGMA wal_autocheckpoint")) == 0
        written = 300 * 20_000  # far past SQLite's default of 1,000 pages
        for k in range(300):
            async with db.transaction() as conn:
                await conn.execute(insert(outbox).values(event_id=f"e-{k}", topic="t",
                                                         trace_context="x" * 20_000))
        # In WAL mode only a checkpoint writes pages into the database file itself.
        for _ in range(100):
            if path.stat().st_size > written:
                break
            await asyncio.sleep(0.05)
        assert path.stat().st_size > written
    finally:
        await db.dispose()
    assert not any(t.name == "sqlite-checkpoint" for t in threading.enumerate())


async def test_without_the_thread_commits_checkpoint_as_sqlite_does(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'd.db'}", backbone)
    await db.create_tables()
    try:
        async with db.reading() as conn:
            assert await conn.scalar(text("PRAGMA wal_autocheckpoint")) == 1000
    finally:
        await db.dispose()
