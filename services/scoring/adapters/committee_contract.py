"""The committee events scoring reads, as scoring understands them (consumer-side:
only the fields it uses, unknown fields ignored)."""
from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from shared.registry import DomainEvent, EventRegistry

committee_events = EventRegistry()


@committee_events.register
class MeetingHeld(DomainEvent):
    """Evidence for the meetings-held indicator (위원회 개최횟수)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type = "committee.MeetingHeld"
    version = 1
    meeting_id: str
    committee_id: str
    institution_id: str
    starts_at: datetime
    mode: str
