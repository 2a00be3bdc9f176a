"""Two instances of a consumer applying the same record at once (a rebalance hands a
partition over while the first instance is still in its transaction).

Found by `hyeopchi soak`, on PostgreSQL: the second instance's inbox check ran before
the first one committed, its stream-order check after (READ COMMITTED: each
statement sees the latest commit), so the record looked like a fork ("v1 after v1")
and was dead-lettered, though it was the same record, applied once. It must count as
a duplicate: applied once, parked never.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from shared import consumer as consumer_module
from shared.consumer import ReliableHandler, envelope_decoder
from shared.db import Database
from shared.deadletter import DeadLetters, Delivery
from shared.envelope import GENESIS_HASH, seal
from shared.tables import backbone, inbox
from tests.support import ledger

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_the_same_record_at_two_instances_is_a_duplicate_not_a_fork(make_db_url,
                                                                           monkeypatch):
    url = make_db_url()
    db = Database(url, backbone, ledger.effects_md)
    await db.create_tables()
    parked = []

    async def park(topic, value, key, headers):
        parked.append(dict(headers).get("x-dlq-reason"))

    def handler(name: str) -> ReliableHandler:
        return ReliableHandler("totals", Database(url, backbone, ledger.effects_md),
                               envelope_decoder(ledger.registry), ledger.add_to_total,
                               DeadLetters(name, park))
    first, second = handler("first"), handler("second")
    record = _delivery()
    real, raced = consumer_module._in_stream_order, []

    async def first_commits_meanwhile(conn, name, envelope):
        if not raced:  # the second instance has checked its inbox: the first commits
            raced.append("running")  # (the first one's own check goes straight through)
            raced[0] = await first.handle(record)
        return await real(conn, name, envelope)
    monkeypatch.setattr(consumer_module, "_in_stream_order", first_commits_meanwhile)
    try:
        outcome = await second.handle(record)
        async with db.reading() as conn:
            applied = await conn.scalar(select(func.count()).select_from(inbox))
    finally:
        for d in (db, first.db, second.db):
            await d.dispose()
    assert raced == ["applied"]
    assert outcome == "duplicate", parked
    assert parked == [] and applied == 1


def _delivery() -> Delivery:
    t = datetime(2021, 3, 1, tzinfo=timezone.utc)
    env = seal({"event_id": "evt-race-1", "event_type": "ledger.Deposited",
                "schema_version": 2, "stream_id": "acct-race", "stream_version": 1,
                "occurred_at": t, "recorded_at": t,
                "actor": {"id": "clerk", "role": "teller"}, "correlation_id": "c",
                "source": "ledger", "payload": {"amount": 100, "currency": "KRW"},
                "prev_hash": GENESIS_HASH})
    return Delivery("hyeopchi.ledger.events", partition=0, offset=7, key=b"acct-race",
                    value=env.to_json().encode(), headers=())
