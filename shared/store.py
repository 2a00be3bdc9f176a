"""Event store: append with an expected version, read a stream, read everything.

Appending also queues each event in the outbox, in the same transaction, so an
event is stored if and only if it will be published. Each event is sealed once: the
body stored (and published by the relay) is the very canonical JSON that was hashed.
A writer that loaded the stream passes its head and the head is not read again; the
unique (stream_id, stream_version) still refuses a writer whose head went stale.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import queued_outbox
from .driver_sql import driver
from .envelope import (GENESIS_HASH, Actor, ChainVerifier, Envelope, Sealed,
                       UnencodableText, seal_record)
from .ids import new_id, utcnow
from .registry import DomainEvent
from .tables import events, outbox
from .telemetry import current_trace_context


class ConcurrencyError(Exception):
    """The stream moved on since it was read; reload and retry the command."""

    retryable = True

    def __init__(self, stream_id: str, expected: int, actual: int | None,
                 others: Sequence[tuple[str, int]] = ()):
        got = "another writer got there first" if actual is None else f"it is at {actual}"
        where = f"stream {stream_id!r}: expected version {expected}"
        if others:  # one insert for several streams: any of them may have moved
            where = "one of " + ", ".join(f"stream {s!r} (expected version {v})"
                                          for s, v in [(stream_id, expected), *others])
        super().__init__(f"{where}, {got}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


# What one event may weigh: the broker takes about 1 MiB per record (message.max.bytes),
# with the relay's headers and key on top. A bigger event could never be published.
MAX_EVENT_BYTES = 1_000_000


class EventTooLarge(UnencodableText):
    """An event the log cannot carry: refused like unstorable text (413 over HTTP, a
    CommandRejected over Kafka), never stored to stall the relay."""

    kind, category = "too-large", "too-large"


class Metadata(BaseModel):
    """Who and why: copied into every envelope of one append."""

    model_config = ConfigDict(frozen=True)
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    occurred_at: datetime | None = None
    # The trace it was recorded in (W3C context JSON), carried to the outbox so the
    # relay's record continues it; never part of the event.
    trace_context: str | None = None


class StreamAppend(NamedTuple):
    """New events for one stream, with the version the writer saw and, when it knows
    it, the hash of the event at that version (GENESIS_HASH at version 0)."""

    stream_id: str
    expected_version: int
    events: Sequence[DomainEvent]
    expected_head: str | None = None
    meta: Metadata | None = None  # who and why, when not the call's


class EventStore:
    def __init__(self, source: str, topic: str):
        self.source = source  # the service that records the events
        self.topic = topic    # where its relay publishes them

    async def append(self, conn: AsyncConnection, stream_id: str, expected_version: int,
                     new_events: Sequence[DomainEvent], meta: Metadata,
                     expected_head: str | None = None) -> list[Envelope]:
        """Append to one stream; `expected_head` (the hash at `expected_version`, as
        loaded) spares reading the stream's head first."""
        return await self.append_streams(
            conn, [StreamAppend(stream_id, expected_version, new_events, expected_head)],
            meta)

    async def append_streams(self, conn: AsyncConnection, appends: Sequence[StreamAppend],
                             meta: Metadata) -> list[Envelope]:
        """Append to several streams together: one insert of every event, one of every
        outbox row. A stream whose head the caller knows is not read; the unique
        (stream_id, stream_version) is the guard either way: a writer that got there
        first makes the insert fail, and this raises ConcurrencyError."""
        return await self.write(conn, await self.seal_streams(conn, appends, meta))

    async def seal_streams(self, conn: AsyncConnection, appends: Sequence[StreamAppend],
                           meta: Metadata) -> list[Sealed]:
        """The appends' events sealed and chained, nothing written yet. A stream
        appended to twice in one call continues from its first append's last event.
        A head is read only where the caller does not know it (version > 0)."""
        records: list[Sealed] = []
        heads: dict[str, str] = {}
        for stream_id, expected, new_events, head, own_meta in appends:
            if not new_events:
                continue
            head = heads.get(stream_id, head)
            if head is None and expected == 0:
                head = GENESIS_HASH  # a new stream; if it is not, the insert says so
            if head is None:
                version, head = await self._head(conn, stream_id)
                if version != expected:
                    raise ConcurrencyError(stream_id, expected, version)
            sealed = self._seal(stream_id, expected, head, new_events, own_meta or meta)
            heads[stream_id] = sealed[-1].envelope.hash
            records += sealed
        return records

    async def write(self, conn: AsyncConnection, records: Sequence[Sealed]) -> list[Envelope]:
        """Store sealed events and queue them for the relay: one executemany each.
        A stream another writer moved meanwhile makes it raise ConcurrencyError."""
        if not records:
            return []
        rows = []
        for record in records:
            _storable(record.envelope, record.body)
            rows.append(_row(record))
        here = current_trace_context()
        try:  # one round trip for both on PostgreSQL
            await (await driver(conn)).write_all([
                (_EVENTS_INSERT, rows),
                (_OUTBOX_INSERT, [(r.envelope.event_id, self.topic, r.trace or here)
                                  for r in records])])
        except IntegrityError as race:
            firsts: dict[str, int] = {}
            for r in records:
                firsts.setdefault(r.envelope.stream_id, r.envelope.stream_version - 1)
            moved = list(firsts.items())
            raise ConcurrencyError(*moved[0], None, moved[1:]) from race
        queued_outbox(conn)  # the relay wakes when this transaction commits
        return [r.envelope for r in records]

    def _seal(self, stream_id: str, version: int, head: str,
              new_events: Sequence[DomainEvent], meta: Metadata) -> list[Sealed]:
        now = utcnow()
        sealed = []
        for offset, event in enumerate(new_events, start=1):
            record = seal_record({
                "event_id": new_id(), "event_type": event.event_type,
                "schema_version": event.version, "stream_id": stream_id,
                "stream_version": version + offset,
                "occurred_at": meta.occurred_at or now, "recorded_at": now,
                "actor": meta.actor, "causation_id": meta.causation_id,
                "correlation_id": meta.correlation_id, "source": self.source,
                "payload": event.model_dump(mode="json"), "prev_hash": head,
            })
            head = record.envelope.hash
            sealed.append(record._replace(trace=meta.trace_context))
        return sealed

    @staticmethod
    async def _head(conn: AsyncConnection, stream_id: str) -> tuple[int, str]:
        row = (await conn.execute(
            select(events.c.stream_version, events.c.hash)
            .where(events.c.stream_id == stream_id)
            .order_by(events.c.stream_version.desc()).limit(1))).first()
        return (row.stream_version, row.hash) if row else (0, GENESIS_HASH)

    @staticmethod
    async def read_streams(conn: AsyncConnection, stream_ids: Sequence[str]
                           ) -> dict[str, list[Envelope]]:
        """Several streams in one query; absent ones are empty."""
        found: dict[str, list[Envelope]] = {s: [] for s in stream_ids}
        if found:
            sql = await driver(conn)
            for (body,) in await sql.fetch(
                    f"SELECT body FROM events WHERE {sql.member('stream_id')} "
                    "ORDER BY stream_id, stream_version", (sql.listed(found),)):
                e = Envelope.from_json(body)
                found[e.stream_id].append(e)
        return found

    @staticmethod
    async def read_heads(conn: AsyncConnection, stream_ids: Sequence[str]
                         ) -> dict[str, tuple[int, str]]:
        """Each stream's last version and hash (absent streams are left out): what
        an append to a log needs, read from the (stream_id, stream_version) index."""
        if not stream_ids:
            return {}
        sql = await driver(conn)
        rows = await sql.fetch(
            "SELECT e.stream_id, e.stream_version, e.hash FROM events e "
            f"WHERE {sql.member('e.stream_id')} AND e.stream_version = (SELECT "
            "max(l.stream_version) FROM events l WHERE l.stream_id = e.stream_id)",
            (sql.listed(dict.fromkeys(stream_ids)),))
        return {stream: (version, head) for stream, version, head in rows}

    @staticmethod
    async def read_stream(conn: AsyncConnection, stream_id: str) -> list[Envelope]:
        rows = await (await driver(conn)).fetch(
            "SELECT body FROM events WHERE stream_id = ? ORDER BY stream_version",
            (stream_id,))
        return [Envelope.from_json(body) for (body,) in rows]

    @staticmethod
    async def stream_version(conn: AsyncConnection, stream_id: str) -> int:
        found = await conn.scalar(select(func.max(events.c.stream_version))
                                  .where(events.c.stream_id == stream_id))
        return found or 0

    @staticmethod
    async def read_all(conn: AsyncConnection, after: int = 0,
                       batch: int = 1000) -> AsyncIterator[tuple[int, Envelope]]:
        """Every event by global position, streamed in batches."""
        while True:
            rows = (await conn.execute(
                select(events.c.position, events.c.body)
                .where(events.c.position > after)
                .order_by(events.c.position).limit(batch))).all()
            for row in rows:
                yield row.position, Envelope.from_json(row.body)
            if len(rows) < batch:
                return
            after = rows[-1].position

    @staticmethod
    async def pending_publications(conn: AsyncConnection) -> int:
        return await conn.scalar(select(func.count()).select_from(outbox)) or 0

    @classmethod
    async def verify(cls, conn: AsyncConnection) -> int:
        """Check every stream's hash chain; return events checked or raise ChainBreak."""
        verifier = ChainVerifier()
        async for _, envelope in cls.read_all(conn):
            verifier.check(envelope)
        return verifier.checked


