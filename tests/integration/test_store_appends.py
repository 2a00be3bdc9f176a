"""Appends on SQLite and PostgreSQL: a writer that knows the stream's head (from the
aggregate it loaded) does not read it again; the unique (stream_id, stream_version)
still stops a stale writer, and then nothing of its append is stored. A unit of work
writes all its streams' events in one insert and their outbox rows in one more."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from shared.aggregate import Aggregate
from shared.application import Repository, UnitOfWork
from shared.auth import Principal
from shared.db import Database
from shared.envelope import GENESIS_HASH, Actor, sealed_record
from shared.store import ConcurrencyError, EventStore, Metadata
from shared.tables import backbone, events, outbox
from tests.conftest import BACKENDS
from tests.support import ledger
from tests.support.statements import statements

pytestmark = pytest.mark.integration
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="corr-1")
CLERK = Principal("clerk-1", "clerk")


class Account(Aggregate[int]):
    def initial(self) -> int:
        return 0

    def evolve(self, state: int, e) -> int:
        return state + e.amount

    def deposit(self, *amounts: int) -> list:
        return [ledger.Deposited(amount=a, currency="KRW") for a in amounts]


def deposits(*amounts: int) -> list:
    return [ledger.Deposited(amount=a, currency="KRW") for a in amounts]


async def counts(db: Database) -> tuple[int, int]:
    async with db.reading() as conn:
        return (await conn.scalar(select(func.count()).select_from(events)),
                await conn.scalar(select(func.count()).select_from(outbox)))


async def fresh(make_db_url) -> Database:
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    return db


@BACKENDS
async def test_a_known_head_is_not_read_again(make_db_url):
    db, store = await fresh(make_db_url), EventStore("ledger", "t")
    try:
        async with db.transaction() as conn:
            with statements(db) as new:  # at version 0 the head is the genesis hash
                first = await store.append(conn, "acct-1", 0, deposits(1, 2), META)
            with statements(db) as unknown:
                second = await store.append(conn, "acct-1", 2, deposits(3), META)
            with statements(db) as known:
                more = await store.append(conn, "acct-1", 3, deposits(4, 5), META,
                                          expected_head=second[-1].hash)
        inserts = [["INSERT", "INTO", "EVENTS"], ["INSERT", "INTO", "OUTBOX"]]
        assert unknown[0][0].startswith("SELECT") and len(unknown) == 3
        assert [s.split()[:3] for s, _ in new] == inserts
        assert [s.split()[:3] for s, _ in known] == inserts
        first += second
        async with db.reading() as conn:
            stream = await store.read_stream(conn, "acct-1")
            bodies = (await conn.execute(select(events.c.body)
                                         .order_by(events.c.position))).scalars().all()
        assert stream == first + more
        assert [e.prev_hash for e in stream] == [GENESIS_HASH,
                                                 *(e.hash for e in stream[:-1])]
        for body, envelope in zip(bodies, stream):
            assert body == envelope.to_json()  # the sealed bytes, stored as they were
            assert sealed_record(body.encode(), envelope)
    finally:
        await db.dispose()


@BACKENDS
async def test_a_stale_known_head_is_a_conflict_and_stores_nothing(make_db_url):
    db, store = await fresh(make_db_url), EventStore("ledger", "t")
    try:
        async with db.transaction() as conn:
            loaded = await store.append(conn, "acct-1", 0, deposits(1, 2), META)
        head = loaded[-1].hash  # what a writer loaded: version 2
        async with db.transaction() as conn:  # another writer moves the stream on
            await store.append(conn, "acct-1", 2, deposits(10), META)
        with pytest.raises(ConcurrencyError, match="another writer got there first"):
            async with db.transaction() as conn:
                await store.append(conn, "acct-1", 2, deposits(20, 30), META,
                                   expected_head=head)
        assert await counts(db) == (3, 3)
        async with db.reading() as conn:
            stream = await store.read_stream(conn, "acct-1")
        assert [e.payload["amount"] for e in stream] == [1, 2, 10]
        assert stream[2].prev_hash == head
    finally:
        await db.dispose()


@BACKENDS
async def test_a_unit_of_work_writes_every_stream_in_one_insert(make_db_url):
    db, store = await fresh(make_db_url), EventStore("ledger", "t")
    repository = Repository(store, ledger.registry)
    try:
        async with db.transaction() as conn:
            await store.append(conn, "acct-a", 0, deposits(1), META)
        async with db.transaction() as conn:
            uow = UnitOfWork(conn, repository, CLERK, "corr-2")
            a = await uow.get(Account, "acct-a")
            b = await uow.get(Account, "acct-b")  # new: its head is the genesis hash
            uow.record(a, a.deposit(2, 3))
            uow.record(b, b.deposit(4))
            with statements(db) as seen:
                appended = await uow.commit()
        assert seen == [(seen[0][0], True), (seen[1][0], True)]
        assert [s.split()[2] for s, _ in seen] == ["EVENTS", "OUTBOX"]
        assert [(e.stream_id, e.stream_version) for e in appended] == [
            ("acct-a", 2), ("acct-a", 3), ("acct-b", 1)]
        async with db.reading() as conn:
            assert await store.verify(conn) == 4
        # the unit of work carries the heads it wrote: a second commit reads none
        async with db.transaction() as conn:
            uow = UnitOfWork(conn, repository, CLERK, "corr-3")
            a = await uow.get(Account, "acct-a")
            uow.record(a, a.deposit(5))
            await uow.flush()
            a = await uow.get(Account, "acct-a")
            uow.record(a, a.deposit(6))
            with statements(db) as seen:
                await uow.commit()
        assert [s.split()[0] for s, _ in seen] == ["INSERT", "INSERT"]
        async with db.reading() as conn:
            assert await store.verify(conn) == 6
            assert [e.payload["amount"] for e in await store.read_stream(conn, "acct-a")
                    ] == [1, 2, 3, 5, 6]
    finally:
        await db.dispose()


@BACKENDS
async def test_a_unit_of_work_with_one_stale_stream_stores_nothing(make_db_url):
    db, store = await fresh(make_db_url), EventStore("ledger", "t")
    repository = Repository(store, ledger.registry)
    try:
        async with db.transaction() as conn:
            await store.append(conn, "acct-a", 0, deposits(1), META)
            await store.append(conn, "acct-b", 0, deposits(1), META)
        with pytest.raises(ConcurrencyError, match="acct-b"):
            if db.is_sqlite:
                # A SQLite writer holds the lock for its whole transaction (BEGIN
                # IMMEDIATE), so a head goes stale only between transactions: load in
                # one, let the other writer in, write in the next.
                async with db.reading() as conn:
                    uow = UnitOfWork(conn, repository, CLERK, "corr-2")
                    a = await uow.get(Account, "acct-a")
                    b = await uow.get(Account, "acct-b")
                async with db.transaction() as other:
                    await store.append(other, "acct-b", 1, deposits(9), META)
                async with db.transaction() as conn:
                    uow.conn = conn
                    uow.record(a, a.deposit(2))
                    uow.record(b, b.deposit(3))
                    await uow.commit()
            else:  # PostgreSQL: another transaction commits while this one runs
                async with db.transaction() as conn:
                    uow = UnitOfWork(conn, repository, CLERK, "corr-2")
                    a = await uow.get(Account, "acct-a")
                    b = await uow.get(Account, "acct-b")
                    async with db.transaction() as other:
                        await store.append(other, "acct-b", 1, deposits(9), META)
                    uow.record(a, a.deposit(2))
                    uow.record(b, b.deposit(3))
                    await uow.commit()
        assert await counts(db) == (3, 3)
        async with db.reading() as conn:
            assert [e.payload["amount"] for e in await store.read_stream(conn, "acct-a")
                    ] == [1]
            assert await store.verify(conn) == 3
    finally:
        await db.dispose()


@BACKENDS
async def test_heads_are_each_streams_last_version_and_hash(make_db_url):
    db, store = await fresh(make_db_url), EventStore("ledger", "t")
    try:
        async with db.transaction() as conn:
            a = await store.append(conn, "acct-a", 0, deposits(1, 2, 3), META)
            b = await store.append(conn, "acct-b", 0, deposits(4), META)
        async with db.reading() as conn:
            heads = await store.read_heads(conn, ["acct-a", "acct-b", "acct-none"])
        assert heads == {"acct-a": (3, a[-1].hash), "acct-b": (1, b[-1].hash)}
    finally:
        await db.dispose()
