"""Projections: read models built from the log, with tracking records.

The runner reads partitions it assigns itself (no consumer group): the next offset
per partition is stored *in the read model's database*, written in the same
transaction as the rows, so a crash can never apply a record twice or skip one.
Duplicates in the log (a republishing relay) are skipped by stream version.
Any projection can be rebuilt from offset 0 into fresh tables; `checksum` hashes
its rows so a rebuilt copy can be compared with the live one.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from abc import ABC
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Date, DateTime, MetaData, Numeric, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database
from .deadletter import DeadLetters
from .driver_sql import driver
from .envelope import Envelope, canonical_bytes, sealed_record
from .kafka_io import client_security, delivery_of, partitions_of
from .positions import save_stream_versions, stream_versions
from .read_rows import Rows, upsert_rows
from .reasons import reason
from .registry import DomainEvent, EventRegistry
from .tables import projection_offsets
from .telemetry import PROJECTED

log = structlog.get_logger("projection")


class Projection(ABC):
    """A read model: its tables and how one event changes them."""

    name: str
    topics: tuple[str, ...]
    metadata: MetaData
    registry: EventRegistry
    decodes: bool = True  # False: reads envelopes only (event is None), any type
    # Its commits need not wait for the disk: rows and offsets are one transaction, so
    # a power loss can only take the last batches back, and the log redoes them. A
    # projection that records events (an alert) must say True.
    durable: bool = False

    async def apply(self, conn: AsyncConnection, envelope: Envelope,
                    event: DomainEvent) -> None:
        """By default the projection's method `_<EventClass>`, if it has one."""
        handler = getattr(self, f"_{type(event).__name__}", None)
        if handler:
            await handler(conn, envelope, event)

    async def apply_all(self, conn: AsyncConnection,
                        items: list[tuple[Envelope, DomainEvent]]) -> None:
        """Apply events in log order; a projection may override this to write a
        batch in fewer statements (the runner calls it once per fetched batch)."""
        for envelope, event in items:
            await self.apply(conn, envelope, event)

    async def on_broken(self, conn: AsyncConnection, record, why: str) -> None:
        """Told of a record that breaks its stream (edited, gap) before it is parked."""

    def applies(self, event_type: str) -> bool:
        """Whether an event of this (known) type changes the read model. Others are
        only kept in their stream's order: their payload is never decoded or applied.
        By default: a method `_<EventClass>` applies it (every type, for a projection
        with its own `apply`)."""
        if type(self).apply not in _DISPATCHING:
            return True
        model = self.registry.latest_model(event_type)
        return model is not None and hasattr(self, f"_{model.__name__}")


class RowsProjection(Projection):
    """A read model whose handlers, `_<EventClass>(rows, envelope, event)`, change rows
    in memory (shared/read_rows.py): a batch's events are applied in log order, then
    every changed row is written once."""

    async def apply_all(self, conn: AsyncConnection,
                        items: list[tuple[Envelope, DomainEvent]]) -> None:
        rows = Rows(conn)
        for envelope, event in items:
            handler = getattr(self, f"_{type(event).__name__}", None)
            if handler:
                await handler(rows, envelope, event)
        await rows.flush()

    async def apply(self, conn: AsyncConnection, envelope: Envelope,
                    event: DomainEvent) -> None:
        await self.apply_all(conn, [(envelope, event)])


_DISPATCHING = (Projection.apply, RowsProjection.apply)  # by `_<EventClass>` methods


