"""The scoring rules (채점 기준), in one place, as pure functions of facts and rule data.

Every number comes from the rulebook's `scoring` section (data, versioned with the
rulebook); this file only says how the numbers combine. See the rulebook's
`assumptions` for which numbers are this project's own.

Reading guide: `score_institution` scores each indicator of the rulebook in turn.
An indicator not submitted (or marked not applicable) gets the base score; otherwise
the rulebook's `scoring.methods` names the rule below that scores it. Measured scores
of the committee indicators then get the committee weight when the institution has
fewer committees than its norm.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from .facts import IndicatorScore, InstitutionFacts

TWO_PLACES = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")
ONE = Decimal(1)


def quantize(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- entry points

def score_institution(rulebook: dict, facts: InstitutionFacts) -> list[IndicatorScore]:
    """Scores of every indicator of `rulebook` (the CycleOpened rulebook, as JSON).

    One score per indicator, in rulebook order.
    """
    institution = _Institution(rulebook=rulebook, facts=facts,
                               committees=committee_count(facts),
                               kind=effective_kind(facts))
    return [_score_indicator(institution, indicator) for indicator in rulebook["indicators"]]


def combine_expert_scores(scores: list[Decimal], rule: dict) -> Decimal:
    """Several experts' scores for one indicator, combined into one (2 decimals).

    With the "trimmed_mean" combination and at least `trim_when_at_least` scores, the
    single highest and the single lowest score are dropped and the rest averaged;
    otherwise (fewer scores, or the "mean" combination) all scores are averaged.
    No score at all cannot be combined.
    """
    values = sorted(_dec(s) for s in scores)
    if not values:
        raise ValueError("no expert scores to combine")
    if _combination_used(len(values), rule) == "trimmed_mean":
        values = values[1:-1]
    return quantize(sum(values, Decimal(0)) / len(values))


# --------------------------------------------------------------------------- the institution

@dataclass(frozen=True)
class _Institution:
    """What every rule may read about the institution being scored."""

    rulebook: dict
    facts: InstitutionFacts
    committees: int  # its committees, counted once from its report
    kind: str        # its kind as scored: field_office when treated at that level

    @property
    def scoring(self) -> dict:
        return self.rulebook["scoring"]

    @property
    def report_events(self) -> tuple[str, ...]:
        report = self.facts.report
        return report.event_ids if report is not None else ()


def effective_kind(facts: InstitutionFacts) -> str:
    """The kind an institution is scored as.

    A bureau with a single division may be treated at field-office level (the panel
    reviews that); it is then scored with the field office's committee norm and weights.
    """
    return "field_office" if facts.treated_as_field_office else facts.kind


def committee_count(facts: InstitutionFacts) -> int:
    """How many committees the institution has, read from its report.

    The committees listed in its committee-composition results when it reported them;
    otherwise the distinct committees named in its meeting records; otherwise none.
    """
    report = facts.report
    if report is None:
        return 0
    reported = [result for indicator_id, result in report.results.items()
                if indicator_id not in report.not_applicable]
    for result in reported:
        if result.get("committees"):
            return len(result["committees"])
    named = {record["committee_id"] for result in reported
             for record in result.get("meeting_records") or ()}
    return len(named)


# --------------------------------------------------------------------------- one indicator

def _score_indicator(institution: _Institution, indicator: dict) -> IndicatorScore:
    """Base score when the indicator was not submitted; else the rule its method names."""
    report = institution.facts.report
    indicator_id = indicator["id"]
    if report is None:
        return base_score(institution, indicator, "no_report")
    if indicator_id in report.not_applicable:
        return base_score(institution, indicator, "not_applicable")
    if indicator_id not in report.results:
        return base_score(institution, indicator, "not_submitted")
    method = institution.scoring["methods"].get(indicator_id)
    if method not in RULES:
        raise ValueError(f"indicator {indicator_id!r}: scoring method {method!r} is not "
                         f"one of {', '.join(RULES)}")
    return RULES[method](institution, indicator, report.results[indicator_id])


_BASE_REASONS = {
    "no_report": "no report, so not submitted",
    "not_submitted": "not submitted",
    "not_applicable": "marked not applicable",
}


def base_score(institution: _Institution, indicator: dict, reason: str) -> IndicatorScore:
    """An indicator not submitted or marked not applicable gets the base score.

    The rulebook's base score (30) is read on its scoring scale (100), so the indicator
    gets that share (30%) of its own max_points.
    """
    base = _dec(institution.rulebook["base_score_missing"])
    scale = _dec(institution.scoring["scale"])
    max_points = indicator["max_points"]
    points = quantize(max_points * base / scale)
    return IndicatorScore(
        indicator_id=indicator["id"], points=points, max_points=max_points, source="base",
        weight=ONE, measure={"reason": reason, "base_score": str(base), "scale": str(scale)},
        inputs=institution.report_events,
        explanation=(f"{_BASE_REASONS[reason]}: base score {base} of {scale} "
                     f"→ {points} of {max_points} points"))


# --------------------------------------------------------------------------- the rules

def open_call_share(institution: _Institution, indicator: dict,
                    result: dict) -> IndicatorScore:
    """Openness of committees: the share of members recruited by open call (공모).

    share = open-call members / all members, over all committees reported. No open
    call earns the floor (30%) of the points, rising linearly to full marks at the
    full-marks share (50%) and above.
    """
    rule = institution.scoring["open_call_share"]
    floor, full_at = _dec(rule["floor"]), _dec(rule["full_marks_share"])
    committees = result.get("committees") or []
    open_call = sum(c["members_open_call"] for c in committees)
    total = sum(c["members_total"] for c in committees)
    share = Decimal(open_call) / total if total else Decimal(0)
    fraction = floor + (ONE - floor) * min(ONE, share / full_at)
    shown = share.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    return _measured(
        institution, indicator, fraction,
        measure={"open_call_share": str(shown), "committees": len(committees),
                 "members_open_call": open_call, "members_total": total},
        reason=(f"{open_call} of {total} members over {_n(len(committees), 'committee')} "
                f"recruited by open call = share {_pct(share)}"),
        rule=f"{_pct(floor)} floor, full at {_pct(full_at)} share")


def meetings_table(institution: _Institution, indicator: dict,
                   result: dict) -> IndicatorScore:
    """Committee meetings held: meeting records per committee, read from the table.

    At most the cap (20) of meeting records count. They are divided by the number of
    the institution's committees (at least 1); the table gives the fraction of the
    points of its first row (highest threshold first) whose threshold is reached.
    """
    cap = indicator.get("caps", {}).get("meeting_records")
    submitted = result.get("meeting_records") or []
    counted = submitted[:cap] if cap is not None else submitted
    committees = max(1, institution.committees)
    per_committee = Decimal(len(counted)) / committees
    fraction = _table_fraction(institution.scoring["meetings_table"], per_committee)
    capped = (f", {len(counted)} counted (cap {cap})"
              if len(counted) < len(submitted) else "")
    on_record = institution.facts.meetings_on_record
    return _measured(
        institution, indicator, fraction,
        measure={"meeting_records_submitted": len(submitted),
                 "meeting_records_counted": len(counted), "committees": committees,
                 "per_committee": str(per_committee.quantize(FOUR_PLACES,
                                                             rounding=ROUND_HALF_UP)),
                 # evidence beside the claim: meetings the committee service recorded
                 "meetings_on_record": len(on_record)},
        reason=(f"{_n(len(submitted), 'meeting record')}{capped} over "
                f"{_n(committees, 'committee')} = {_num(per_committee)} per committee"),
        rule="table", inputs=institution.report_events + on_record)


def _table_fraction(table: list, per_committee: Decimal) -> Decimal:
    """The fraction of the first row, highest threshold first, whose threshold is met."""
    for threshold, fraction in sorted(table, key=lambda row: _dec(row[0]), reverse=True):
        if _dec(threshold) <= per_committee:
            return _dec(fraction)
    return Decimal(0)


def process_runs(institution: _Institution, indicator: dict,
                 result: dict) -> IndicatorScore:
    """Governance processes operated: full marks at `full_marks_runs` (3), linear below."""
    full_at = _dec(institution.scoring["process_runs"]["full_marks_runs"])
    runs = len(result.get("processes") or [])
    fraction = min(ONE, runs / full_at)
    return _measured(
        institution, indicator, fraction,
        measure={"processes": runs, "full_marks_runs": str(full_at)},
        reason=f"{_n(runs, 'process')} run",
        rule=f"full marks at {full_at} runs")


def education(institution: _Institution, indicator: dict, result: dict) -> IndicatorScore:
    """Governance education, online and offline, both measured against headcount (현원).

    Online: the staff who completed at least one of the MOOC courses, as a share of
    headcount; full online marks at `online_full_marks_ratio` (30%), linear below.
    Offline: full offline marks when any offline session's attendance reached the
    indicator's `offline_attendance_share` (15%) of headcount, else none.
    points = max_points × (online_share × online + offline_share × offline).
    Without a headcount from HR the score waits (pending, 0 points).
    """
    facts = institution.facts
    if not facts.headcount:
        return _pending(institution, indicator, {"headcount": facts.headcount},
                        "awaiting headcount from HR")
    rule = institution.scoring["education"]
    headcount = facts.headcount
    learners = Decimal(facts.learners_completed) / headcount
    online = min(ONE, learners / _dec(rule["online_full_marks_ratio"]))
    needed = _dec(indicator["offline_attendance_share"])
    best = max((s["attendees"] for s in result.get("offline_sessions") or ()), default=0)
    offline = ONE if best >= needed * headcount else Decimal(0)
    online_share, offline_share = _dec(rule["online_share"]), _dec(rule["offline_share"])
    fraction = online_share * online + offline_share * offline
    headcount_event = (facts.headcount_event,) if facts.headcount_event else ()
    return _measured(
        institution, indicator, fraction,
        measure={"headcount": headcount, "learners_completed": facts.learners_completed,
                 "online_fraction": str(online.quantize(FOUR_PLACES, ROUND_HALF_UP)),
                 "best_offline_attendees": best, "offline_counts": bool(offline)},
        reason=(f"{facts.learners_completed} of {headcount} staff completed a MOOC course "
                f"({_pct(learners)}, full at {_pct(_dec(rule['online_full_marks_ratio']))})"
                f" → online {_pct(online)}; best offline session {best} attendees "
                f"({'reaches' if offline else 'below'} {_pct(needed)} of headcount) "
                f"→ offline {_pct(offline)}; {_pct(online_share)} online + "
                f"{_pct(offline_share)} offline"),
        inputs=institution.report_events + headcount_event + facts.completion_events)


def experts(institution: _Institution, indicator: dict, result: dict) -> IndicatorScore:
    """Qualitative indicators: the external experts' free scores, combined.

    The scores combine by the rulebook's `experts` rule (trimmed mean from 3 experts
    on, plain mean below), capped at max_points. Without any score it waits (pending).
    """
    indicator_id, max_points = indicator["id"], indicator["max_points"]
    facts = institution.facts
    scores = tuple(facts.expert_scores.get(indicator_id, ()))
    if not scores:
        return _pending(institution, indicator, {"expert_scores": []},
                        "awaiting expert scores")
    rule = institution.scoring["experts"]
    combination = _combination_used(len(scores), rule)
    combined = combine_expert_scores(list(scores), rule)
    points = min(Decimal(max_points), combined)
    capped = f", capped at {max_points}" if combined > max_points else ""
    listed = ", ".join(_num(_dec(s)) for s in scores)
    how = ("trimmed mean (highest and lowest dropped)" if combination == "trimmed_mean"
           else "mean")
    return IndicatorScore(
        indicator_id=indicator_id, points=quantize(points), max_points=max_points,
        source="expert", weight=ONE,
        measure={"expert_scores": [str(s) for s in scores], "combination": combination,
                 "combined": str(combined)},
        inputs=institution.report_events + tuple(
            facts.expert_score_events.get(indicator_id, ())),
        explanation=(f"{how} of {_n(len(scores), 'expert score')} ({listed}) = {combined}"
                     f"{capped} → {quantize(points)} of {max_points} points"))


RULES: dict[str, Callable[[_Institution, dict, dict], IndicatorScore]] = {
    "open_call_share": open_call_share,
    "meetings_table": meetings_table,
    "process_runs": process_runs,
    "education": education,
    "experts": experts,
}


# --------------------------------------------------------------------------- shared steps

def committee_weight(institution: _Institution, indicator_id: str) -> Decimal:
    """The weight for an institution with fewer committees than its norm.

    Only the indicators the rulebook lists as weighted get it, by the institution's
    (effective) kind and committee count; a count with no weight in the table gets 1.
    """
    scoring = institution.scoring
    if indicator_id not in scoring.get("weighted_indicators", ()):
        return ONE
    if institution.committees >= _kind_rule(institution)["committee_norm"]:
        return ONE
    weights = scoring.get("committee_weights", {}).get(institution.kind, {})
    return _dec(weights.get(str(institution.committees), 1))


def _measured(institution: _Institution, indicator: dict, fraction: Decimal, *,
              measure: dict[str, Any], reason: str, rule: str | None = None,
              inputs: tuple[str, ...] | None = None) -> IndicatorScore:
    """A measured score: max_points × fraction, then the committee weight, capped."""
    max_points = indicator["max_points"]
    raw = max_points * fraction
    weight = committee_weight(institution, indicator["id"])
    weighted = min(Decimal(max_points), raw * weight)
    how = f" ({rule})" if rule else ""
    explanation = f"{reason} → {_pct(fraction)} of {max_points} points{how} = {quantize(raw)}"
    if weight != ONE:
        norm = _kind_rule(institution)["committee_norm"]
        kind = institution.kind.replace("_", " ")
        explanation += (f"; weight {_num(weight)} for "
                        f"{_n(institution.committees, 'committee')} (norm {norm} for a "
                        f"{kind}) = {quantize(raw * weight)}")
        if raw * weight > max_points:
            explanation += f", capped at {max_points}"
    return IndicatorScore(
        indicator_id=indicator["id"], points=quantize(weighted), max_points=max_points,
        source="measured", weight=weight,
        measure={**measure, "fraction": str(fraction.quantize(FOUR_PLACES, ROUND_HALF_UP))},
        inputs=institution.report_events if inputs is None else inputs,
        explanation=explanation)


def _pending(institution: _Institution, indicator: dict, measure: dict[str, Any],
             waiting_for: str) -> IndicatorScore:
    """A score that cannot be computed yet: 0 points until the missing fact arrives."""
    return IndicatorScore(
        indicator_id=indicator["id"], points=quantize(Decimal(0)),
        max_points=indicator["max_points"], source="pending", weight=ONE,
        measure=measure, inputs=institution.report_events,
        explanation=f"{waiting_for}: 0 of {indicator['max_points']} points for now")


def _kind_rule(institution: _Institution) -> dict:
    kinds = institution.rulebook["institution_kinds"]
    if institution.kind not in kinds:
        raise ValueError(f"institution kind {institution.kind!r} is not one of "
                         f"{', '.join(kinds)}")
    return kinds[institution.kind]


def _combination_used(count: int, rule: dict) -> str:
    """"trimmed_mean" when the rule asks for it and enough scores remain after trimming."""
    combination = rule["combination"]
    if combination not in ("trimmed_mean", "mean"):
        raise ValueError(f"expert score combination {combination!r} is not "
                         "'trimmed_mean' or 'mean'")
    trims = (combination == "trimmed_mean" and count >= rule["trim_when_at_least"]
             and count >= 3)  # dropping the highest and lowest must leave a score
    return "trimmed_mean" if trims else "mean"


# --------------------------------------------------------------------------- numbers

def _dec(value: Any) -> Decimal:
    """A rulebook or fact number as an exact Decimal (floats via their shortest text)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _num(value: Decimal) -> str:
    """A number for a sentence: 2 decimals at most, no trailing zeros (4, 3.33, 1.15)."""
    return format(quantize(value).normalize(), "f")


def _pct(fraction: Decimal) -> str:
    """A fraction as a percentage for a sentence (0.855 → 85.5%)."""
    return f"{_num(fraction * 100)}%"


def _n(count: int, noun: str) -> str:
    """'1 committee', '3 committees', '2 processes'."""
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{count} {noun if count == 1 else plural}"
