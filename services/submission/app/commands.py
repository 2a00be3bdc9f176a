"""Commands: the public JSON contract, the same for Kafka and HTTP.

On Kafka (topic `hyeopchi.submission.commands`) a command travels in a
`CommandMessage`; over HTTP the `command` object alone is the request body.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.commands import command_message

from ..domain.content import IndicatorResult, NotApplicable
from ..domain.rulebook import InstitutionKind

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Year = Annotated[int, Field(ge=2000, le=2100)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenCycle(_Command):
    command_type: Literal["OpenCycle"] = "OpenCycle"
    year: Year
    deadline: AwareDatetime


class SetDeadline(_Command):
    command_type: Literal["SetDeadline"] = "SetDeadline"
    year: Year
    deadline: AwareDatetime
    reason: Reason


class ReviseRulebook(_Command):
    """Replace the cycle's rules by a newer version of the year's rulebook."""
    command_type: Literal["ReviseRulebook"] = "ReviseRulebook"
    year: Year
    version: int = Field(ge=2, le=100)
    reason: Reason


class CloseCycle(_Command):
    command_type: Literal["CloseCycle"] = "CloseCycle"
    year: Year
    reason: Reason


class RegisterInstitution(_Command):
    command_type: Literal["RegisterInstitution"] = "RegisterInstitution"
    institution_id: Id
    name_ko: str = Field(min_length=1, max_length=200)
    kind: InstitutionKind
    division_count: int | None = Field(None, ge=1, le=100)


class SetFieldOfficeTreatment(_Command):
    command_type: Literal["SetFieldOfficeTreatment"] = "SetFieldOfficeTreatment"
    institution_id: Id
    treated_as_field_office: bool
    reason: Reason


class SubmitReport(_Command):
    command_type: Literal["SubmitReport"] = "SubmitReport"
    year: Year
    institution_id: Id
    submission_id: Id
    results: list[IndicatorResult] = Field(default=[], max_length=50)
    not_applicable: list[NotApplicable] = Field(default=[], max_length=50)


class AmendReport(SubmitReport):
    command_type: Literal["AmendReport"] = "AmendReport"  # type: ignore[assignment]
    reason: Reason


class WithdrawReport(_Command):
    command_type: Literal["WithdrawReport"] = "WithdrawReport"
    year: Year
    institution_id: Id
    reason: Reason


class ReopenReport(_Command):
    command_type: Literal["ReopenReport"] = "ReopenReport"
    year: Year
    institution_id: Id
    until: AwareDatetime
    reason: Reason


Command = Annotated[Union[OpenCycle, SetDeadline, ReviseRulebook, CloseCycle,
                          RegisterInstitution,
                          SetFieldOfficeTreatment, SubmitReport, AmendReport,
                          WithdrawReport, ReopenReport],
                    Field(discriminator="command_type")]


CommandMessage = command_message("CommandMessage", Command)
CommandMessage.__doc__ = "What another city system writes to the command topic (v1)."
