"""An institution's scorecard (평가표) for one cycle.

Computed scores, expert assignments and scores, panel adjustments and appeals, all
as events. The effective score of an indicator is the last panel adjustment or
upheld appeal if any, else the last computed score: the original stays visible.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from shared.aggregate import Aggregate

from .errors import Conflicted, InvalidState, NotAssigned, OutOfRange, UnknownTarget
from .events import (AppealDecided, AppealFiled, AppealReviewerAssigned, ConflictDeclared,
                     ExpertAssigned, ExpertScoreGiven, ScoreAdjusted, ScoreComputed)
from .facts import IndicatorScore
from .rules import quantize


def scorecard_stream(year: int | str, institution_id: str) -> str:
    return f"scorecard-{year}-{institution_id}"


@dataclass(frozen=True)
class Appeal:
    indicator_id: str
    filed_by: str = ""
    reviewers: frozenset[str] = frozenset()
    decided: bool = False


@dataclass(frozen=True)
class ScorecardState:
    computed: dict = field(default_factory=dict)      # indicator -> ScoreComputed
    overrides: dict = field(default_factory=dict)     # indicator -> Decimal
    assigned: dict = field(default_factory=dict)      # indicator -> frozenset[expert]
    conflicted: frozenset[str] = frozenset()
    expert_scores: dict = field(default_factory=dict)  # indicator -> {expert: Decimal}
    scorers: dict = field(default_factory=dict)        # indicator -> frozenset[actor]
    appeals: dict = field(default_factory=dict)        # appeal id -> Appeal


class Scorecard(Aggregate[ScorecardState]):
    def initial(self) -> ScorecardState:
        return ScorecardState()

    def evolve(self, s: ScorecardState, e) -> ScorecardState:
        match e:
            case ScoreComputed():
                return replace(s, computed={**s.computed, e.indicator_id: e})
            case ExpertAssigned():
                now = s.assigned.get(e.indicator_id, frozenset()) | {e.expert_id}
                return replace(s, assigned={**s.assigned, e.indicator_id: now})
            case ConflictDeclared():
                return replace(s, conflicted=s.conflicted | {e.expert_id})
            case ExpertScoreGiven():
                given = {**s.expert_scores.get(e.indicator_id, {}), e.expert_id: e.points}
                return replace(s, expert_scores={**s.expert_scores, e.indicator_id: given},
                               scorers=_add(s.scorers, e.indicator_id, e.expert_id))
            case ScoreAdjusted():
                return replace(s, overrides={**s.overrides, e.indicator_id: e.to_points},
                               scorers=_add(s.scorers, e.indicator_id, e.adjusted_by))
            case AppealFiled():
                return replace(s, appeals={**s.appeals, e.appeal_id: Appeal(e.indicator_id)})
            case AppealReviewerAssigned():
                a = s.appeals[e.appeal_id]
                return replace(s, appeals={**s.appeals, e.appeal_id: replace(
                    a, reviewers=a.reviewers | {e.reviewer_id})})
            case AppealDecided():
                appeals = {**s.appeals, e.appeal_id: replace(s.appeals[e.appeal_id],
                                                             decided=True)}
                overrides = {**s.overrides, e.indicator_id: e.to_points} if e.upheld \
                    else s.overrides
                return replace(s, appeals=appeals, overrides=overrides)
        return s

    # -- computed scores --------------------------------------------------------------
    def effective(self, indicator_id: str) -> Decimal | None:
        if indicator_id in self.state.overrides:
            return self.state.overrides[indicator_id]
        found = self.state.computed.get(indicator_id)
        return found.points if found else None

    def total(self) -> Decimal:
        return sum((self.effective(i) or Decimal(0) for i in self.state.computed), Decimal(0))

    def pending(self) -> list[str]:
        return sorted(i for i, e in self.state.computed.items()
                      if e.source == "pending" and i not in self.state.overrides)

    def record(self, cycle_id: str, institution_id: str, scores: list[IndicatorScore],
               rulebook_ref: str) -> list:
        """ScoreComputed for each score that differs from the last one computed."""
        events = []
        for s in scores:
            last = self.state.computed.get(s.indicator_id)
            if last and (last.points, last.source, tuple(last.inputs), last.rulebook_ref) == \
                    (s.points, s.source, s.inputs, rulebook_ref):
                continue
            events.append(ScoreComputed(
                cycle_id=cycle_id, institution_id=institution_id,
                indicator_id=s.indicator_id, points=s.points, max_points=s.max_points,
                source=s.source, weight=s.weight, measure=s.measure, inputs=list(s.inputs),
                explanation=s.explanation, rulebook_ref=rulebook_ref))
        return events

    # -- experts ----------------------------------------------------------------------
    def assign_expert(self, cycle_id: str, institution_id: str, indicator_id: str,
                      expert_id: str, expert_indicators: list[str]) -> list:
        if indicator_id not in expert_indicators:
            raise InvalidState(f"{indicator_id} is not scored by experts "
                               f"(expert indicators: {', '.join(expert_indicators)})")
        if expert_id in self.state.conflicted:
            raise Conflicted(f"expert {expert_id} declared a conflict of interest with "
                             f"{institution_id} and cannot be assigned")
        if expert_id in self.state.assigned.get(indicator_id, ()):
            raise InvalidState(f"expert {expert_id} is already assigned to {indicator_id}")
        return [ExpertAssigned(cycle_id=cycle_id, institution_id=institution_id,
                               indicator_id=indicator_id, expert_id=expert_id)]

    def declare_conflict(self, cycle_id: str, institution_id: str, expert_id: str,
                         reason: str) -> list:
        if expert_id in self.state.conflicted:
            raise InvalidState(f"expert {expert_id} already declared a conflict")
        return [ConflictDeclared(cycle_id=cycle_id, institution_id=institution_id,
                                 expert_id=expert_id, reason=reason)]

    def give_expert_score(self, cycle_id: str, institution_id: str, indicator_id: str,
                          expert_id: str, points: Decimal, comment: str,
                          max_points: int) -> list:
        if expert_id in self.state.conflicted:
            raise Conflicted(f"expert {expert_id} declared a conflict of interest with "
                             f"{institution_id}: excluded from scoring it")
        if expert_id not in self.state.assigned.get(indicator_id, ()):
            raise NotAssigned(f"expert {expert_id} is not assigned to {indicator_id} "
                              f"of {institution_id}")
        return [ExpertScoreGiven(cycle_id=cycle_id, institution_id=institution_id,
                                 indicator_id=indicator_id, expert_id=expert_id,
                                 points=_in_range(indicator_id, points, max_points),
                                 comment=comment)]

    # -- panel and appeals ------------------------------------------------------------
    def adjust(self, cycle_id: str, institution_id: str, indicator_id: str,
               to_points: Decimal, reason: str, max_points: int, panel_member: str) -> list:
        current = self._current(indicator_id)
        return [ScoreAdjusted(cycle_id=cycle_id, institution_id=institution_id,
                              indicator_id=indicator_id, from_points=current,
                              to_points=_in_range(indicator_id, to_points, max_points),
                              reason=reason, adjusted_by=panel_member)]

    def file_appeal(self, cycle_id: str, institution_id: str, appeal_id: str,
                    indicator_id: str, grounds: str, window_open: bool) -> list:
        if not window_open:
            raise InvalidState("appeals are accepted only while the appeal window after "
                               "the provisional results is open")
        self._current(indicator_id)
        if appeal_id in self.state.appeals:
            raise InvalidState(f"appeal {appeal_id} was already filed")
        if any(a.indicator_id == indicator_id and not a.decided
               for a in self.state.appeals.values()):
            raise InvalidState(f"an appeal on {indicator_id} is already open")
        return [AppealFiled(cycle_id=cycle_id, institution_id=institution_id,
                            appeal_id=appeal_id, indicator_id=indicator_id, grounds=grounds)]

    def assign_reviewer(self, cycle_id: str, institution_id: str, appeal_id: str,
                        reviewer_id: str) -> list:
        appeal = self._open_appeal(appeal_id)
        if reviewer_id in self.state.scorers.get(appeal.indicator_id, ()):
            raise Conflicted(f"{reviewer_id} scored or adjusted {appeal.indicator_id} of "
                             f"{institution_id} and cannot review the appeal against it")
        if reviewer_id in self.state.conflicted:
            raise Conflicted(f"{reviewer_id} declared a conflict of interest with "
                             f"{institution_id}")
        return [AppealReviewerAssigned(cycle_id=cycle_id, institution_id=institution_id,
                                       appeal_id=appeal_id, reviewer_id=reviewer_id)]

    def decide_appeal(self, cycle_id: str, institution_id: str, appeal_id: str,
                      reviewer_id: str, upheld: bool, to_points: Decimal | None,
                      reason: str, max_points: int) -> list:
        appeal = self._open_appeal(appeal_id)
        if reviewer_id not in appeal.reviewers:
            raise NotAssigned(f"{reviewer_id} is not a reviewer of appeal {appeal_id}")
        current = self._current(appeal.indicator_id)
        if upheld and to_points is None:
            raise OutOfRange("an upheld appeal needs the new points")
        new = _in_range(appeal.indicator_id, to_points if upheld else current, max_points)
        return [AppealDecided(cycle_id=cycle_id, institution_id=institution_id,
                              appeal_id=appeal_id, indicator_id=appeal.indicator_id,
                              upheld=upheld, from_points=current, to_points=new, reason=reason)]

    def open_appeals(self) -> list[str]:
        return sorted(k for k, a in self.state.appeals.items() if not a.decided)

    def _open_appeal(self, appeal_id: str) -> Appeal:
        appeal = self.state.appeals.get(appeal_id)
        if appeal is None:
            raise UnknownTarget(f"no appeal {appeal_id}")
        if appeal.decided:
            raise InvalidState(f"appeal {appeal_id} is already decided")
        return appeal

    def _current(self, indicator_id: str) -> Decimal:
        current = self.effective(indicator_id)
        if current is None:
            raise UnknownTarget(f"{indicator_id} has no score yet")
        return current


def _in_range(indicator_id: str, points: Decimal, max_points: int) -> Decimal:
    """Refuse points outside the indicator's range; give them as recorded (2 places)."""
    if not Decimal(0) <= points <= Decimal(max_points):
        raise OutOfRange(f"{indicator_id}: {points} is outside 0..{max_points}")
    return quantize(points)


def _add(mapping: dict, key: str, value: str) -> dict:
    return {**mapping, key: mapping.get(key, frozenset()) | {value}}
