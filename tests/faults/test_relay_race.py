"""Two outbox relays on one database (a second instance during a rolling update or
a rebalance) must not delete each other's unpublished rows.

Found by `hyeopchi soak`: SQLite reuses the largest rowid + 1 once a table is empty,
so when relay B had published and deleted every row, the next appended event took a
position relay A had read before. A then deleted "its" positions after publishing
and took the new, never published row with them: six submission events stored and
never on the topic, and their streams' next events parked as gaps downstream.
"""
from __future__ import annotations

import json

import pytest

from shared.db import Database
from shared.envelope import Actor
from shared.outbox import OutboxRelay
from shared.store import EventStore, Metadata
from shared.tables import backbone
from tests.conftest import BACKENDS
from tests.integration.helpers import read_topic
from tests.support import ledger

pytestmark = pytest.mark.integration
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="relay-race")


@BACKENDS
async def test_a_relay_never_deletes_a_row_it_did_not_publish(make_db_url, make_topic,
                                                              kafka_bootstrap):
    topic, db = make_topic(), Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", topic)

    async def deposit(stream: str, version: int, amount: int) -> None:
        async with db.transaction() as conn:
            await store.append(conn, stream, version, [
                ledger.Deposited(amount=amount, currency="KRW")], META)
    for n in range(3):
        await deposit(f"acct-{n}", 0, n)
    first, second = (OutboxRelay(db, kafka_bootstrap, "ledger") for _ in range(2))
    await first.start()
    await second.start()
    send, raced = first.producer.send, []

    async def send_after_the_other_relay(*args, **kwargs):
        if not raced:  # A has read its rows; B publishes and deletes them all first,
            raced.append(await second.publish_pending())
            await deposit("acct-late", 0, 99)  # and a new event is appended
        return await send(*args, **kwargs)
    first.producer.send = send_after_the_other_relay
    try:
        assert await first.publish_pending() == 3
        assert raced == [3]
        assert await second.drain() == 1, "the late event's row must still be queued"
    finally:
        await first.stop()
        await second.stop()
        await db.dispose()
    ids = [json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic)]
    assert len(set(ids)) == 4  # three (each published twice) and the late one
