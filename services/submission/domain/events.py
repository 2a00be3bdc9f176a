"""Facts of the submission service (past tense, versioned). Topic: hyeopchi.submission.events.

Streams: `cycle-<year>`, `institution-<id>`, `report-<year>-<institution id>`,
`command-<command id>` (a refused command sent over Kafka).
"""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.registry import DomainEvent, EventRegistry

from .content import IndicatorResult, NotApplicable
from .rulebook import InstitutionKind, Rulebook

registry = EventRegistry()
Reason = Field(min_length=1, max_length=2000)


@registry.register
class CycleOpened(DomainEvent):
    """An evaluation cycle (평가 주기) opened with the whole rulebook it runs under."""

    event_type = "submission.CycleOpened"
    version = 1
    cycle_id: str
    year: int
    rulebook: Rulebook
    deadline: datetime


@registry.register
class DeadlineSet(DomainEvent):
    event_type = "submission.DeadlineSet"
    version = 1
    cycle_id: str
    deadline: datetime
    reason: str = Reason


@registry.register
class RulebookRevised(DomainEvent):
    """The cycle's rules replaced by a newer version of the same year's rulebook."""

    event_type = "submission.RulebookRevised"
    version = 1
    cycle_id: str
    rulebook: Rulebook
    reason: str = Reason


@registry.register
class CycleClosed(DomainEvent):
    event_type = "submission.CycleClosed"
    version = 1
    cycle_id: str
    reason: str = Reason


@registry.register
class InstitutionRegisteredV1(DomainEvent):
    """Version 1, as recorded before divisions were counted (kept to read old events)."""

    event_type = "submission.InstitutionRegistered"
    version = 1
    institution_id: str
    name_ko: str
    kind: InstitutionKind


@registry.register
class InstitutionRegistered(DomainEvent):
    """An institution (기관: 실국 / 본부 / 사업소) that must report. Version 2 adds how
    many divisions (과) it has: a bureau with one is reviewed at field-office level."""

    event_type = "submission.InstitutionRegistered"
    version = 2
    institution_id: str
    name_ko: str
    kind: InstitutionKind
    division_count: int | None = Field(None, ge=1, le=100)  # None: not recorded


@registry.upcaster("submission.InstitutionRegistered", from_version=1)
def _divisions_unknown(payload: dict) -> dict:
    return {**payload, "division_count": None}


@registry.register
class FieldOfficeTreatmentSet(DomainEvent):
    """The panel treats a single-division bureau at field-office level (or stops)."""

    event_type = "submission.FieldOfficeTreatmentSet"
    version = 1
    institution_id: str
    treated_as_field_office: bool
    reason: str = Reason


class _ReportVersion(DomainEvent):
    """What every version of a report carries; not an event type by itself."""

    cycle_id: str
    institution_id: str
    submission_id: str
    rulebook_ref: str
    results: list[IndicatorResult]
    late: bool = False  # accepted after the deadline thanks to a reopening


@registry.register
class ReportSubmitted(_ReportVersion):
    """The design card's SubmissionReceived: a governance implementation result
    report (협치이행 결과보고서) received. Not-applicable marks follow as their own events."""

    event_type = "submission.ReportSubmitted"
    version = 1


@registry.register
class ReportAmended(_ReportVersion):
    """The report replaced by a new version; its not-applicable marks follow."""

    event_type = "submission.ReportAmended"
    version = 1
    reason: str = Reason


@registry.register
class IndicatorMarkedNotApplicable(DomainEvent):
    event_type = "submission.IndicatorMarkedNotApplicable"
    version = 1
    cycle_id: str
    institution_id: str
    indicator_id: str
    reason: str = Reason


@registry.register
class ReportWithdrawn(DomainEvent):
    event_type = "submission.ReportWithdrawn"
    version = 1
    cycle_id: str
    institution_id: str
    reason: str = Reason


@registry.register
class ReportReopened(DomainEvent):
    """The governance office lets one institution submit or amend after the deadline."""

    event_type = "submission.ReportReopened"
    version = 1
    cycle_id: str
    institution_id: str
    until: datetime
    reason: str = Reason


@registry.register
class CommandRejected(DomainEvent):
    """A command from another system refused, with the rule it broke."""

    event_type = "submission.CommandRejected"
    version = 1
    command_id: str
    command_type: str
    refusal: str
    detail: str
