"""Which commits wait for the disk (shared/db.py `transaction(durable=…)`), on SQLite
and PostgreSQL: every transaction is durable unless it says otherwise, a relaxed one
leaves the next one on the same pooled connection durable, and no transaction that
records events may be relaxed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shared.db import Database
from shared.envelope import Actor
from shared.store import EventStore, Metadata
from shared.tables import backbone, events, outbox
from tests.conftest import BACKENDS
from tests.support import ledger

pytestmark = pytest.mark.integration


async def level(conn) -> str:
    """What this transaction's commit will do: durable or not."""
    if conn.dialect.name == "sqlite":  # 2 FULL, 1 NORMAL
        shown = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        return {2: "durable", 1: "relaxed"}[shown]
    shown = (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar()
    return {"on": "durable", "off": "relaxed"}[shown]


@BACKENDS
async def test_durable_unless_said_otherwise_and_never_carried_over(make_db_url):
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    try:
        seen = []
        for durable in (True, False, True, False, True):
            async with (db.transaction() if durable else
                        db.transaction(durable=False)) as conn:
                seen.append(await level(conn))
        assert seen == ["durable", "relaxed", "durable", "relaxed", "durable"]
    finally:
        await db.dispose()


@BACKENDS
async def test_events_are_never_recorded_in_a_relaxed_transaction(make_db_url):
    db = Database(make_db_url(), backbone, ledger.effects_md)
    await db.create_tables()
    store = EventStore("ledger", "t")
    meta = Metadata(actor=Actor(id="teller", role="clerk"), correlation_id="c")
    try:
        with pytest.raises(RuntimeError, match="durable"):
            async with db.transaction(durable=False) as conn:
                await store.append(conn, "acct-1", 0,
                                   [ledger.Deposited(amount=5, currency="KRW")], meta)
        async with db.reading() as conn:
            assert await conn.scalar(select(func.count()).select_from(events)) == 0
            assert await conn.scalar(select(func.count()).select_from(outbox)) == 0
    finally:
        await db.dispose()
