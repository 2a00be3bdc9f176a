"""The submission events scoring reads, as scoring understands them.

A consumer-side contract: only the fields scoring uses, unknown fields ignored, so
the submission service can add fields without breaking scoring. Names and versions
match the submission service's published schemas (hyeopchi schemas).
"""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from shared.registry import DomainEvent, EventRegistry

submission_events = EventRegistry()


class _Read(DomainEvent):
    model_config = ConfigDict(frozen=True, extra="ignore")


@submission_events.register
class CycleOpened(_Read):
    event_type = "submission.CycleOpened"
    version = 1
    cycle_id: str
    year: int
    rulebook: dict[str, Any]


@submission_events.register
class RulebookRevised(_Read):
    event_type = "submission.RulebookRevised"
    version = 1
    cycle_id: str
    rulebook: dict[str, Any]


@submission_events.register
class InstitutionRegisteredV1(_Read):
    event_type = "submission.InstitutionRegistered"
    version = 1
    institution_id: str
    kind: str


@submission_events.register
class InstitutionRegistered(InstitutionRegisteredV1):
    """v2 adds division_count; scoring reads only what both versions carry."""
    event_type = "submission.InstitutionRegistered"
    version = 2


@submission_events.upcaster("submission.InstitutionRegistered", from_version=1)
def _same_fields(payload: dict) -> dict:
    return payload


@submission_events.register
class FieldOfficeTreatmentSet(_Read):
    event_type = "submission.FieldOfficeTreatmentSet"
    version = 1
    institution_id: str
    treated_as_field_office: bool


@submission_events.register
class ReportSubmitted(_Read):
    event_type = "submission.ReportSubmitted"
    version = 1
    cycle_id: str
    institution_id: str
    results: list[dict[str, Any]]


@submission_events.register
class ReportAmended(ReportSubmitted):
    event_type = "submission.ReportAmended"
    version = 1


@submission_events.register
class IndicatorMarkedNotApplicable(_Read):
    event_type = "submission.IndicatorMarkedNotApplicable"
    version = 1
    cycle_id: str
    institution_id: str
    indicator_id: str


@submission_events.register
class ReportWithdrawn(_Read):
    event_type = "submission.ReportWithdrawn"
    version = 1
    cycle_id: str
    institution_id: str
