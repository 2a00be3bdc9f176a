"""The backbone's tables, present in every service database."""
from sqlalchemy import (BigInteger, Column, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

backbone = MetaData()

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so autoincrementing) on SQLite.
Position = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events", backbone,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the canonical envelope JSON, as hashed
    Column("hash", String(64), nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
)

# Pending publications: written in the same transaction as the events, deleted by
# the relay only after the broker acknowledged them (acks=all).
outbox = Table(
    "outbox", backbone,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    # W3C trace context of the appending request, sent as Kafka headers so a trace
    # follows the event into the services that consume it.
    Column("trace_context", Text, nullable=True),
)

# Ids of messages a consumer has applied, written with the effects (exactly-once
# effect): event ids, command ids, or `ext:<source>:<id>` of external facts.
inbox = Table(
    "inbox", backbone,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(255), primary_key=True),
)

# A projection's Kafka positions, committed in the same transaction as its rows.
projection_offsets = Table(
    "projection_offsets", backbone,
    Column("projection", String(100), primary_key=True),
    Column("topic", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

# Last stream version a projection applied: the log may carry a republished
# duplicate (the relay is at-least-once); this makes applying it a no-op.
projection_streams = Table(
    "projection_streams", backbone,
    Column("projection", String(100), primary_key=True),
    Column("stream_id", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
)
