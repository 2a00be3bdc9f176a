"""A projection holds back a batch it applies nothing of (shared/projection.py
`ProjectionRunner.step`): no transaction for it until something to apply comes, or
HOLD_S passes, or the replay ends; then its offsets and stream places are committed
with the rest, so nothing is skipped and nothing applied twice. On the real broker,
SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from shared.db import Database
from shared.envelope import GENESIS_HASH, seal
from shared.projection import Projection, ProjectionRunner
from shared.registry import DomainEvent, EventRegistry
from shared.tables import backbone, projection_offsets, projection_streams
from tests.conftest import BACKENDS

pytestmark = pytest.mark.integration
T = datetime(2021, 4, 1, tzinfo=timezone.utc)
registry = EventRegistry()


@registry.register
class Counted(DomainEvent):
    event_type = "held.Counted"
    version = 1
    n: int


@registry.register
class Remarked(DomainEvent):
    event_type = "held.Remarked"
    version = 1
    text: str


class Counts(Projection):
    """Applies Counted only: Remarked shares its streams and topic."""

    name, registry = "counts", registry
    metadata = MetaData()
    table = Table("counts", metadata, Column("stream_id", String(50), primary_key=True),
                  Column("total", Integer, nullable=False))

    def __init__(self, topic: str):
        self.topics = (topic,)

    async def _Counted(self, conn, envelope, event) -> None:
        found = (await conn.execute(select(self.table.c.total).where(
            self.table.c.stream_id == envelope.stream_id))).scalar()
        if found is None:
            await conn.execute(self.table.insert().values(stream_id=envelope.stream_id,
                                                          total=event.n))
        else:
            await conn.execute(self.table.update().where(
                self.table.c.stream_id == envelope.stream_id).values(total=found + event.n))


class Log:
    """Sealed events, chained per stream, produced to one partition."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic
        self.heads: dict[str, tuple[int, str]] = {}

    async def record(self, stream: str, event: DomainEvent) -> None:
        version, prev = self.heads.get(stream, (0, GENESIS_HASH))
        env = seal({"event_id": f"{stream}-{version + 1}", "event_type": event.event_type,
                    "schema_version": 1, "stream_id": stream, "stream_version": version + 1,
                    "occurred_at": T, "recorded_at": T,
                    "actor": {"id": "clerk", "role": "clerk"}, "correlation_id": "c",
                    "source": "held", "payload": event.model_dump(mode="json"),
                    "prev_hash": prev})
        self.heads[stream] = (version + 1, env.hash)
        await self.producer.send_and_wait(self.topic, env.to_json().encode(),
                                          key=stream.encode(), partition=0)


async def take(runner: ProjectionRunner, upto: int) -> None:
    """Step until the runner has fetched `upto` records of its one partition."""
    [tp] = runner.consumer.assignment()
    for _ in range(100):
        if await runner.consumer.position(tp) >= upto:
            return
        await runner.step()
    raise AssertionError(f"fetched only {await runner.consumer.position(tp)} records")


async def stored(db: Database) -> tuple[dict, dict, dict]:
    async with db.reading() as conn:
        offsets = {r.partition: r.next_offset for r in await conn.execute(
            select(projection_offsets))}
        places = {r.stream_id: r.version for r in await conn.execute(
            select(projection_streams))}
        totals = {r.stream_id: r.total for r in await conn.execute(select(Counts.table))}
    return offsets, places, totals


@BACKENDS
async def test_nothing_to_apply_waits_then_everything_is_committed(make_db_url, make_topic,
                                                                   kafka_bootstrap):
    topic = make_topic(partitions=1)
    db = Database(make_db_url(), backbone, Counts.metadata)
    await db.create_tables()
    runner = ProjectionRunner(Counts(topic), db, kafka_bootstrap, None)
    runner.HOLD_S = 60.0
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await runner.start()
    log = Log(producer, topic)
    try:
        await log.record("s-1", Remarked(text="a"))
        await log.record("s-1", Remarked(text="b"))
        await take(runner, 2)
        assert await stored(db) == ({}, {}, {})  # held: no transaction yet
        # Something to apply: the held records go in the same commit, in log order.
        await log.record("s-1", Counted(n=5))
        await take(runner, 3)
        assert await stored(db) == ({0: 3}, {"s-1": 3}, {"s-1": 5})
        # Held again, then released once HOLD_S has passed with nothing new.
        await log.record("s-2", Remarked(text="c"))
        await take(runner, 4)
        assert (await stored(db))[0] == {0: 3}
        runner.HOLD_S = 0.0
        assert await runner.step() == 0
        assert await stored(db) == ({0: 4}, {"s-1": 3, "s-2": 1}, {"s-1": 5})
        # The end of a replay commits what is held, however young.
        runner.HOLD_S = 60.0
        await log.record("s-2", Remarked(text="d"))
        await take(runner, 5)
        await runner.release()
        assert await stored(db) == ({0: 5}, {"s-1": 3, "s-2": 2}, {"s-1": 5})
        assert runner.applied == 5 and runner.parked == 0
    finally:
        await runner.stop()
        await producer.stop()
        await db.dispose()
