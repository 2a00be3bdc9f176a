"""Evaluation cycle (평가 주기): one per year, opened with its rulebook, closed at the deadline."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.aggregate import Aggregate

from .errors import InvalidState, WrongYear
from .events import CycleClosed, CycleOpened, DeadlineSet, RulebookRevised
from .rulebook import Rulebook


def cycle_stream(year: int | str) -> str:
    return f"cycle-{year}"


@dataclass(frozen=True)
class CycleState:
    year: int | None = None
    rulebook: Rulebook | None = None
    deadline: datetime | None = None
    closed: bool = False


class Cycle(Aggregate[CycleState]):
    def initial(self) -> CycleState:
        return CycleState()

    def evolve(self, state: CycleState, event) -> CycleState:
        match event:
            case CycleOpened():
                return CycleState(event.year, event.rulebook, event.deadline)
            case DeadlineSet():
                return replace(state, deadline=event.deadline)
            case RulebookRevised():
                return replace(state, rulebook=event.rulebook)
            case CycleClosed():
                return replace(state, closed=True)
        return state

    def open(self, year: int, rulebook: Rulebook, deadline: datetime) -> list:
        if self.exists:
            raise InvalidState(f"cycle {year} is already open")
        if rulebook.year != year:
            raise WrongYear(f"rulebook {rulebook.ref} is for {rulebook.year}, not {year}")
        return [CycleOpened(cycle_id=str(year), year=year, rulebook=rulebook,
                            deadline=deadline)]

    def set_deadline(self, deadline: datetime, reason: str) -> list:
        self._must_be_open()
        return [DeadlineSet(cycle_id=str(self.state.year), deadline=deadline, reason=reason)]

    def revise_rulebook(self, rulebook: Rulebook, reason: str) -> list:
        self._must_be_open()
        current = self.state.rulebook
        if (rulebook.rulebook_id, rulebook.year) != (current.rulebook_id, current.year):
            raise WrongYear(f"{rulebook.ref} does not revise {current.ref}")
        if rulebook.version <= current.version:
            raise InvalidState(f"{rulebook.ref} is not newer than {current.ref}")
        return [RulebookRevised(cycle_id=str(self.state.year), rulebook=rulebook,
                                reason=reason)]

    def close(self, reason: str) -> list:
        self._must_be_open()
        return [CycleClosed(cycle_id=str(self.state.year), reason=reason)]

    def accepts_reports(self, now: datetime) -> bool:
        return self.exists and not self.state.closed and now <= self.state.deadline

    def _must_be_open(self) -> None:
        if not self.exists:
            raise InvalidState("the cycle has not been opened")
        if self.state.closed:
            raise InvalidState(f"cycle {self.state.year} is closed")
