"""An application (신청 사업): received, screened, reviewed, and — once selected —
revised to its award, paid, reported on, checked for self-funding (자부담)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from shared.aggregate import Aggregate

from .errors import Conflicted, InvalidState, NotSelected, OverCap
from .events import (ApplicationExcluded, ApplicationReceived, PaymentMade, PenaltyImposed,
                     PlanRevised, ProjectClosed, ReviewConflictDeclared, ReviewerAssigned,
                     ReviewScored, SelfFundingChecked, SpendingReported)
from .rules import GrantRules, check_self_funding


def application_stream(application_id: str) -> str:
    return f"application-{application_id}"


@dataclass(frozen=True)
class ApplicationState:
    received: ApplicationReceived | None = None
    excluded: str | None = None
    reviewers: frozenset[str] = frozenset()
    conflicted: frozenset[str] = frozenset()
    scores: dict = field(default_factory=dict)  # reviewer -> total
    revised_to: int | None = None
    paid: int = 0
    spending: SpendingReported | None = None
    checked: bool = False
    closed: bool = False


class Application(Aggregate[ApplicationState]):
    def initial(self) -> ApplicationState:
        return ApplicationState()

    def evolve(self, s: ApplicationState, e) -> ApplicationState:
        match e:
            case ApplicationReceived():
                return ApplicationState(received=e)
            case ApplicationExcluded():
                return replace(s, excluded=e.reason_code)
            case ReviewerAssigned():
                return replace(s, reviewers=s.reviewers | {e.reviewer_id})
            case ReviewConflictDeclared():
                return replace(s, conflicted=s.conflicted | {e.reviewer_id})
            case ReviewScored():
                return replace(s, scores={**s.scores, e.reviewer_id: e.total})
            case PlanRevised():
                return replace(s, revised_to=e.award)
            case PaymentMade():
                return replace(s, paid=s.paid + e.amount)
            case SpendingReported():
                return replace(s, spending=e)
            case SelfFundingChecked():
                return replace(s, checked=True)
            case ProjectClosed():
                return replace(s, closed=True)
        return s

    def receive(self, rules: GrantRules, application_id: str, organisation_id: str,
                field_name: str, requested: int, pledged: int, plan: str,
                new_organisation: bool) -> list:
        if self.exists:
            raise InvalidState(f"application {application_id} was already received")
        if requested > rules.cap_per_project:
            raise OverCap(f"{requested:,} KRW requested; round {rules.round_id} funds at "
                          f"most {rules.cap_per_project:,} per project")
        if field_name not in rules.fields:
            raise InvalidState(f"field {field_name!r} is not one of the round's "
                               f"{len(rules.fields)} fields")
        return [ApplicationReceived(
            application_id=application_id, round_id=rules.round_id,
            organisation_id=organisation_id, field=field_name, requested_amount=requested,
            self_funding_pledged=pledged, plan_summary=plan,
            new_organisation=new_organisation)]

    def screen(self, rules: GrantRules, organisation_exclusion: tuple[str, str] | None) -> list:
        """Exclude for the organisation's standing, or an incomplete self-funding pledge."""
        if self.state.excluded:
            return []
        app = self._received()
        why = organisation_exclusion
        need = int((rules.self_funding_share * app.requested_amount).to_integral_value(
            rounding="ROUND_CEILING"))
        if why is None and app.self_funding_pledged < need:
            why = ("incomplete", f"self-funding pledged {app.self_funding_pledged:,} is under "
                                 f"{rules.self_funding_share:.0%} of the request ({need:,})")
        if why is None:
            return []
        return [ApplicationExcluded(application_id=app.application_id,
                                    round_id=app.round_id, reason_code=why[0], detail=why[1])]

    def mean_score(self) -> Decimal | None:
        """The mean of the unconflicted reviewers' totals (2 places)."""
        kept = [v for r, v in self.state.scores.items() if r not in self.state.conflicted]
        if not kept:
            return None
        return (Decimal(sum(kept)) / len(kept)).quantize(Decimal("0.01"))

    def assign_reviewer(self, reviewer_id: str) -> list:
        app = self._reviewable()
        if reviewer_id in self.state.conflicted:
            raise Conflicted(f"{reviewer_id} declared a conflict with this application")
        return [ReviewerAssigned(application_id=app.application_id, reviewer_id=reviewer_id)]

    def declare_conflict(self, reviewer_id: str, reason: str) -> list:
        app = self._received()
        return [ReviewConflictDeclared(application_id=app.application_id,
                                       reviewer_id=reviewer_id, reason=reason)]

    def score(self, rules: GrantRules, reviewer_id: str, scores: dict[str, int]) -> list:
        app = self._reviewable()
        if reviewer_id in self.state.conflicted:
            raise Conflicted(f"{reviewer_id} declared a conflict with {app.application_id}")
        if reviewer_id not in self.state.reviewers:
            raise Conflicted(f"{reviewer_id} is not assigned to review {app.application_id}")
        if set(scores) != set(rules.review_criteria):
            raise InvalidState(f"scores must cover exactly the criteria "
                               f"{', '.join(rules.review_criteria)}")
        for criterion, points in scores.items():
            if not 0 <= points <= rules.review_criteria[criterion]:
                raise OverCap(f"{criterion}: {points} is outside "
                              f"0..{rules.review_criteria[criterion]}")
        return [ReviewScored(application_id=app.application_id, reviewer_id=reviewer_id,
                             scores=scores, total=sum(scores.values()))]

    def revise_plan(self, award: int | None, summary: str) -> list:
        app = self._selected(award)
        if award >= app.requested_amount:
            raise InvalidState("the award covers the request: no revision is needed")
        return [PlanRevised(application_id=app.application_id, award=award,
                            revised_summary=summary)]

    def pay(self, award: int | None, amount: int) -> list:
        app = self._selected(award)
        if award < app.requested_amount and self.state.revised_to != award:
            raise InvalidState(f"the award ({award:,}) is below the request "
                               f"({app.requested_amount:,}): the plan must be revised first")
        if self.state.paid + amount > award:
            raise OverCap(f"paying {amount:,} would exceed the award of {award:,} "
                          f"({self.state.paid:,} already paid)")
        return [PaymentMade(application_id=app.application_id, amount=amount)]

    def report_spending(self, grant_spent: int, self_spent: int) -> list:
        app = self._received()
        if not self.state.paid:
            raise InvalidState("nothing has been paid yet")
        if grant_spent > self.state.paid:
            raise OverCap(f"{grant_spent:,} spent of {self.state.paid:,} paid")
        return [SpendingReported(application_id=app.application_id, grant_spent=grant_spent,
                                 self_funding_spent=self_spent)]

    def check_self_funding(self, rules: GrantRules, award: int | None) -> list:
        app = self._selected(award)
        if self.state.spending is None:
            raise InvalidState("no spending report yet")
        if self.state.checked:
            raise InvalidState("self-funding was already checked")
        s = self.state.spending
        result = check_self_funding(rules, award, s.grant_spent, s.self_funding_spent)
        events = [SelfFundingChecked(application_id=app.application_id,
                                     execution_rate=str(result.execution_rate),
                                     required=result.required, actual=result.actual,
                                     shortfall=result.shortfall, rules_ref=rules.ref)]
        if result.shortfall:
            events.append(PenaltyImposed(
                application_id=app.application_id, organisation_id=app.organisation_id,
                amount=result.penalty, next_round_effect=rules.penalty.next_round_effect,
                reason=f"self-funding {result.actual:,} under the required "
                       f"{result.required:,} ({rules.self_funding_share:.0%} at execution "
                       f"rate {result.execution_rate})"))
        return events

    def close(self) -> list:
        app = self._received()
        if not self.state.checked:
            raise InvalidState("self-funding must be checked before closing")
        return [ProjectClosed(application_id=app.application_id)]

    def _received(self) -> ApplicationReceived:
        if self.state.received is None:
            raise InvalidState("no such application")
        return self.state.received

    def _reviewable(self) -> ApplicationReceived:
        app = self._received()
        if self.state.excluded:
            raise InvalidState(f"{app.application_id} was excluded ({self.state.excluded})")
        return app

    def _selected(self, award: int | None) -> ApplicationReceived:
        app = self._received()
        if award is None:
            raise NotSelected(f"{app.application_id} was not selected")
        return app
