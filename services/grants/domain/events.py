"""Facts of the grants service (past tense, versioned). Topic: hyeopchi.grants.events.

Streams: `round-<id>` (opened, closed for applications, selection and overrides),
`organisation-<id>`, `application-<id>` (received, screened, reviewed, revised,
paid, spending, self-funding check, penalty, closed).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.registry import DomainEvent, EventRegistry

registry = EventRegistry()
Reason = Field(min_length=1, max_length=2000)
Won = Field(ge=0, le=10**13)


@registry.register
class RoundOpened(DomainEvent):
    event_type = "grants.RoundOpened"
    version = 1
    round_id: str
    rules: dict[str, Any]
    rules_ref: str


@registry.register
class ApplicationsClosed(DomainEvent):
    event_type = "grants.ApplicationsClosed"
    version = 1
    round_id: str


@registry.register
class OrganisationRegistered(DomainEvent):
    """A non-profit organisation (비영리민간단체) known to the programme."""
    event_type = "grants.OrganisationRegistered"
    version = 1
    organisation_id: str
    name_ko: str
    registered_nonprofit: bool
    funded_before: bool  # an existing organisation (기존단체), else new (신규)
    past_evaluation: Literal["good", "poor"] | None = None


@registry.register
class OrganisationEvaluated(DomainEvent):
    event_type = "grants.OrganisationEvaluated"
    version = 1
    organisation_id: str
    round_id: str
    evaluation: Literal["good", "poor"]
    reason: str = Reason


@registry.register
class ApplicationReceived(DomainEvent):
    event_type = "grants.ApplicationReceived"
    version = 1
    application_id: str
    round_id: str
    organisation_id: str
    field: str
    requested_amount: int = Won
    self_funding_pledged: int = Won
    plan_summary: str
    new_organisation: bool


@registry.register
class ApplicationExcluded(DomainEvent):
    """Screening (심사 제외): not registered, poor past evaluation, duplicate, incomplete."""
    event_type = "grants.ApplicationExcluded"
    version = 1
    application_id: str
    round_id: str
    reason_code: Literal["not_registered", "poor_past_evaluation", "duplicate", "incomplete"]
    detail: str


@registry.register
class ReviewerAssigned(DomainEvent):
    event_type = "grants.ReviewerAssigned"
    version = 1
    application_id: str
    reviewer_id: str


@registry.register
class ReviewConflictDeclared(DomainEvent):
    event_type = "grants.ReviewConflictDeclared"
    version = 1
    application_id: str
    reviewer_id: str
    reason: str = Reason


@registry.register
class ReviewScored(DomainEvent):
    event_type = "grants.ReviewScored"
    version = 1
    application_id: str
    reviewer_id: str
    scores: dict[str, int]
    total: int


class DecisionRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    application_id: str
    selected: bool
    award: int
    order: int | None
    reason: str


@registry.register
class SelectionDecided(DomainEvent):
    """Every reviewed application's outcome, with the reason, in one decision."""
    event_type = "grants.SelectionDecided"
    version = 1
    round_id: str
    rules_ref: str
    decisions: list[DecisionRecord]
    budget_committed: int


@registry.register
class SelectionOverridden(DomainEvent):
    """The selection committee changed one outcome, with a reason."""
    event_type = "grants.SelectionOverridden"
    version = 1
    round_id: str
    application_id: str
    selected: bool
    award: int
    reason: str = Reason


@registry.register
class PlanRevised(DomainEvent):
    """An award below the request: the plan shrinks to fit (계획 축소)."""
    event_type = "grants.PlanRevised"
    version = 1
    application_id: str
    award: int
    revised_summary: str


@registry.register
class PaymentMade(DomainEvent):
    event_type = "grants.PaymentMade"
    version = 1
    application_id: str
    amount: int = Won


@registry.register
class SpendingReported(DomainEvent):
    event_type = "grants.SpendingReported"
    version = 1
    application_id: str
    grant_spent: int = Won
    self_funding_spent: int = Won


@registry.register
class SelfFundingChecked(DomainEvent):
    event_type = "grants.SelfFundingChecked"
    version = 1
    application_id: str
    execution_rate: str
    required: int
    actual: int
    shortfall: int
    rules_ref: str


@registry.register
class PenaltyImposed(DomainEvent):
    event_type = "grants.PenaltyImposed"
    version = 1
    application_id: str
    organisation_id: str
    amount: int
    reason: str
    next_round_effect: str


@registry.register
class ProjectClosed(DomainEvent):
    event_type = "grants.ProjectClosed"
    version = 1
    application_id: str


@registry.register
class CommandRejected(DomainEvent):
    event_type = "grants.CommandRejected"
    version = 1
    command_id: str
    command_type: str
    refusal: str
    detail: str
