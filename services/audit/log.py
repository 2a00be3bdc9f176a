"""The decision history as the Kafka log holds it: every event of every service.

Reading is deterministic: records are ordered by (recorded-at, event id), which is
the same whatever the partition interleaving or the machine; nothing else is asked
of the clock or of the services.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.envelope import Envelope
from shared.kafka_io import existing_topics, read_topic
from shared.topics import events_topic

from .adapters.timeline import SERVICES  # one list for the service and the tools


@dataclass(frozen=True)
class Logged:
    topic: str
    partition: int
    offset: int
    raw: bytes
    envelope: Envelope | None  # None: the bytes are not a valid envelope
    problem: str | None = None


async def read_log(bootstrap: str, topics: list[str] | None = None) -> list[Logged]:
    """Every record of the event topics, in time order (unparseable ones kept, flagged)."""
    found = []
    present = await existing_topics(bootstrap)
    wanted = topics or [events_topic(s).name for s in SERVICES if events_topic(s).name in present]
    for topic in wanted:
        for r in await read_topic(bootstrap, topic, timeout=120):
            try:
                found.append(Logged(r.topic, r.partition, r.offset, r.value,
                                    Envelope.from_json(r.value)))
            except Exception as error:  # kept: verify reports it
                found.append(Logged(r.topic, r.partition, r.offset, r.value or b"", None,
                                    f"not an envelope: {type(error).__name__}"))
    return sorted(found, key=_order)


def _order(item: Logged):
    e = item.envelope
    return (e.recorded_at.isoformat(), e.event_id) if e else ("", f"{item.topic}/{item.offset}")


def until(items: list[Logged], moment: datetime | None) -> list[Logged]:
    return [i for i in items if moment is None or (i.envelope and
                                                   i.envelope.recorded_at <= moment)]
