"""Small builders shared by the submission unit tests: one valid value per part."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from services.submission.domain.content import (CaseDescription, CommitteeComposition,
                                                IndicatorResult, LeadershipActivity,
                                                MeetingRecord, NotApplicable,
                                                OfflineSession, ProcessRun)
from services.submission.domain.cycle import Cycle, cycle_stream
from services.submission.domain.events import CycleOpened
from services.submission.domain.rulebook import load_rulebook

KST = timezone(timedelta(hours=9))
RULEBOOK = load_rulebook(2021)
DEADLINE = datetime(2021, 11, 30, 18, 0, tzinfo=KST)
BEFORE = DEADLINE - timedelta(days=1)
AFTER = DEADLINE + timedelta(days=1)


def meetings(n: int) -> list[MeetingRecord]:
    return [MeetingRecord(committee_id="c-1", held_on=date(2021, 1, 1) + timedelta(days=i),
                          mode="in_person", minutes_ref=f"minutes-{i}") for i in range(n)]


def case(i: int = 0) -> CaseDescription:
    return CaseDescription(title=f"case {i}", summary="what happened", evidence_ref=f"ev-{i}")


def result(indicator_id: str) -> IndicatorResult:
    """A minimal valid result for each 2021 indicator."""
    parts = {
        "committee-openness": {"committees": [CommitteeComposition(
            committee_id="c-1", members_total=10, members_open_call=4)]},
        "committee-meetings": {"meeting_records": meetings(3)},
        "governance-process": {"processes": [ProcessRun(type="living-lab", title="lab")]},
        "governance-education": {"online_completions": {"governance-and-citizens": 12},
                                 "offline_sessions": [OfflineSession(
                                     held_on=date(2021, 5, 1), attendees=30)]},
        "governance-case": {"cases": [case()]},
        "governance-leadership": {"activities": [LeadershipActivity(
            title="town hall", summary="the director met residents")]},
    }[indicator_id]
    return IndicatorResult(indicator_id=indicator_id, **parts)


def full_report() -> list[IndicatorResult]:
    return [result(i) for i in RULEBOOK.indicator_ids]


def na(indicator_id: str, reason: str = "no such activity this year") -> NotApplicable:
    return NotApplicable(indicator_id=indicator_id, reason=reason)


def open_cycle(deadline: datetime = DEADLINE, *more) -> Cycle:
    opened = CycleOpened(cycle_id="2021", year=2021, rulebook=RULEBOOK, deadline=deadline)
    return Cycle(cycle_stream(2021), [opened, *more])
