"""Facts of the audit service. Topic: hyeopchi.audit.events. Stream: `alert-<id>`."""
from __future__ import annotations

from shared.registry import DomainEvent, EventRegistry

registry = EventRegistry()


@registry.register
class ChainBroken(DomainEvent):
    """A record in a service's topic breaks its stream's hash chain (감사 경보)."""

    event_type = "audit.ChainBroken"
    version = 1
    topic: str
    partition: int
    offset: int
    stream_id: str | None
    event_id: str | None
    why: str
