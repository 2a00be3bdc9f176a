"""Institution registry (기관): bureaus, headquarters, field offices."""
from __future__ import annotations

from dataclasses import dataclass, replace

from shared.aggregate import Aggregate

from .errors import InvalidState
from .events import FieldOfficeTreatmentSet, InstitutionRegistered


def institution_stream(institution_id: str) -> str:
    return f"institution-{institution_id}"


@dataclass(frozen=True)
class InstitutionState:
    name_ko: str = ""
    kind: str = ""
    treated_as_field_office: bool = False


class Institution(Aggregate[InstitutionState]):
    def initial(self) -> InstitutionState:
        return InstitutionState()

    def evolve(self, state: InstitutionState, event) -> InstitutionState:
        match event:
            case InstitutionRegistered():
                return InstitutionState(event.name_ko, event.kind)
            case FieldOfficeTreatmentSet():
                return replace(state, treated_as_field_office=event.treated_as_field_office)
        return state

    def register(self, institution_id: str, name_ko: str, kind: str,
                 division_count: int | None = None) -> list:
        if self.exists:
            raise InvalidState(f"institution {institution_id} is already registered")
        return [InstitutionRegistered(institution_id=institution_id, name_ko=name_ko,
                                      kind=kind, division_count=division_count)]

    def set_field_office_treatment(self, institution_id: str, treated: bool,
                                   reason: str) -> list:
        if self.state.kind != "bureau":
            raise InvalidState(f"only a bureau can be treated at field-office level; "
                               f"{institution_id} is a {self.state.kind}")
        if self.state.treated_as_field_office == treated:
            raise InvalidState(f"{institution_id} is already "
                               f"{'' if treated else 'not '}treated as a field office")
        return [FieldOfficeTreatmentSet(institution_id=institution_id,
                                        treated_as_field_office=treated, reason=reason)]
