"""An institution's report for one cycle: submit, amend, withdraw, reopen.

Decisions take the cycle (deadline, rulebook) and the clock as arguments, so the
aggregate stays a pure function of its events.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.aggregate import Aggregate

from .content import IndicatorResult, NotApplicable, check_report
from .cycle import Cycle
from .errors import DeadlinePassed, DuplicateSubmission, InvalidState
from .events import (IndicatorMarkedNotApplicable, ReportAmended, ReportReopened,
                     ReportSubmitted, ReportWithdrawn)


def report_stream(year: int | str, institution_id: str) -> str:
    return f"report-{year}-{institution_id}"


@dataclass(frozen=True)
class ReportState:
    status: str = "not_submitted"  # submitted | amended | withdrawn
    submission_ids: frozenset[str] = frozenset()
    reported: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()
    reopened_until: datetime | None = None


class Report(Aggregate[ReportState]):
    def initial(self) -> ReportState:
        return ReportState()

    def evolve(self, state: ReportState, event) -> ReportState:
        match event:
            case ReportSubmitted() | ReportAmended():
                return replace(
                    state, status="submitted" if isinstance(event, ReportSubmitted)
                    else "amended", submission_ids=state.submission_ids | {event.submission_id},
                    reported=tuple(r.indicator_id for r in event.results), not_applicable=())
            case IndicatorMarkedNotApplicable():
                return replace(state, not_applicable=state.not_applicable + (event.indicator_id,))
            case ReportWithdrawn():
                return replace(state, status="withdrawn", reported=(), not_applicable=())
            case ReportReopened():
                return replace(state, reopened_until=event.until)
        return state

    @property
    def is_in(self) -> bool:
        return self.state.status in ("submitted", "amended")

    def submit(self, cycle: Cycle, institution_id: str, submission_id: str,
               results: list[IndicatorResult], not_applicable: list[NotApplicable],
               now: datetime) -> list:
        if self.is_in:
            raise InvalidState(f"{institution_id} already submitted its {cycle.state.year} "
                               "report; amend it instead")
        return self._accept(ReportSubmitted, cycle, institution_id, submission_id,
                            results, not_applicable, now)

    def amend(self, cycle: Cycle, institution_id: str, submission_id: str,
              results: list[IndicatorResult], not_applicable: list[NotApplicable],
              reason: str, now: datetime) -> list:
        if not self.is_in:
            raise InvalidState(f"{institution_id} has no {cycle.state.year} report to amend "
                               f"(status: {self.state.status})")
        return self._accept(ReportAmended, cycle, institution_id, submission_id,
                            results, not_applicable, now, reason=reason)

    def _accept(self, event_type, cycle: Cycle, institution_id: str, submission_id: str,
                results, not_applicable, now: datetime, **extra) -> list:
        if submission_id in self.state.submission_ids:
            raise DuplicateSubmission(f"submission id {submission_id!r} was already used")
        late = self._window(cycle, institution_id, now)
        check_report(cycle.state.rulebook, results, not_applicable)
        head = event_type(cycle_id=str(cycle.state.year), institution_id=institution_id,
                          submission_id=submission_id, rulebook_ref=cycle.state.rulebook.ref,
                          results=results, late=late, **extra)
        return [head, *self._marks(cycle, institution_id, not_applicable)]

    def withdraw(self, cycle: Cycle, institution_id: str, reason: str, now: datetime) -> list:
        if not self.is_in:
            raise InvalidState(f"{institution_id} has no {cycle.state.year} report to "
                               f"withdraw (status: {self.state.status})")
        self._window(cycle, institution_id, now)
        return [ReportWithdrawn(cycle_id=str(cycle.state.year), institution_id=institution_id,
                                reason=reason)]

    def reopen(self, cycle: Cycle, institution_id: str, until: datetime, reason: str,
               now: datetime) -> list:
        if until <= now:
            raise InvalidState(f"a reopening must end in the future (until {until.isoformat()})")
        return [ReportReopened(cycle_id=str(cycle.state.year), institution_id=institution_id,
                               until=until, reason=reason)]

    def _window(self, cycle: Cycle, institution_id: str, now: datetime) -> bool:
        """Return True when accepted only thanks to a reopening (late); else refuse."""
        if cycle.accepts_reports(now):
            return False
        until = self.state.reopened_until
        if until is not None and now <= until:
            return True
        state = "closed" if cycle.state.closed else \
            f"past its deadline {cycle.state.deadline.isoformat()}"
        raise DeadlinePassed(f"cycle {cycle.state.year} is {state}; the governance office "
                             f"must reopen it for {institution_id} first")

    @staticmethod
    def _marks(cycle: Cycle, institution_id: str, items: list[NotApplicable]) -> list:
        return [IndicatorMarkedNotApplicable(cycle_id=str(cycle.state.year),
                                             institution_id=institution_id,
                                             indicator_id=n.indicator_id, reason=n.reason)
                for n in items]
