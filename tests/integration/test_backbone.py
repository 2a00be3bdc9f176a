"""The event backbone against the real Kafka broker, on SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select, text

from shared.consumer import ReliableHandler, envelope_decoder
from shared.db import Database
from shared.deadletter import DeadLetters, header
from shared.envelope import Actor, ChainBreak, seal
from shared.faststream_binding import broker_send, subscribe
from shared.kafka_io import producer_send
from shared.outbox import OutboxRelay
from shared.projection import ProjectionRunner, checksum
from shared.store import ConcurrencyError, EventStore, Metadata
from shared.tables import backbone, events, inbox, outbox
from tests.conftest import BACKENDS
from tests.integration.helpers import read_topic, run_module
from tests.support import ledger

pytestmark = pytest.mark.integration
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="corr-1")


async def append_deposits(db: Database, store: EventStore, accounts: int,
                          per_account: int) -> dict[str, int]:
    """Append deposits one command at a time; return the expected total per account."""
    expected: dict[str, int] = {}
    for i in range(per_account):
        for a in range(accounts):
            account, amount = f"acct-{a}", (a + 1) * 10 + i
            async with db.transaction() as conn:
                await store.append(conn, account, i, [ledger.Deposited(
                    amount=amount, currency="KRW")], META)
            expected[account] = expected.get(account, 0) + amount
    return expected


async def publish_outbox(db: Database, bootstrap: str) -> int:
    """Run the outbox relay once over everything queued."""
    relay = OutboxRelay(db, bootstrap, "ledger")
    await relay.start()
    try:
        return await relay.drain()
    finally:
        await relay.stop()


@BACKENDS
async def test_append_read_and_version_conflict(make_db_url):
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", "hyeopchi.ledger.events")
    async with db.transaction() as conn:
        first = await store.append(conn, "acct-1", 0, [
            ledger.Deposited(amount=5, currency="KRW"),
            ledger.Deposited(amount=7, currency="KRW")], META)
    with pytest.raises(ConcurrencyError, match="expected version 1, it is at 2"):
        async with db.transaction() as conn:
            await store.append(conn, "acct-1", 1, [
                ledger.Deposited(amount=1, currency="KRW")], META)
    async with db.reading() as conn:
        stream = await store.read_stream(conn, "acct-1")
        everything = [e async for _, e in store.read_all(conn)]
        queued = await store.pending_publications(conn)
    assert [e.payload["amount"] for e in stream] == [5, 7]
    assert [e.stream_version for e in stream] == [1, 2]
    assert stream[1].prev_hash == first[0].hash and stream == first
    assert [e.event_id for e in everything] == [e.event_id for e in first]
    assert queued == 2  # the failed append queued nothing
    await db.dispose()


@BACKENDS
async def test_parallel_writers_one_wins(make_db_url):
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", "t")

    async def write(amount: int):
        async with db.transaction() as conn:
            await store.append(conn, "acct-x", 0, [
                ledger.Deposited(amount=amount, currency="KRW")], META)

    results = await asyncio.gather(*(write(n) for n in range(1, 7)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if r is not None)
    async with db.reading() as conn:
        assert await conn.scalar(select(func.count()).select_from(events)) == 1
    await db.dispose()


@BACKENDS
async def test_effects_exactly_once_through_relay_and_consumer_crashes(
        make_db_url, make_topic, kafka_bootstrap):
    topic, source_url, sink_url = make_topic(), make_db_url(), make_db_url()
    db = Database(source_url, backbone)
    await db.create_tables()
    expected = await append_deposits(db, EventStore("ledger", topic), 4, 5)

    # The relay dies (like kill -9) after the broker acked, before it cleared the outbox.
    code, _, _ = run_module("tests.support.ledger", "relay", "--db", source_url,
                            "--bootstrap", kafka_bootstrap, crash_at="relay.after_produce")
    assert code == 86
    async with db.reading() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox)) == 20
    code, out, err = run_module("tests.support.ledger", "relay", "--db", source_url,
                                "--bootstrap", kafka_bootstrap)
    assert code == 0, err
    published = await read_topic(kafka_bootstrap, topic)
    assert len(published) > 20  # the first batch was published twice

    consume = ["consume", "--db", sink_url, "--bootstrap", kafka_bootstrap,
               "--topic", topic, "--group", "totals", "--expect", "20"]
    # The consumer dies after its DB commit, before acking the offset ...
    code, _, _ = run_module("tests.support.ledger", *consume, crash_at="consumer.after_commit")
    assert code == 86
    # ... and another one dies inside its transaction, before the commit.
    code, _, _ = run_module("tests.support.ledger", *consume, crash_at="consumer.before_commit")
    assert code == 86
    code, counts, err = run_module("tests.support.ledger", *consume)
    assert code == 0, err

    sink = Database(sink_url, backbone, ledger.effects_md)
    async with sink.reading() as conn:
        totals = dict((await conn.execute(select(ledger.totals))).all())
        applied = (await conn.execute(select(ledger.applications.c.event_id))).scalars().all()
        inboxed = await conn.scalar(select(func.count()).select_from(inbox))
    assert totals == expected
    assert len(applied) == len(set(applied)) == 20 == inboxed
    assert counts["duplicate"] >= len(published) - 20 > 0  # duplicates arrived, did nothing
    assert counts["dead-lettered"] == 0
    await db.dispose()
    await sink.dispose()


@BACKENDS
async def test_poison_messages_are_dead_lettered_and_valid_ones_applied(
        make_db_url, make_topic, kafka_bootstrap):
    topic, source_url, sink_url = make_topic(), make_db_url(), make_db_url()
    db = Database(source_url, backbone)
    await db.create_tables()
    store = EventStore("ledger", topic)
    async with db.transaction() as conn:
        [good] = await store.append(conn, "acct-1", 0, [
            ledger.Deposited(amount=5, currency="KRW")], META)
    forged = json.loads(good.to_json())
    forged["payload"]["amount"] = 5_000_000  # edited in transit: hash no longer matches
    fields = good.model_dump(exclude={"hash"})
    unknown_type = seal({**fields, "event_type": "ledger.Withdrawn"}).to_json()
    future_version = seal({**fields, "schema_version": 9}).to_json()
    poison = [b"{not json", "\udcff".encode("utf-8", "surrogatepass"),
              json.dumps(forged).encode(), unknown_type.encode(), future_version.encode()]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    for raw in poison:
        await producer.send_and_wait(topic, raw, key=b"acct-1", headers=[("src", b"test")])
    await producer.stop()
    await publish_outbox(db, kafka_bootstrap)  # the valid event comes after the poison

    sink = Database(sink_url, backbone, ledger.effects_md)
    await sink.create_tables()
    broker = KafkaBroker(kafka_bootstrap)
    handler = ReliableHandler("totals", sink, envelope_decoder(ledger.registry),
                              ledger.add_to_total, DeadLetters("totals", broker_send(broker)))
    subscribe(broker, handler, topic, group_id="poison-test")
    await broker.start()
    try:
        for _ in range(150):
            if handler.counts["applied"] == 1 and handler.counts["dead-lettered"] == 5:
                break
            await asyncio.sleep(0.2)
    finally:
        await broker.stop()
    parked = await read_topic(kafka_bootstrap, f"{topic}.dlq")
    reasons = [header(r.headers, "x-dlq-reason") for r in parked]
    assert sorted(r.value for r in parked) == sorted(poison)
    assert any("JSON" in r or "json" in r for r in reasons)
    assert any("does not match its hash" in r for r in reasons)
    assert any("unknown event type 'ledger.Withdrawn'" in r for r in reasons)
    assert any("ledger.Deposited v9 is not known (known up to v2)" in r for r in reasons)
    assert all(header(r.headers, "src") == "test" for r in parked)  # headers kept
    assert all(header(r.headers, "x-dlq-original-topic") == topic for r in parked)
    async with sink.reading() as conn:
        assert dict((await conn.execute(select(ledger.totals))).all()) == {"acct-1": 5}
    await db.dispose()
    await sink.dispose()


@BACKENDS
async def test_projection_rebuilt_from_offset_zero_equals_live(
        make_db_url, make_topic, kafka_bootstrap):
    topic = make_topic()
    db = Database(make_db_url(), backbone, ledger.Balances.metadata)
    await db.create_tables()
    store = EventStore("ledger", topic)
    relay = OutboxRelay(db, kafka_bootstrap, "ledger", batch_size=7)
    await relay.start()
    dlq_producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await dlq_producer.start()
    dead = DeadLetters("balances", producer_send(dlq_producer))
    live = ProjectionRunner(ledger.Balances(topic), db, kafka_bootstrap, dead, batch=5)
    await live.start()
    expected = {}
    for round_ in range(3):  # the live projection follows while events keep coming
        more = await append_deposits(db, store, 5, 4) if round_ == 0 else {}
        if round_:
            async with db.transaction() as conn:
                for a in range(5):
                    version = await store.stream_version(conn, f"acct-{a}")
                    await store.append(conn, f"acct-{a}", version, [
                        ledger.Deposited(amount=round_, currency="KRW")], META)
                    more[f"acct-{a}"] = round_
        for k, v in more.items():
            expected[k] = expected.get(k, 0) + v
        await relay.drain()
        await live.catch_up()
    live_sum, live_counts = await checksum(db, ledger.Balances.metadata)
    await live.stop()

    fresh = Database(make_db_url(), backbone, ledger.Balances.metadata)
    await fresh.create_tables()
    rebuilt = ProjectionRunner(ledger.Balances(topic), fresh, kafka_bootstrap, dead)
    await rebuilt.start()
    consumed = await rebuilt.catch_up()
    await rebuilt.stop()
    rebuilt_sum, rebuilt_counts = await checksum(fresh, ledger.Balances.metadata)

    assert consumed == 30 and rebuilt.applied == 30
    assert live_counts == rebuilt_counts == {"balances": 5}
    assert rebuilt_sum == live_sum
    async with fresh.reading() as conn:
        rows = (await conn.execute(select(ledger.Balances.table.c.account,
                                          ledger.Balances.table.c.total))).all()
    assert dict(rows) == expected
    await relay.stop()
    await dlq_producer.stop()
    for d in (db, fresh):
        await d.dispose()


@BACKENDS
async def test_edited_stored_event_is_detected_by_the_hash_chain(make_db_url):
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", "t")
    async with db.transaction() as conn:
        sealed = await store.append(conn, "acct-1", 0, [
            ledger.Deposited(amount=n, currency="KRW") for n in (5, 6, 7)], META)
    async with db.reading() as conn:
        assert await store.verify(conn) == 3
    victim = sealed[1]
    async with db.transaction() as conn:  # one byte: amount 6 -> 9
        await conn.execute(text("UPDATE events SET body = REPLACE(body, :old, :new) "
                                "WHERE event_id = :id"),
                           {"old": '"amount":6', "new": '"amount":9', "id": victim.event_id})
    with pytest.raises(ChainBreak, match=f"event {victim.event_id}.*does not match its hash"):
        async with db.reading() as conn:
            await store.verify(conn)
    await db.dispose()


# SQLite does not enforce VARCHAR lengths, so only PostgreSQL can refuse this value.
@pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)
async def test_a_message_the_database_refuses_is_parked_not_retried_forever(
        make_db_url, make_topic, kafka_bootstrap):
    topic, source_url, sink_url = make_topic(), make_db_url(), make_db_url()
    db = Database(source_url, backbone)
    await db.create_tables()
    store = EventStore("ledger", topic)
    async with db.transaction() as conn:  # two streams: one refused, one fine
        await store.append(conn, "x" * 150, 0, [ledger.Deposited(amount=1, currency="KRW")],
                           META)
        await store.append(conn, "acct-ok", 0, [ledger.Deposited(amount=2, currency="KRW")],
                           META)
    await publish_outbox(db, kafka_bootstrap)

    sink = Database(sink_url, backbone, ledger.effects_md)  # totals.account is VARCHAR(100)
    await sink.create_tables()
    broker = KafkaBroker(kafka_bootstrap)
    handler = ReliableHandler("totals", sink, envelope_decoder(ledger.registry),
                              ledger.add_to_total, DeadLetters("totals", broker_send(broker)))
    subscribe(broker, handler, topic, group_id="refused-test")
    await broker.start()
    try:
        for _ in range(150):
            if handler.counts["applied"] == 1 and handler.counts["dead-lettered"] == 1:
                break
            await asyncio.sleep(0.2)
    finally:
        await broker.stop()
    [parked] = await read_topic(kafka_bootstrap, f"{topic}.dlq")
    assert "database refused it" in header(parked.headers, "x-dlq-reason")
    assert "too long" in header(parked.headers, "x-dlq-reason")
    async with sink.reading() as conn:
        assert dict((await conn.execute(select(ledger.totals))).all()) == {"acct-ok": 2}
        assert await conn.scalar(select(func.count()).select_from(inbox)) == 1
    await db.dispose()
    await sink.dispose()


class _FailsOnThirteen(ledger.Balances):
    """A projection with a bug that only one record triggers."""

    async def apply(self, conn, envelope, event):
        if event.amount == 13:
            await conn.execute(text("UPDATE balances SET WHERE 1 = 1"))  # invalid SQL
        await super().apply(conn, envelope, event)


@BACKENDS
async def test_a_record_the_projection_cannot_apply_is_parked_and_the_rest_applied(
        make_db_url, make_topic, kafka_bootstrap):
    topic = make_topic()
    db = Database(make_db_url(), backbone, ledger.Balances.metadata)
    await db.create_tables()
    store = EventStore("ledger", topic)
    async with db.transaction() as conn:
        for stream, amount in (("a", 5), ("b", 13), ("c", 7)):
            await store.append(conn, stream, 0, [ledger.Deposited(amount=amount,
                                                                  currency="KRW")], META)
    await publish_outbox(db, kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    runner = ProjectionRunner(_FailsOnThirteen(topic), db, kafka_bootstrap,
                              DeadLetters("balances", producer_send(producer)))
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for _ in range(150):
        if runner.parked == 1 and runner.applied == 2:
            break
        await asyncio.sleep(0.2)
    stop.set()
    await task
    await runner.stop()
    await producer.stop()
    [parked] = await read_topic(kafka_bootstrap, f"{topic}.dlq")
    assert "projection failed 3 times" in header(parked.headers, "x-dlq-reason")
    async with db.reading() as conn:
        rows = dict((await conn.execute(select(ledger.Balances.table.c.account,
                                               ledger.Balances.table.c.total))).all())
    assert rows == {"a": 5, "c": 7}
    await db.dispose()


async def _broken_handler(conn, message) -> None:
    await conn.execute(text("SELEC 1"))  # a bug: SQLite calls it OperationalError


@BACKENDS
async def test_a_handler_bug_is_parked_not_mistaken_for_an_outage(make_db_url, make_topic,
                                                                 kafka_bootstrap):
    topic = make_topic()
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    async with db.transaction() as conn:
        await EventStore("ledger", topic).append(conn, "a", 0, [ledger.Deposited(
            amount=1, currency="KRW")], META)
    await publish_outbox(db, kafka_bootstrap)
    broker = KafkaBroker(kafka_bootstrap)
    handler = ReliableHandler("broken", db, envelope_decoder(ledger.registry),
                              _broken_handler, DeadLetters("broken", broker_send(broker)))
    subscribe(broker, handler, topic, group_id="broken-test")
    await broker.start()
    try:
        for _ in range(150):
            if handler.counts["dead-lettered"] == 1:
                break
            await asyncio.sleep(0.2)
    finally:
        await broker.stop()
    [parked] = await read_topic(kafka_bootstrap, f"{topic}.dlq")
    assert "SELEC" in header(parked.headers, "x-dlq-reason")
    async with db.reading() as conn:
        assert await conn.scalar(select(func.count()).select_from(inbox)) == 0
    await db.dispose()


@BACKENDS
async def test_the_relay_wakes_when_an_append_commits(make_db_url, kafka_bootstrap,
                                                      make_topic):
    """With polling pushed out to a minute, what a transaction queues is published at
    its commit; a rolled-back transaction wakes nothing (there is nothing to send)."""
    db = Database(make_db_url(), backbone)
    await db.create_tables()
    store = EventStore("ledger", make_topic())
    relay = OutboxRelay(db, kafka_bootstrap, "ledger", idle_sleep=60)
    stop = asyncio.Event()
    await relay.start()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(1)                    # the relay found nothing and waits
        assert relay.published == 0
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await store.append(conn, "acct-1", 0, [
                    ledger.Deposited(amount=1, currency="KRW")], META)
                raise RuntimeError("rolled back")
        async with db.transaction() as conn:
            await store.append(conn, "acct-1", 0, [
                ledger.Deposited(amount=5, currency="KRW")], META)
        for _ in range(200):                      # well inside the minute of polling
            if relay.published:
                break
            await asyncio.sleep(0.05)
        assert relay.published == 1
    finally:
        stop.set()
        await running
        await relay.stop()
        await db.dispose()
    records = await read_topic(kafka_bootstrap, store.topic)
    assert [json.loads(r.value)["payload"]["amount"] for r in records] == [5]
