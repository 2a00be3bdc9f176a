"""A projection batch that fails because the database went away comes again.

The runner's rewind reads the stored offsets from the database; while the database
is away it cannot, and the runner used to go on with the next batch, leaving the
failed one unapplied (found by the soak: a PostgreSQL restart left an event out of
the audit timeline, and its stream's next events were parked as gaps).
"""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from shared.db import Database
from shared.deadletter import DeadLetters
from shared.envelope import Actor
from shared.outbox import OutboxRelay
from shared.projection import ProjectionRunner
from shared.store import EventStore, Metadata
from shared.tables import backbone
from tests.support import ledger

pytestmark = pytest.mark.integration
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="projection-outage")


async def _refuse(*_args) -> None:
    raise AssertionError("nothing may be parked")


async def test_a_batch_failed_while_the_database_is_away_is_applied_later(
        make_db_url, make_topic, kafka_bootstrap):
    topic, source = make_topic(1), Database(make_db_url(), backbone)
    await source.create_tables()
    store = EventStore("ledger", topic)
    async with source.transaction() as conn:
        for n in range(6):
            await store.append(conn, f"acct-{n % 2}", n // 2, [
                ledger.Deposited(amount=10 + n, currency="KRW")], META)
    relay = OutboxRelay(source, kafka_bootstrap, "ledger")
    await relay.start()
    assert await relay.drain() == 6
    await relay.stop()

    projection = ledger.Balances(topic)
    sink = Database(make_db_url(), backbone, projection.metadata)
    await sink.create_tables()
    runner = ProjectionRunner(projection, sink, kafka_bootstrap, DeadLetters("t", _refuse))
    await runner.start()
    away = asyncio.Event()
    away.set()
    apply, stored, reachable = projection.apply, runner._stored_offsets, sink.reachable

    def gone():
        return OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    async def apply_while_away(*args):
        if away.is_set():
            raise gone()
        return await apply(*args)

    async def stored_while_away():
        if away.is_set():
            raise gone()
        return await stored()

    async def reachable_while_away():
        return not away.is_set() and await reachable()
    projection.apply, runner._stored_offsets = apply_while_away, stored_while_away
    sink.reachable = reachable_while_away
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.sleep(3)  # a few failed batches while the database is away
        away.clear()
        for _ in range(300):
            async with sink.reading() as conn:
                rows = dict((await conn.execute(select(
                    projection.table.c.account, projection.table.c.total))).all())
            if rows == {"acct-0": 10 + 12 + 14, "acct-1": 11 + 13 + 15}:
                break
            await asyncio.sleep(0.2)
        assert rows == {"acct-0": 36, "acct-1": 39}, rows
    finally:
        stop.set()
        await running
        await runner.stop()
        await source.dispose()
        await sink.dispose()
