"""A non-profit organisation (비영리민간단체) and its standing in the programme."""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.aggregate import Aggregate

from .errors import InvalidState
from .events import OrganisationEvaluated, OrganisationRegistered


def organisation_stream(organisation_id: str) -> str:
    return f"organisation-{organisation_id}"


@dataclass(frozen=True)
class OrganisationState:
    registered_nonprofit: bool = False
    funded_before: bool = False
    past_evaluation: str | None = None


class Organisation(Aggregate[OrganisationState]):
    def initial(self) -> OrganisationState:
        return OrganisationState()

    def evolve(self, s: OrganisationState, e) -> OrganisationState:
        match e:
            case OrganisationRegistered():
                return OrganisationState(e.registered_nonprofit, e.funded_before,
                                         e.past_evaluation)
            case OrganisationEvaluated():
                return replace(s, past_evaluation=e.evaluation)
        return s

    def register(self, organisation_id: str, name_ko: str, registered_nonprofit: bool,
                 funded_before: bool, past_evaluation: str | None) -> list:
        if self.exists:
            raise InvalidState(f"organisation {organisation_id} is already registered")
        return [OrganisationRegistered(
            organisation_id=organisation_id, name_ko=name_ko,
            registered_nonprofit=registered_nonprofit, funded_before=funded_before,
            past_evaluation=past_evaluation)]

    def exclusion(self) -> tuple[str, str] | None:
        """Why this organisation cannot be funded, if it cannot."""
        if not self.state.registered_nonprofit:
            return "not_registered", "not a registered non-profit organisation (미등록)"
        if self.state.past_evaluation == "poor":
            return "poor_past_evaluation", "poor evaluation of a past project (평가미흡)"
        return None
