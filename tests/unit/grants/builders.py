"""Builders for the grants unit tests: rule variants, candidates and events folded into
aggregates (no I/O).

2021 figures (services/grants/rules/2021.json): budget 2,000,000,000 KRW; cap 30,000,000;
12 fields; award bands: score >= 85 -> the request, else 73.34 % of it, floored to
100,000; self-funding share 5 %; new-organisation target 60 %.
"""
from __future__ import annotations

from decimal import Decimal

from services.grants.domain.application import Application, application_stream
from services.grants.domain.events import (ApplicationReceived, OrganisationRegistered,
                                           PaymentMade, PlanRevised, ReviewConflictDeclared,
                                           ReviewerAssigned, ReviewScored, SpendingReported)
from services.grants.domain.grant_round import GrantRound, round_stream
from services.grants.domain.organisation import Organisation, organisation_stream
from services.grants.domain.rules import Candidate, GrantRules, load_rules

RULES = load_rules(2021)
FIELDS = list(RULES.fields)
D = Decimal


def rules_with(**changes) -> GrantRules:
    """The 2021 rules with some figures changed (validated like the real file)."""
    return GrantRules.model_validate({**RULES.model_dump(), **changes})


def cand(app_id: str, field: str = "climate-environment", requested: int = 10_000_000,
         score: int | str | Decimal = 90, new: bool = True) -> Candidate:
    return Candidate(app_id, field, requested, D(score), new)


# ------------------------------------------------------------------ round

def grant_round(*events) -> GrantRound:
    return GrantRound(round_stream("2021"), list(events))


def opened(rules: GrantRules = RULES) -> list:
    """The history of a freshly opened round (RoundOpened), from the command itself."""
    return GrantRound(round_stream(rules.round_id)).open(rules)


def closed(rules: GrantRules = RULES) -> list:
    """Opened, then closed for applications."""
    history = opened(rules)
    return [*history, *grant_round(*history).close_applications()]


# ------------------------------------------------------------------ application

APP = "app-1"
ORG = "org-1"


def received(requested: int = 30_000_000, pledged: int = 1_500_000,
             field: str = "climate-environment", new: bool = True) -> ApplicationReceived:
    return ApplicationReceived(application_id=APP, round_id="2021", organisation_id=ORG,
                               field=field, requested_amount=requested,
                               self_funding_pledged=pledged, plan_summary="기후 교육",
                               new_organisation=new)


def application(*events) -> Application:
    return Application(application_stream(APP), list(events))


def assigned(reviewer: str) -> ReviewerAssigned:
    return ReviewerAssigned(application_id=APP, reviewer_id=reviewer)


def conflict(reviewer: str) -> ReviewConflictDeclared:
    return ReviewConflictDeclared(application_id=APP, reviewer_id=reviewer,
                                  reason="임원으로 재직")


def scored(reviewer: str, total: int) -> ReviewScored:
    return ReviewScored(application_id=APP, reviewer_id=reviewer, scores={}, total=total)


def revised(award: int) -> PlanRevised:
    return PlanRevised(application_id=APP, award=award, revised_summary="축소 계획")


def paid(amount: int) -> PaymentMade:
    return PaymentMade(application_id=APP, amount=amount)


def spending(grant: int, own: int) -> SpendingReported:
    return SpendingReported(application_id=APP, grant_spent=grant, self_funding_spent=own)


def full_scores(**overrides: int) -> dict[str, int]:
    """Every criterion at its maximum (30+25+20+15+10 = 100), with overrides."""
    return {**RULES.review_criteria, **overrides}


# ------------------------------------------------------------------ organisation

def registered(nonprofit: bool = True, funded_before: bool = False,
               past: str | None = None) -> OrganisationRegistered:
    return OrganisationRegistered(organisation_id=ORG, name_ko="기후행동 시민모임",
                                  registered_nonprofit=nonprofit,
                                  funded_before=funded_before, past_evaluation=past)


def organisation(*events) -> Organisation:
    return Organisation(organisation_stream(ORG), list(events))
