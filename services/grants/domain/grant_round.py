"""A grant round (공익활동 지원사업 회차): open for applications, closed, selection
decided once (every outcome with its reason), overrides by the committee."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from shared.aggregate import Aggregate

from .errors import InvalidState, OverBudget, OverCap, RoundClosed
from .events import (ApplicationsClosed, DecisionRecord, RoundOpened, SelectionDecided,
                     SelectionOverridden)
from .rules import Candidate, GrantRules, select


def round_stream(round_id: str) -> str:
    return f"round-{round_id}"


@dataclass(frozen=True)
class RoundState:
    rules: GrantRules | None = None
    accepting: bool = False
    decided: bool = False
    awards: dict = field(default_factory=dict)  # application id -> award (selected only)


class GrantRound(Aggregate[RoundState]):
    def initial(self) -> RoundState:
        return RoundState()

    def evolve(self, s: RoundState, e) -> RoundState:
        match e:
            case RoundOpened():
                return RoundState(GrantRules.model_validate(e.rules), accepting=True)
            case ApplicationsClosed():
                return replace(s, accepting=False)
            case SelectionDecided():
                return replace(s, decided=True, awards={
                    d.application_id: d.award for d in e.decisions if d.selected})
            case SelectionOverridden():
                awards = {k: v for k, v in s.awards.items() if k != e.application_id}
                if e.selected:
                    awards[e.application_id] = e.award
                return replace(s, awards=awards)
        return s

    @property
    def committed(self) -> int:
        return sum(self.state.awards.values())

    def open(self, rules: GrantRules) -> list:
        if self.exists:
            raise InvalidState(f"round {rules.round_id} is already open")
        return [RoundOpened(round_id=rules.round_id, rules=rules.model_dump(mode="json"),
                            rules_ref=rules.ref)]

    def must_accept(self) -> GrantRules:
        if not self.exists:
            raise RoundClosed("there is no such grant round")
        if not self.state.accepting:
            raise RoundClosed(f"round {self.state.rules.round_id} no longer accepts "
                              "applications")
        return self.state.rules

    def close_applications(self) -> list:
        self.must_accept()
        return [ApplicationsClosed(round_id=self.state.rules.round_id)]

    def decide(self, candidates: list[Candidate], unreviewed: list[str]) -> list:
        rules = self._rules()
        if self.state.accepting:
            raise InvalidState("close the round for applications before selecting")
        if self.state.decided:
            raise InvalidState("the selection is already decided; the committee may "
                               "override single outcomes with a reason")
        decisions = [DecisionRecord(**d.__dict__) for d in select(rules, candidates)]
        decisions += [DecisionRecord(application_id=a, selected=False, award=0, order=None,
                                     reason="not selected: no review score")
                      for a in sorted(unreviewed)]
        committed = sum(d.award for d in decisions if d.selected)
        return [SelectionDecided(round_id=rules.round_id, rules_ref=rules.ref,
                                 decisions=decisions, budget_committed=committed)]

    def override(self, application_id: str, selected: bool, award: int, requested: int,
                 reason: str) -> list:
        rules = self._rules()
        if not self.state.decided:
            raise InvalidState("there is no selection to override yet")
        if selected and (award > rules.cap_per_project or award > requested):
            raise OverCap(f"an award of {award:,} exceeds the cap of "
                          f"{rules.cap_per_project:,} or the request of {requested:,}")
        after = self.committed - self.state.awards.get(application_id, 0) + \
            (award if selected else 0)
        if after > rules.budget:
            raise OverBudget(f"selecting {application_id} with {award:,} would commit "
                             f"{after:,} of the {rules.budget:,} KRW budget")
        return [SelectionOverridden(round_id=rules.round_id, application_id=application_id,
                                    selected=selected, award=award if selected else 0,
                                    reason=reason)]

    def award_of(self, application_id: str) -> int | None:
        return self.state.awards.get(application_id)

    def _rules(self) -> GrantRules:
        if not self.exists:
            raise RoundClosed("there is no such grant round")
        return self.state.rules
