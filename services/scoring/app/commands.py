"""Commands people send to scoring (HTTP bodies; the acting person is the actor)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Year = Annotated[int, Field(ge=2000, le=2100)]
Points = Annotated[Decimal, Field(ge=0, le=1000, max_digits=7, decimal_places=2)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    year: Year


class _OnScorecard(_Command):
    institution_id: Id


class AssignExpert(_OnScorecard):
    """The governance office assigns an external expert to an indicator."""
    command_type: Literal["AssignExpert"] = "AssignExpert"
    indicator_id: Id
    expert_id: Id


class DeclareConflict(_OnScorecard):
    """An expert (the actor) declares a conflict of interest with an institution."""
    command_type: Literal["DeclareConflict"] = "DeclareConflict"
    reason: Reason


class GiveExpertScore(_OnScorecard):
    """An expert (the actor) gives a free score within the indicator's range."""
    command_type: Literal["GiveExpertScore"] = "GiveExpertScore"
    indicator_id: Id
    points: Points
    comment: Reason


class AdjustScore(_OnScorecard):
    """The panel (the actor) adjusts a score; the reason is required."""
    command_type: Literal["AdjustScore"] = "AdjustScore"
    indicator_id: Id
    to_points: Points
    reason: Reason


class FileAppeal(_OnScorecard):
    """The institution objects (이의신청) to a provisional score."""
    command_type: Literal["FileAppeal"] = "FileAppeal"
    appeal_id: Id
    indicator_id: Id
    grounds: Reason


class AssignAppealReviewer(_OnScorecard):
    command_type: Literal["AssignAppealReviewer"] = "AssignAppealReviewer"
    appeal_id: Id
    reviewer_id: Id


class DecideAppeal(_OnScorecard):
    """An assigned reviewer (the actor) upholds or dismisses an appeal."""
    command_type: Literal["DecideAppeal"] = "DecideAppeal"
    appeal_id: Id
    upheld: bool
    to_points: Points | None = None
    reason: Reason


class PublishProvisionalResults(_Command):
    command_type: Literal["PublishProvisionalResults"] = "PublishProvisionalResults"
    appeals_until: AwareDatetime


class SignOff(_Command):
    """The panel signs off: final results go to the evaluation office."""
    command_type: Literal["SignOff"] = "SignOff"


class ReopenScoring(_Command):
    command_type: Literal["ReopenScoring"] = "ReopenScoring"
    reason: Reason


Command = Annotated[Union[AssignExpert, DeclareConflict, GiveExpertScore, AdjustScore,
                          FileAppeal, AssignAppealReviewer, DecideAppeal,
                          PublishProvisionalResults, SignOff, ReopenScoring],
                    Field(discriminator="command_type")]
