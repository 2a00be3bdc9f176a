"""What scoring knows about an institution: facts other services and systems recorded.

Each fact keeps the id of the event it came from, so every score can name its inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Source = Literal["measured", "base", "expert", "pending"]


@dataclass(frozen=True)
class ReportFacts:
    """The institution's current report: results by indicator id, as submitted."""

    results: dict[str, dict[str, Any]]
    not_applicable: frozenset[str]
    event_ids: tuple[str, ...]  # the report event, then its not-applicable marks


@dataclass(frozen=True)
class InstitutionFacts:
    institution_id: str
    kind: str  # bureau | headquarters | field_office
    treated_as_field_office: bool = False
    report: ReportFacts | None = None
    headcount: int | None = None           # current headcount (현원), from HR
    headcount_event: str | None = None
    learners_completed: int = 0            # staff with >= 1 of the MOOC courses done
    completion_events: tuple[str, ...] = ()
    expert_scores: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)
    expert_score_events: dict[str, tuple[str, ...]] = field(default_factory=dict)
    meetings_on_record: tuple[str, ...] = ()  # MeetingHeld event ids (committee service)


@dataclass(frozen=True)
class IndicatorScore:
    """One computed score: points, where they come from, and why."""

    indicator_id: str
    points: Decimal          # after weight, capped at max_points, 2 decimals
    max_points: int
    source: Source
    weight: Decimal          # 1 unless the committee weight applies
    measure: dict[str, Any]  # the raw figures the points were read from
    inputs: tuple[str, ...]  # event ids
    explanation: str         # one sentence a domain expert can check