class ProjectionRunner:
    HOLD_S = 0.5  # how long a batch of nothing to apply may wait for the next

    def __init__(self, projection: Projection, db: Database, bootstrap: str,
                 dead_letters: DeadLetters, batch: int = 1000, until=None):
        self.p, self.db, self.bootstrap = projection, db, bootstrap
        self.until = until  # replay "as of": events recorded later are read, not applied
        self.dead_letters, self.batch = dead_letters, batch
        self.consumer: AIOKafkaConsumer | None = None
        self.applied = self.skipped = self.parked = 0
        self.failures: dict[tuple, int] = {}
        self.attempts = 3
        self._pending: list | None = None  # the fast path's events not yet applied
        self._applies: dict[str, bool] = {}  # event type → decode and apply it?
        self._held: dict = {}  # partition → [(record, decoded)] fetched, not committed
        self._held_since: float | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
            auto_offset_reset="earliest", client_id=f"projection-{self.p.name}",
            **client_security())
        await self.consumer.start()
        parts = await partitions_of(self.bootstrap, self.p.topics)
        self.consumer.assign(parts)
        stored = await self._stored_offsets()
        for tp in parts:
            if tp in stored:
                self.consumer.seek(tp, stored[tp])
            else:
                await self.consumer.seek_to_beginning(tp)

    async def stop(self) -> None:
        if self.consumer:
            await self.consumer.stop()

    async def step(self, timeout_ms: int = 200) -> int:
        """Apply one fetched batch in one transaction; return records consumed.

        A batch this read model applies nothing of (other events on its topics) is
        held, up to HOLD_S, and committed with what comes next: its only effect is
        the offsets and stream places, and a transaction each cost the live service
        one per event it did not care about. Held records are in no committed offset,
        so a crash only reads them again."""
        fetched = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.batch)
        taken = sum(len(b) for b in fetched.values())
        held, self._held = self._held, {}
        for tp, batch in fetched.items():
            if batch:
                held.setdefault(tp, []).extend((r, self._decode(r)) for r in batch)
        if not held:
            return 0
        if self._holds(held):
            self._held = held
            return taken
        self._held_since = None
        fetched = {tp: [r for r, _ in items] for tp, items in held.items()}
        records = [r for items in held.values() for r, _ in items]
        decoded = [d for items in held.values() for _, d in items]
        counts = (self.applied, self.skipped)
        try:
            try:  # fast path: the whole batch at once, no savepoint per record
                bad = await self._commit(records, decoded, fetched, isolate=False)
            except Exception:
                if not await self.db.reachable():
                    raise  # an outage: nothing is committed, the batch comes again
                # Some record failed: again, each record in its own savepoint, so the
                # failing one is retried and then parked while the others apply.
                self.applied, self.skipped = counts
                bad = await self._commit(records, decoded, fetched, isolate=True)
        except BaseException:
            # The batch comes again, whether or not the stored offsets can be read now
            # (a database that is away cannot say where to go back to); whatever of it
            # was committed after all is skipped by the offsets stored with the rows.
            for tp, batch in fetched.items():
                if batch:
                    self.consumer.seek(tp, batch[0].offset)
            raise
        self.parked += len(bad)
        PROJECTED.labels(self.p.name, "read").inc(len(records))
        PROJECTED.labels(self.p.name, "parked").inc(len(bad))
        return taken

    def _holds(self, batch: dict) -> bool:
        """Keep this batch back? Only if nothing in it is applied or broken, it is
        not full, and the oldest of it waited less than HOLD_S."""
        items = [d for pairs in batch.values() for _, d in pairs]
        if not self.p.decodes or len(items) >= self.batch or any(
                d[0] is None or d[1] is not None or d[2] is not None for d in items):
            return False
        now = time.monotonic()
        self._held_since = self._held_since or now
        return now - self._held_since < self.HOLD_S

    async def release(self) -> None:
        """Commit what is held (the end of a replay)."""
        if self._held:
            self._held_since = float("-inf")
            await self.step(timeout_ms=0)

    async def _commit(self, records, decoded, fetched, isolate: bool) -> list[tuple]:
        bad: list[tuple] = []
        async with self.db.transaction(durable=self.p.durable) as conn:
            # Another runner of this projection on the same database (a second replica,
            # a rolling update) may have applied part of the batch already: one runner
            # at a time, and only the records past the offsets stored with the rows.
            done = await self._claim(conn)
            todo = [(r, d) for r, d in zip(records, decoded)
                    if r.offset >= done.get((r.topic, r.partition), 0)]
            known = await stream_versions(conn, self.p.name, {
                d[0].stream_id for _, d in todo if d[0] is not None and d[2] is None})
            versions: dict[str, int] = {}
            # Fast path: what to apply is gathered and handed over in one call
            # (`Projection.apply_all`); isolated: each record applied on its own.
            self._pending = None if isolate else []
            for record, d in todo:
                why = await (self._apply_record(conn, record, d, versions, known) if isolate
                             else self._apply(conn, record, d, versions, known))
                if why:
                    bad.append((record, why))
            await self._flush(conn)
            await save_stream_versions(conn, self.p.name, versions)
            await self._save_offsets(conn, fetched, done)
            # Park before the commit: if parking fails nothing is committed and the
            # batch comes again; a parked-then-crashed batch parks twice, loses none.
            for record, why in bad:
                await self.dead_letters.park(delivery_of(record), why)
        return bad

    async def uncommitted(self) -> int | None:
        """Records not yet committed into the read model (from the offsets stored
        with it, not the fetch position: a fetched batch may not be applied yet)."""
        if self.consumer is None or not (parts := list(self.consumer.assignment())):
            return None
        ends = await self.consumer.end_offsets(parts)
        starts = await self.consumer.beginning_offsets(parts)
        stored = await self._stored_offsets()
        return sum(ends[tp] - stored.get(tp, starts[tp]) for tp in parts)

    async def _apply_record(self, conn, record, decoded, versions: dict[str, int],
                            known: dict[str, int]) -> str | None:
        """Apply one record in a savepoint. A failure while the database answers is
        this record's: after `attempts` tries it is parked and the runner moves on."""
        try:
            async with conn.begin_nested():
                return await self._apply(conn, record, decoded, versions, known)
        except Exception as error:
            if not await self.db.reachable():
                raise  # an outage: nothing is committed, the batch comes again
            key = (record.topic, record.partition, record.offset)
            self.failures[key] = self.failures.get(key, 0) + 1
            if self.failures[key] < self.attempts:
                raise
            return f"projection failed {self.attempts} times: {reason(error)}"

    def _decode(self, record) -> tuple:
        """(envelope, event, why, broken): `why` says why it cannot be applied."""
        try:
            envelope = Envelope.from_json(record.value or b"")
            if not sealed_record(record.value, envelope):
                return (envelope, None,
                        f"event {envelope.event_id}: content does not match its hash", True)
            event = self.p.registry.decode(envelope.event_type, envelope.schema_version,
                                           envelope.payload) \
                if self._wanted(envelope.event_type) else None
        except Exception as error:
            return None, None, f"undecodable: {reason(error)}", False
        return envelope, event, None, False

    def _wanted(self, event_type: str) -> bool:
        """Decode this type's payload? Not for an envelope-only projection, nor for a
        known type it does not apply (an unknown one is decoded, to fail and park)."""
        wanted = self._applies.get(event_type)
        if wanted is None:
            known = self.p.registry.knows(event_type)
            wanted = self._applies[event_type] = self.p.decodes and (
                not known or self.p.applies(event_type))
        return wanted

    async def _apply(self, conn, record, decoded, versions: dict[str, int],
                     known: dict[str, int]) -> str | None:
        envelope, event, why, broken = decoded
        if why:
            if broken:
                await self._flush(conn)
                await self.p.on_broken(conn, record, why)
            return why
        if self.until is not None and envelope.recorded_at > self.until:
            self.skipped += 1
            return None
        last = versions.get(envelope.stream_id)
        if last is None:
            last = known.get(envelope.stream_id, 0)
        if envelope.stream_version <= last:
            self.skipped += 1  # a republished duplicate
            return None
        if envelope.stream_version != last + 1:
            why = f"stream {envelope.stream_id} gap: got v{envelope.stream_version} after v{last}"
            await self._flush(conn)
            await self.p.on_broken(conn, record, why)
            return why
        if event is None and self.p.decodes:
            pass  # a type this read model does not apply: only its place is kept
        elif self._pending is None:
            await self.p.apply(conn, envelope, event)
        else:
            self._pending.append((envelope, event))
        versions[envelope.stream_id] = envelope.stream_version
        self.applied += 1
        return None

    async def _flush(self, conn) -> None:
        """Apply what the fast path gathered so far, in log order."""
        if self._pending:
            items, self._pending = self._pending, []
            await self.p.apply_all(conn, items)

    async def _claim(self, conn) -> dict[tuple[str, int], int]:
        """Wait for any other runner of this projection on this database to commit
        (PostgreSQL: a transaction-scoped advisory lock; SQLite's BEGIN IMMEDIATE
        already lets one writer in at a time), then read the offsets stored so far."""
        sql = await driver(conn)
        if not self.db.is_sqlite:
            await sql.fetch("SELECT pg_advisory_xact_lock(26729, hashtext(?))", (self.p.name,))
        rows = await sql.fetch("SELECT topic, partition, next_offset FROM projection_offsets "
                               "WHERE projection = ?", (self.p.name,))
        return {(topic, partition): offset for topic, partition, offset in rows}

    async def _save_offsets(self, conn, fetched, done: dict[tuple[str, int], int]) -> None:
        """One upsert for the batch's partitions (never moving an offset back)."""
        await upsert_rows(conn, projection_offsets, [
            {"projection": self.p.name, "topic": tp.topic, "partition": tp.partition,
             "next_offset": max(batch[-1].offset + 1, done.get((tp.topic, tp.partition), 0))}
            for tp, batch in fetched.items() if batch])

    async def _stored_offsets(self) -> dict[TopicPartition, int]:
        async with self.db.reading() as conn:
            rows = await conn.execute(select(projection_offsets).where(
                projection_offsets.c.projection == self.p.name))
            return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}

    async def catch_up(self) -> int:
        """Consume until every partition reaches the end seen when called."""
        end = await self.consumer.end_offsets(list(self.consumer.assignment()))
        total = 0
        while await self.lag(end):
            total += await self.step()
        await self.release()
        return total

    async def lag(self, end: dict | None = None) -> int:
        """Records between this runner's position and the end of its partitions."""
        end = end or await self.consumer.end_offsets(list(self.consumer.assignment()))
        behind = 0
        for tp, off in end.items():
            behind += max(0, off - await self.consumer.position(tp))
        return behind

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.step()
            except Exception as error:  # DB away: nothing committed; rewind and retry
                log.warning("projection_retry", projection=self.p.name,
                            error=type(error).__name__, detail=reason(error)[:200])
                await self._rewind()
                await asyncio.sleep(1.0)

    async def _rewind(self) -> None:
        self._held, self._held_since = {}, None  # fetched again from the stored offsets
        try:
            stored = await self._stored_offsets()
        except Exception:
            return
        for tp in self.consumer.assignment():
            if tp in stored:
                self.consumer.seek(tp, stored[tp])
            else:
                await self.consumer.seek_to_beginning(tp)


