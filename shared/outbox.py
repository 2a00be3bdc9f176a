"""The relay: publishes queued events in append order, then forgets them.

A row leaves the outbox only after the broker acknowledged it (acks=all), so a crash
at any point republishes rather than loses; consumers drop the duplicates.
"""
from __future__ import annotations

import asyncio
import contextlib

import structlog
from typing import NamedTuple

from .db import Database
from .driver_sql import driver
from .faults import crash_point
from .kafka_io import reliable_producer
from .telemetry import PUBLISHED, trace_headers

log = structlog.get_logger("outbox")

_PENDING = ("SELECT o.topic, o.trace_context, e.body, e.stream_id, e.event_id, e.event_type, "
            "e.schema_version FROM outbox o JOIN events e ON e.event_id = o.event_id "
            "ORDER BY o.position LIMIT ?")


class _Pending(NamedTuple):
    topic: str
    trace_context: str | None
    body: str
    stream_id: str
    event_id: str
    event_type: str
    schema_version: int


class OutboxRelay:
    """Publishes what this process commits as soon as it commits (the database's
    `watch_outbox` wakes it); `idle_sleep` bounds the wait for rows another
    process queued in the same database (a second replica, an operator's tool)."""

    def __init__(self, db: Database, bootstrap: str, service: str,
                 batch_size: int = 500, idle_sleep: float = 0.5):
        self.db, self.service, self.bootstrap = db, service, bootstrap
        self.batch_size, self.idle_sleep = batch_size, idle_sleep
        self.producer = reliable_producer(bootstrap, f"{service}-relay")
        self.healthy = False
        self.published = 0

    async def start(self) -> None:
        await self.producer.start()
        self.healthy = True

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # a dead producer may not stop cleanly
            await asyncio.wait_for(self.producer.stop(), None if self.healthy else 5)

    async def _fresh_producer(self) -> None:
        """A new idempotent producer (a new producer id) after a failed send. aiokafka's
        producer dies for good on some errors — OutOfOrderSequenceNumber after a broker
        that led a partition crashed, say: its sender stops and every later send fails.
        Nothing is lost meanwhile: the rows wait in the outbox, and the new producer
        publishes them again from the first one not deleted (consumers skip repeats)."""
        await self.stop()
        self.producer = reliable_producer(self.bootstrap, f"{self.service}-relay")
        await self.producer.start()  # while the broker is away this raises: run() retries
        self.healthy = True

    async def publish_pending(self) -> int:
        """Publish one batch; return how many events left the outbox."""
        async with self.db.reading() as conn:
            rows = [_Pending(*r) for r in await (await driver(conn)).fetch(
                _PENDING, (self.batch_size,))]
        if not rows:
            return 0
        if not self.healthy:
            await self._fresh_producer()
        try:
            acks = [await self.producer.send(r.topic, value=r.body.encode(),
                                             key=r.stream_id.encode(), headers=_headers(r))
                    for r in rows]
            await asyncio.gather(*acks)
        except Exception:
            self.healthy = False  # the next attempt starts a new producer
            raise
        crash_point("relay.after_produce")
        # By event id, not position: SQLite reuses positions once the table is empty,
        # so with a second relay on this database a position read here may by now
        # be a newer row, not yet published (tests/faults/test_relay_race.py).
        # Not durable: if a power loss undid the delete, the rows would go out again,
        # and consumers drop what they have seen (a fsync per batch saved).
        async with self.db.transaction(durable=False) as conn:
            sql = await driver(conn)
            await sql.execute(f"DELETE FROM outbox WHERE {sql.member('event_id')}",
                              (sql.listed(r.event_id for r in rows),))
        self.published += len(rows)
        for r in rows:
            PUBLISHED.labels(r.topic).inc()
        log.debug("published", count=len(rows), last_event_id=rows[-1].event_id)
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while n := await self.publish_pending():
            total += n
        return total

    async def run(self, stop: asyncio.Event) -> None:
        woken = self.db.watch_outbox()
        while not stop.is_set():
            try:
                woken.clear()  # before reading: a commit from now on wakes the wait
                if not await self.publish_pending():
                    await _wait_any((stop, woken), self.idle_sleep)
            except Exception as error:  # broker or DB away: keep the rows, retry
                log.warning("relay_retry", error=type(error).__name__, detail=str(error)[:200])
                await _wait(stop, 1.0)


def _headers(row) -> list[tuple[str, bytes]]:
    return [("event_id", row.event_id.encode()), ("event_type", row.event_type.encode()),
            ("schema_version", str(row.schema_version).encode()),
            *trace_headers(row.trace_context)]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    await _wait_any((stop,), seconds)


async def _wait_any(signals: tuple[asyncio.Event, ...], seconds: float) -> None:
    """Until one of `signals` is set or `seconds` pass."""
    waits = [asyncio.ensure_future(s.wait()) for s in signals]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
