"""What city systems reported about an institution, recorded as it arrived: the HR
system's headcounts (`headcount-<institution>`) and the education platform's course
completions (`learning-<institution>`). Every report is kept; the facts tables hold
the current one, naming the event it came from."""
from __future__ import annotations

from datetime import date

from shared.aggregate import Log

from .events import CourseCompletionRecorded, HeadcountRecorded


def headcount_stream(institution_id: str) -> str:
    return f"headcount-{institution_id}"


def learning_stream(institution_id: str) -> str:
    return f"learning-{institution_id}"


class Evidence(Log):
    """A log of one institution's reports from one city system (state: how many);
    loading it reads only its head, however many reports it holds."""

    def record_headcount(self, institution_id: str, headcount: int, as_of: date,
                         external_event_id: str, source_system: str) -> list:
        return [HeadcountRecorded(institution_id=institution_id, headcount=headcount,
                                  as_of=as_of, external_event_id=external_event_id,
                                  source_system=source_system)]

    def record_completion(self, institution_id: str, course_id: str, learner_ref: str,
                          completed_on: date, external_event_id: str,
                          source_system: str) -> list:
        return [CourseCompletionRecorded(
            institution_id=institution_id, course_id=course_id, learner_ref=learner_ref,
            completed_on=completed_on, external_event_id=external_event_id,
            source_system=source_system)]
