"""What external city systems send scoring (public contract, schema_version 1).

Topics: hyeopchi.ingress.hr (the HR system's headcounts) and
hyeopchi.ingress.education (the education platform's MOOC completions).
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Headcount(_Strict):
    institution_id: Id
    headcount: int = Field(ge=0, le=1_000_000)
    as_of: date


class Completion(_Strict):
    institution_id: Id
    course_id: Id
    learner_ref: Id  # pseudonymous: the platform never sends names
    completed_on: date


class _External(_Strict):
    event_id: Id
    schema_version: Literal[1]
    occurred_at: AwareDatetime
    source: Id


class HeadcountReported(_External):
    event_type: Literal["hr.HeadcountReported"]
    payload: Headcount


class CourseCompleted(_External):
    event_type: Literal["education.CourseCompleted"]
    payload: Completion


ExternalMessage = Annotated[Union[HeadcountReported, CourseCompleted],
                            Field(discriminator="event_type")]
