"""The cross-service decision timeline, verified as it grows.

Reads every service's event topic as envelopes (no service's code, no payload
models); keeps who did what, when, why, under which rule — but no personal data —
and checks each stream's chain link by link. A break raises `ChainBroken`.
"""
from __future__ import annotations

from sqlalchemy import (JSON, Column, Integer, MetaData, String, Table, Text, insert,
                        select, update)

from services import BUSINESS
from shared.driver_sql import driver
from shared.envelope import Actor, Envelope, canonical_json
from shared.ids import new_id
from shared.projection import Projection
from shared.read_rows import upsert_rows
from shared.store import EventStore, Metadata
from shared.topics import events_topic

from ..domain.events import ChainBroken, registry

# The services whose event topics the audit side follows (the registry's names only:
# no other service's code is imported).
SERVICES = BUSINESS
KEPT = ("institution_id", "committee_id", "meeting_id", "application_id", "organisation_id",
        "round_id", "cycle_id", "indicator_id", "reason", "rulebook_ref", "rules_ref",
        "allowance_rule_ref", "youth_rule_ref", "points", "from_points", "to_points",
        "source", "inputs", "refusal", "detail", "award", "amount")
metadata = MetaData()
timeline = Table(
    "audit_timeline", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("recorded_at", String(40), nullable=False),
    Column("service", String(40), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_role", String(100), nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("causation_id", String(100)),
    Column("institution_id", String(100)),
    Column("facts", JSON, nullable=False))  # the payload's decision fields, nothing personal
heads = Table(
    "audit_chain_heads", metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("hash", String(64), nullable=False))
alerts = Table(
    "audit_alerts", metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", Integer, nullable=False),
    Column("why", Text, nullable=False))


def _row(e: Envelope) -> dict:
    return dict(
        event_id=e.event_id, recorded_at=e.recorded_at.isoformat(), service=e.source,
        event_type=e.event_type, stream_id=e.stream_id, stream_version=e.stream_version,
        actor_id=e.actor.id, actor_role=e.actor.role, correlation_id=e.correlation_id,
        causation_id=e.causation_id, institution_id=e.payload.get("institution_id"),
        facts={k: e.payload[k] for k in KEPT if k in e.payload})


_COLUMNS = [c.name for c in timeline.columns]
_INSERT_ROW = (f"INSERT INTO audit_timeline ({', '.join(_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in _COLUMNS)})")


def _values(e: Envelope) -> tuple:
    """`_row(e)` as the driver takes it: in column order, `facts` as JSON text."""
    row = _row(e)
    row["facts"] = canonical_json(row["facts"])
    return tuple(row[c] for c in _COLUMNS)


class Timeline(Projection):
    name = "audit-timeline"
    metadata = metadata
    registry = registry
    decodes = False

    def __init__(self, store: EventStore | None = None) -> None:
        self.topics = tuple(events_topic(s).name for s in SERVICES)
        self.store = store  # where alerts are recorded (None: rows only, e.g. replay)
        self.durable = store is not None  # an alert is an event: recorded durably

    async def apply_all(self, conn, items) -> None:
        """A batch in three statements (read heads, insert rows, upsert heads) when
        every link holds; any broken link: event by event, which raises the alerts.
        Driver SQL (shared.driver_sql): the timeline takes every event of the city."""
        sql = await driver(conn)
        known = dict(await sql.fetch(
            f"SELECT stream_id, hash FROM audit_chain_heads WHERE {sql.member('stream_id')}",
            (sql.listed({e.stream_id for e, _ in items}),)))
        moved: dict[str, dict] = {}
        for e, _ in items:
            head = moved[e.stream_id]["hash"] if e.stream_id in moved else known.get(e.stream_id)
            if head is not None and head != e.prev_hash:
                return await super().apply_all(conn, items)
            moved[e.stream_id] = {"stream_id": e.stream_id, "version": e.stream_version,
                                  "hash": e.hash}
        await sql.executemany(_INSERT_ROW, [_values(e) for e, _ in items])
        await upsert_rows(conn, heads, list(moved.values()))

    async def apply(self, conn, e: Envelope, _event) -> None:
        head = (await conn.execute(select(heads).where(heads.c.stream_id == e.stream_id)))
        head = head.first()
        if head and head.hash != e.prev_hash:
            await self._alert(conn, e.source, None, None, e,
                              f"event {e.event_id}: previous-hash link broken")
            return
        if (await conn.execute(select(timeline.c.event_id).where(
                timeline.c.event_id == e.event_id))).first():
            await self._alert(conn, e.source, None, None, e,
                              f"event {e.event_id}: this id is already on record at "
                              "another stream position (a copy or a forgery)")
            return
        await conn.execute(insert(timeline).values(**_row(e)))
        if head:
            await conn.execute(update(heads).where(heads.c.stream_id == e.stream_id).values(
                version=e.stream_version, hash=e.hash))
        else:
            await conn.execute(insert(heads).values(stream_id=e.stream_id,
                                                    version=e.stream_version, hash=e.hash))

    async def on_broken(self, conn, record, why: str) -> None:
        await self._alert(conn, record.topic, record.partition, record.offset, None, why)

    async def _alert(self, conn, topic, partition, offset, e: Envelope | None, why) -> None:
        alert_id = new_id()
        await conn.execute(insert(alerts).values(alert_id=alert_id, topic=topic,
                                                 partition=partition or 0,
                                                 offset=offset or 0, why=why))
        if self.store is not None:
            await self.store.append(conn, f"alert-{alert_id}", 0, [ChainBroken(
                topic=topic, partition=partition or 0, offset=offset or 0,
                stream_id=e.stream_id if e else None, event_id=e.event_id if e else None,
                why=why)], Metadata(actor=Actor(id="audit-service", role="system"),
                                    correlation_id=alert_id))