async def checksum(db: Database, metadata: MetaData) -> tuple[str, dict[str, int]]:
    """SHA-256 over every row of the read model's tables, ordered by primary key."""
    digest, counts = hashlib.sha256(), {}
    async with db.reading() as conn:
        for table in metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            # Streamed in slices: a read model of millions of rows is never in memory.
            result = await conn.stream(select(table).order_by(*order))
            # Plain str names (not SQLAlchemy's quoted_name): the fast canonical dump
            # takes exact types only.
            names, count = [str(k) for k in result.keys()], 0
            # Only columns that can hold a date or a decimal need converting to text.
            plain = _plain if any(isinstance(c.type, (Date, DateTime, Numeric))
                                  for c in table.columns) else dict
            digest.update(table.name.encode())
            async for rows in result.partitions(2000):
                count += len(rows)
                for row in rows:
                    digest.update(canonical_bytes(plain(zip(names, row))))
            counts[table.name] = count
    return digest.hexdigest(), counts


def _plain(items: Iterable) -> dict:
    def value(v):
        if isinstance(v, (datetime, date)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        return v
    return {k: value(v) for k, v in items}


async def rebuild(projection: Projection, fresh: Database, bootstrap: str,
                  dead_letters: DeadLetters, until=None
                  ) -> tuple[str, dict[str, int], ProjectionRunner]:
    """Replay a projection's topics from offset 0 into `fresh` (up to `until`, when
    given); return its checksum and row counts."""
    await fresh.create_tables()
    runner = ProjectionRunner(projection, fresh, bootstrap, dead_letters, until=until)
    await runner.start()
    try:
        await runner.catch_up()
    finally:
        await runner.stop()
    digest, counts = await checksum(fresh, projection.metadata)
    return digest, counts, runner
