"""A cycle's scoring (채점): opened, provisional results, appeals window, sign-off."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.aggregate import Aggregate

from .errors import InvalidState, SignedOff
from .events import (ProvisionalResultsPublished, ResultsSignedOff, RulebookApplied,
                     ScoringOpened, ScoringReopened)


def scoring_stream(year: int | str) -> str:
    return f"scoring-{year}"


def ref_of(rulebook: dict) -> str:
    return f"{rulebook['rulebook_id']}/{rulebook['year']}/v{rulebook['version']}"


@dataclass(frozen=True)
class ScoringState:
    year: int | None = None
    rulebook: dict | None = None
    rulebook_ref: str = ""
    appeals_until: datetime | None = None
    signed_off: bool = False


class ScoringCycle(Aggregate[ScoringState]):
    def initial(self) -> ScoringState:
        return ScoringState()

    def evolve(self, state: ScoringState, event) -> ScoringState:
        match event:
            case ScoringOpened():
                return ScoringState(event.year, event.rulebook, event.rulebook_ref)
            case RulebookApplied():
                return replace(state, rulebook=event.rulebook, rulebook_ref=event.rulebook_ref)
            case ProvisionalResultsPublished():
                return replace(state, appeals_until=event.appeals_until)
            case ResultsSignedOff():
                return replace(state, signed_off=True)
            case ScoringReopened():
                return replace(state, signed_off=False, appeals_until=None)
        return state

    def open(self, year: int, rulebook: dict, cause_event_id: str) -> list:
        if self.exists:
            return []  # the same CycleOpened seen again: nothing new
        return [ScoringOpened(cycle_id=str(year), year=year, rulebook_ref=ref_of(rulebook),
                              rulebook=rulebook, cause_event_id=cause_event_id)]

    def apply_rulebook(self, rulebook: dict, cause_event_id: str) -> list:
        if not self.exists or ref_of(rulebook) == self.state.rulebook_ref:
            return []  # nothing to score yet, or the same revision seen again
        return [RulebookApplied(cycle_id=str(self.state.year), rulebook_ref=ref_of(rulebook),
                                rulebook=rulebook, cause_event_id=cause_event_id)]

    def must_be_changeable(self) -> None:
        if not self.exists:
            raise InvalidState("scoring has not been opened for this cycle")
        if self.state.signed_off:
            raise SignedOff(f"results for {self.state.year} were signed off; the governance "
                            "office must reopen scoring (with a reason) before any change")

    def appeals_open(self, now: datetime) -> bool:
        return self.state.appeals_until is not None and now <= self.state.appeals_until

    def publish_provisional(self, appeals_until: datetime, ranking: list[dict],
                            now: datetime) -> list:
        self.must_be_changeable()
        if appeals_until <= now:
            raise InvalidState("the appeal window must end in the future")
        return [ProvisionalResultsPublished(cycle_id=str(self.state.year),
                                            appeals_until=appeals_until, ranking=ranking)]

    def sign_off(self, ranking: list[dict], open_appeals: int, pending: int,
                 now: datetime) -> list:
        self.must_be_changeable()
        if self.state.appeals_until is None:
            raise InvalidState("provisional results have not been published yet")
        if now <= self.state.appeals_until:
            raise InvalidState(f"the appeal window is open until "
                               f"{self.state.appeals_until.isoformat()}")
        if open_appeals:
            raise InvalidState(f"{open_appeals} appeal(s) are still open")
        if pending:
            raise InvalidState(f"{pending} score(s) still await evidence or experts")
        return [ResultsSignedOff(cycle_id=str(self.state.year),
                                 rulebook_ref=self.state.rulebook_ref, ranking=ranking)]

    def reopen(self, reason: str) -> list:
        if not self.state.signed_off:
            raise InvalidState("scoring is not signed off; nothing to reopen")
        return [ScoringReopened(cycle_id=str(self.state.year), reason=reason)]
