"""Grant round rules (지원사업 기준) and the selection, as pure functions of data.

Every number is the round's rule data (`rules/<year>.json`, versioned; later rounds
change them: a 10% self-funding share, 5 fields). The selection is deterministic and
says, for every application, why it was or was not selected.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"


class Penalty(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    refund_multiplier: Decimal
    next_round_effect: str


class GrantRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    round_id: str
    year: int
    version: int
    name_ko: str
    budget: int
    cap_per_project: int
    fields: list[str]
    one_project_per_organisation: bool
    new_organisation_target_share: Decimal
    field_coverage_minimum: int
    review_criteria: dict[str, int]
    award_bands: list[tuple[int, Decimal]]
    award_rounding: int
    self_funding_share: Decimal
    penalty: Penalty
    source: str
    facts_from_documents: list[str]
    assumptions: list[str]

    @property
    def ref(self) -> str:
        return f"grants/{self.round_id}/v{self.version}"


def load_rules(year: int) -> GrantRules:
    path = RULES_DIR / f"{year}.json"
    if not path.exists():
        raise FileNotFoundError(f"no grant rules for {year} (looked for {path.name})")
    return GrantRules.model_validate(json.loads(path.read_text(encoding="utf-8")))


def award_for(rules: GrantRules, requested: int, score: Decimal) -> int:
    """The award: the request (at most the cap) times the ratio of the score's band,
    floored to the rounding unit. Below the request, the plan must be revised."""
    ratio = next(r for threshold, r in sorted(rules.award_bands, reverse=True)
                 if score >= threshold)
    raw = Decimal(min(requested, rules.cap_per_project)) * ratio / rules.award_rounding
    return int(raw.to_integral_value(rounding=ROUND_FLOOR)) * rules.award_rounding


@dataclass(frozen=True)
class Candidate:
    """A reviewed application (not excluded) and its mean review score."""
    application_id: str
    field: str
    requested: int
    score: Decimal
    new_organisation: bool


@dataclass(frozen=True)
class Decision:
    application_id: str
    selected: bool
    award: int
    order: int | None  # the pick order, for the selected
    reason: str


def select(rules: GrantRules, candidates: list[Candidate]) -> list[Decision]:
    """1. Coverage: the best application of each field, in the rules' field order.
    2. Then by score, taking a new organisation whenever that keeps the new share at
       or under its target (else an existing one), each at its award.
    The first pick that no longer fits the budget ends the selection."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.application_id))
    picked: list[tuple[Candidate, int, str]] = []
    left, stop = rules.budget, None

    def take(c: Candidate, why: str) -> bool:
        nonlocal left, stop
        award = award_for(rules, c.requested, c.score)
        if award > left:
            stop = stop or (f"the budget ran out: {left:,} KRW left, this award would be "
                            f"{award:,}")
            return False
        left -= award
        picked.append((c, award, why))
        return True

    for field_name in rules.fields:
        best = next((c for c in ranked if c.field == field_name), None)
        if best and not stop:
            take(best, f"best score in {field_name} (field coverage)")
    chosen = {c.application_id for c, _, _ in picked}
    queues = {flag: [c for c in ranked if c.new_organisation is flag
                     and c.application_id not in chosen] for flag in (True, False)}
    while not stop and (queues[True] or queues[False]):
        new_now = sum(c.new_organisation for c, _, _ in picked)
        room = math.floor(rules.new_organisation_target_share * (len(picked) + 1))
        prefer_new = new_now + 1 <= room
        queue = queues[prefer_new] or queues[not prefer_new]
        c = queue.pop(0)
        share = "new" if c.new_organisation else "existing"
        take(c, f"score {c.score} among {share} organisations (new-organisation target "
                f"{rules.new_organisation_target_share:.0%})")
    return _decisions(rules, ranked, picked, stop)


def _decisions(rules, ranked, picked, stop) -> list[Decision]:
    order = {c.application_id: (i, award, why) for i, (c, award, why) in enumerate(picked, 1)}
    out = []
    for c in ranked:
        if c.application_id in order:
            i, award, why = order[c.application_id]
            cut = f"; award {award:,} of {c.requested:,} requested" if award < c.requested else ""
            out.append(Decision(c.application_id, True, award, i, why + cut))
        else:
            out.append(Decision(c.application_id, False, 0, None,
                                f"score {c.score} below the line: {stop or 'not reached'}"))
    return out


@dataclass(frozen=True)
class SelfFunding:
    execution_rate: Decimal
    required: int
    actual: int
    shortfall: int
    penalty: int


def check_self_funding(rules: GrantRules, award: int, grant_spent: int,
                       self_funding_spent: int) -> SelfFunding:
    """자부담: the share of the award, scaled by the execution rate, must be spent by
    the organisation itself; a shortfall is refunded (times the penalty multiplier)."""
    rate = (Decimal(grant_spent) / Decimal(award)) if award else Decimal(0)
    # share × award × (spent / award) is share × spent: computed so, it stays exact.
    required = int((rules.self_funding_share * grant_spent).to_integral_value(
        rounding="ROUND_CEILING"))
    shortfall = max(0, required - self_funding_spent)
    penalty = int(Decimal(shortfall) * rules.penalty.refund_multiplier)
    return SelfFunding(rate.quantize(Decimal("0.0001")), required, self_funding_spent,
                       shortfall, penalty)
