"""Commands of the grants service: one JSON contract for Kafka and HTTP.

Applications may arrive from the city's intake system over Kafka
(hyeopchi.grants.commands, key = the organisation id) or over HTTP.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from shared.commands import command_message

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Won = Annotated[int, Field(ge=0, le=10**13)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenRound(_Command):
    command_type: Literal["OpenRound"] = "OpenRound"
    year: int = Field(ge=2000, le=2100)


class CloseApplications(_Command):
    command_type: Literal["CloseApplications"] = "CloseApplications"
    round_id: Id


class RegisterOrganisation(_Command):
    command_type: Literal["RegisterOrganisation"] = "RegisterOrganisation"
    organisation_id: Id
    name_ko: str = Field(min_length=1, max_length=200)
    registered_nonprofit: bool
    funded_before: bool
    past_evaluation: Literal["good", "poor"] | None = None


class ReceiveApplication(_Command):
    command_type: Literal["ReceiveApplication"] = "ReceiveApplication"
    round_id: Id
    application_id: Id
    organisation_id: Id
    field: Id
    requested_amount: Won
    self_funding_pledged: Won
    plan_summary: str = Field(min_length=1, max_length=4000)


class ScreenApplications(_Command):
    """Exclude what the round cannot fund (미등록, 평가미흡, 불완전), with reasons."""
    command_type: Literal["ScreenApplications"] = "ScreenApplications"
    round_id: Id


class AssignReviewer(_Command):
    command_type: Literal["AssignReviewer"] = "AssignReviewer"
    application_id: Id
    reviewer_id: Id


class DeclareReviewConflict(_Command):
    """A reviewer (the actor) declares a conflict of interest."""
    command_type: Literal["DeclareReviewConflict"] = "DeclareReviewConflict"
    application_id: Id
    reason: Reason


class ScoreApplication(_Command):
    """A reviewer (the actor) scores each criterion."""
    command_type: Literal["ScoreApplication"] = "ScoreApplication"
    application_id: Id
    scores: dict[str, int]


class DecideSelection(_Command):
    command_type: Literal["DecideSelection"] = "DecideSelection"
    round_id: Id


class OverrideSelection(_Command):
    """The selection committee changes one outcome, with a reason."""
    command_type: Literal["OverrideSelection"] = "OverrideSelection"
    round_id: Id
    application_id: Id
    selected: bool
    award: Won = 0
    reason: Reason


class RevisePlan(_Command):
    command_type: Literal["RevisePlan"] = "RevisePlan"
    application_id: Id
    revised_summary: str = Field(min_length=1, max_length=4000)


class MakePayment(_Command):
    command_type: Literal["MakePayment"] = "MakePayment"
    application_id: Id
    amount: Won


class ReportSpending(_Command):
    command_type: Literal["ReportSpending"] = "ReportSpending"
    application_id: Id
    grant_spent: Won
    self_funding_spent: Won


class CheckSelfFunding(_Command):
    command_type: Literal["CheckSelfFunding"] = "CheckSelfFunding"
    application_id: Id


class CloseProject(_Command):
    command_type: Literal["CloseProject"] = "CloseProject"
    application_id: Id


Command = Annotated[Union[OpenRound, CloseApplications, RegisterOrganisation,
                          ReceiveApplication, ScreenApplications, AssignReviewer,
                          DeclareReviewConflict, ScoreApplication, DecideSelection,
                          OverrideSelection, RevisePlan, MakePayment, ReportSpending,
                          CheckSelfFunding, CloseProject],
                    Field(discriminator="command_type")]
CommandMessage = command_message("GrantsCommandMessage", Command)
