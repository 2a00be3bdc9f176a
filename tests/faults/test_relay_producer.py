"""The outbox relay outlives a producer that died for good.

aiokafka's idempotent producer stops its sender on OutOfOrderSequenceNumber (seen
here when a broker that led a partition was killed and came back): every later send
fails. The relay starts a new producer (a new producer id) after a failed send and
publishes the waiting rows again, so the outbox drains instead of retrying forever.
"""
from __future__ import annotations

import json

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.db import Database
from shared.envelope import Actor
from shared.outbox import OutboxRelay
from shared.store import EventStore, Metadata
from shared.tables import backbone
from tests.integration.helpers import read_topic
from tests.support import ledger

pytestmark = pytest.mark.integration
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="relay-fault")


async def test_relay_replaces_a_dead_producer_and_loses_nothing(make_db_url, make_topic,
                                                                kafka_bootstrap):
    topic, db = make_topic(), Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", topic)
    async with db.transaction() as conn:
        for n in range(10):
            await store.append(conn, f"acct-{n % 3}", n // 3, [
                ledger.Deposited(amount=n, currency="KRW")], META)
    relay = OutboxRelay(db, kafka_bootstrap, "ledger", batch_size=4)
    await relay.start()
    dead = relay.producer

    async def wedged(*_args, **_kwargs):  # what every send does once the sender died
        raise OutOfOrderSequenceNumber()
    dead.send = wedged
    try:
        with pytest.raises(OutOfOrderSequenceNumber):
            await relay.publish_pending()
        assert await relay.drain() == 10
        assert relay.producer is not dead
    finally:
        await relay.stop()
        await db.dispose()
    ids = [json.loads(r.value)["event_id"] for r in await read_topic(kafka_bootstrap, topic)]
    assert len(ids) == len(set(ids)) == 10
