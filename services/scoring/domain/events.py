"""Facts of the scoring service (past tense, versioned). Topic: hyeopchi.scoring.events.

Streams: `scoring-<year>` (the cycle: opened, provisional, signed off, reopened),
`scorecard-<year>-<institution>` (scores, experts, adjustments, appeals),
`headcount-<institution>` and `learning-<institution>` (facts from HR and the
education platform, recorded as they arrived).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from shared.registry import DomainEvent, EventRegistry

registry = EventRegistry()
Reason = Field(min_length=1, max_length=2000)
Points = Field(ge=0, le=1000, max_digits=7, decimal_places=2)


class _OnScorecard(DomainEvent):
    cycle_id: str
    institution_id: str


@registry.register
class ScoringOpened(DomainEvent):
    """A cycle's scoring began, under the rulebook the cycle was opened with."""

    event_type = "scoring.ScoringOpened"
    version = 1
    cycle_id: str
    year: int
    rulebook_ref: str
    rulebook: dict[str, Any]
    cause_event_id: str  # the submission service's CycleOpened


@registry.register
class RulebookApplied(DomainEvent):
    """A newer rulebook version for the cycle: scores are recomputed under it (before
    sign-off; after sign-off, at the next reopening)."""

    event_type = "scoring.RulebookApplied"
    version = 1
    cycle_id: str
    rulebook_ref: str
    rulebook: dict[str, Any]
    cause_event_id: str  # the submission service's RulebookRevised


@registry.register
class ScoreComputed(_OnScorecard):
    """The design card's ScoreComputed: one indicator scored by the rules, with the
    rulebook version and the input events it was computed from."""

    event_type = "scoring.ScoreComputed"
    version = 1
    indicator_id: str
    points: Decimal = Points
    max_points: int
    source: Literal["measured", "base", "expert", "pending"]
    weight: Decimal
    measure: dict[str, Any]
    inputs: list[str]
    explanation: str
    rulebook_ref: str


@registry.register
class ExpertAssigned(_OnScorecard):
    event_type = "scoring.ExpertAssigned"
    version = 1
    indicator_id: str
    expert_id: str


@registry.register
class ConflictDeclared(_OnScorecard):
    """An expert declared a conflict of interest with the institution: excluded."""

    event_type = "scoring.ConflictDeclared"
    version = 1
    expert_id: str
    reason: str = Reason


@registry.register
class ExpertScoreGiven(_OnScorecard):
    """A free score (자율점수) by an assigned, unconflicted external expert."""

    event_type = "scoring.ExpertScoreGiven"
    version = 1
    indicator_id: str
    expert_id: str
    points: Decimal = Points
    comment: str = Field(min_length=1, max_length=4000)


@registry.register
class ScoreAdjusted(_OnScorecard):
    """The panel (협치역량평가단) changed a score, with a reason; the original stays."""

    event_type = "scoring.ScoreAdjusted"
    version = 1
    indicator_id: str
    from_points: Decimal = Points
    to_points: Decimal = Points
    reason: str = Reason
    adjusted_by: str  # a panel member: may not review an appeal against this score


@registry.register
class AppealFiled(_OnScorecard):
    """An objection (이의신청) by the institution against a provisional score."""

    event_type = "scoring.AppealFiled"
    version = 1
    appeal_id: str
    indicator_id: str
    grounds: str = Reason


@registry.register
class AppealReviewerAssigned(_OnScorecard):
    event_type = "scoring.AppealReviewerAssigned"
    version = 1
    appeal_id: str
    reviewer_id: str


@registry.register
class AppealDecided(_OnScorecard):
    event_type = "scoring.AppealDecided"
    version = 1
    appeal_id: str
    indicator_id: str
    upheld: bool
    from_points: Decimal = Points
    to_points: Decimal = Points
    reason: str = Reason


@registry.register
class ProvisionalResultsPublished(DomainEvent):
    event_type = "scoring.ProvisionalResultsPublished"
    version = 1
    cycle_id: str
    appeals_until: datetime
    ranking: list[dict[str, Any]]


@registry.register
class ResultsSignedOff(DomainEvent):
    """Final results (최종 결과) for the evaluation office (평가담당관)."""

    event_type = "scoring.ResultsSignedOff"
    version = 1
    cycle_id: str
    rulebook_ref: str
    ranking: list[dict[str, Any]]


@registry.register
class ScoringReopened(DomainEvent):
    event_type = "scoring.ScoringReopened"
    version = 1
    cycle_id: str
    reason: str = Reason


@registry.register
class HeadcountRecorded(DomainEvent):
    """Current headcount (현원) as the HR system reported it."""

    event_type = "scoring.HeadcountRecorded"
    version = 1
    institution_id: str
    headcount: int = Field(ge=0, le=1_000_000)
    as_of: date
    external_event_id: str
    source_system: str


@registry.register
class CourseCompletionRecorded(DomainEvent):
    """A staff member (pseudonymous ref) completed an online course (MOOC)."""

    event_type = "scoring.CourseCompletionRecorded"
    version = 1
    institution_id: str
    course_id: str
    learner_ref: str
    completed_on: date
    external_event_id: str
    source_system: str