async def verify_database(url: str) -> tuple[bool, str]:
    """Check every hash chain of one service database; say what holds or what broke."""
    from .db import Database  # noqa: PLC0415 — keeps the store free of engine setup
    from .envelope import ChainBreak  # noqa: PLC0415

    db = Database(url)
    try:
        async with db.reading() as conn:
            checked = await EventStore.verify(conn)
        return True, f"ok: {checked} events, every hash chain holds"
    except ChainBreak as broken:
        return False, f"BROKEN: {broken}"
    finally:
        await db.dispose()


def _storable(e: Envelope, body: bytes) -> None:
    """Every reader can take it: small enough for the broker, and no NUL character
    (PostgreSQL text holds none, so a read model could never store it)."""
    size = len(body)
    if size > MAX_EVENT_BYTES:
        raise EventTooLarge(f"{e.event_type} would be {size:,} bytes; an event is at most "
                            f"{MAX_EVENT_BYTES:,}: send fewer or shorter texts")
    if _has_nul(e.payload) or _has_nul([e.correlation_id, e.causation_id, e.actor.id,
                                         e.actor.role]):
        raise UnencodableText("text contains a NUL character (U+0000), which cannot be "
                              "stored")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


_EVENTS_INSERT = ("INSERT INTO events (event_id, stream_id, stream_version, event_type, "
                  "schema_version, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?)")
_OUTBOX_INSERT = "INSERT INTO outbox (event_id, topic, trace_context) VALUES (?, ?, ?)"


def _row(record: Sealed) -> tuple:
    """The stored row (in _EVENTS_INSERT's order); its body is the sealed bytes, the
    ones the hash covers."""
    e = record.envelope
    return (e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version,
            record.body.decode(), e.hash)


__all__ = ["ConcurrencyError", "EventStore", "Metadata", "StreamAppend"]
