"""The 2021 grant round's rule data, the award and the self-funding check.

Expectations are worked out by hand from services/grants/rules/2021.json and
/work/shared/domain.md §3 (budget 2,000,000,000; cap 30,000,000; 12 fields; 5 %
self-funding; ~60 % new organisations; 22M awarded of a 30M request).
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.grants.domain.rules import award_for, check_self_funding, load_rules

from .builders import RULES

D = Decimal


# ------------------------------------------------------------------ load_rules

def test_2021_figures_from_the_document():
    rules = load_rules(2021)
    assert rules.round_id == "2021" and rules.year == 2021
    assert rules.budget == 2_000_000_000
    assert rules.cap_per_project == 30_000_000
    assert len(rules.fields) == 12
    assert len(set(rules.fields)) == 12
    assert {"climate-environment", "resource-recycling",
            "other-public-interest"} <= set(rules.fields)
    assert rules.self_funding_share == D("0.05")
    assert rules.new_organisation_target_share == D("0.6")
    assert sum(rules.review_criteria.values()) == 100
    assert rules.award_rounding == 100_000
    assert rules.penalty.next_round_effect == "poor_past_evaluation"
    assert rules.ref == "grants/2021/v1"


def test_unknown_year_has_no_rules():
    with pytest.raises(FileNotFoundError):
        load_rules(1999)


# ------------------------------------------------------------------ award_for

@pytest.mark.parametrize("score", [D(85), D(90), D("99.5"), D(100)])
def test_a_score_from_85_gets_the_full_request(score):
    assert award_for(RULES, 25_000_000, score) == 25_000_000


def test_the_full_request_is_capped_at_30_million():
    assert award_for(RULES, 35_000_000, D(90)) == 30_000_000
    assert award_for(RULES, 30_000_000, D(90)) == 30_000_000


def test_the_documents_example_22_million_of_30():
    # 30,000,000 x 0.7334 = 22,002,000 -> floored to 100,000 -> 22,000,000
    assert award_for(RULES, 30_000_000, D(80)) == 22_000_000


def test_20_million_at_score_80_is_floored_to_100_000():
    # 20,000,000 x 0.7334 = 14,668,000 -> 14,600,000 (floor, not 14,700,000)
    assert award_for(RULES, 20_000_000, D(80)) == 14_600_000


def test_just_below_the_band_is_cut():
    # 84.99 < 85: 10,000,000 x 0.7334 = 7,334,000 -> 7,300,000
    assert award_for(RULES, 10_000_000, D("84.99")) == 7_300_000
    assert award_for(RULES, 10_000_000, D(0)) == 7_300_000


def test_a_cut_over_the_cap_applies_to_the_cap():
    # min(35M, 30M) x 0.7334 -> 22,000,000, as for a 30M request
    assert award_for(RULES, 35_000_000, D(70)) == 22_000_000


# ------------------------------------------------------------------ check_self_funding

def test_required_self_funding_is_5_percent_of_award_at_the_execution_rate():
    # award 20M, 18M spent -> rate 0.9; 5% x 20M x 0.9 = 900,000
    result = check_self_funding(RULES, 20_000_000, 18_000_000, 900_000)
    assert result.execution_rate == D("0.9")
    assert result.required == 900_000
    assert (result.actual, result.shortfall, result.penalty) == (900_000, 0, 0)


def test_more_than_required_is_no_shortfall():
    result = check_self_funding(RULES, 20_000_000, 18_000_000, 2_000_000)
    assert (result.required, result.shortfall, result.penalty) == (900_000, 0, 0)


def test_a_shortfall_is_penalised_one_for_one():
    result = check_self_funding(RULES, 20_000_000, 18_000_000, 500_000)
    assert result.required == 900_000
    assert result.actual == 500_000
    assert result.shortfall == 400_000
    assert result.penalty == 400_000  # refund multiplier 1.0


def test_nothing_spent_requires_nothing():
    result = check_self_funding(RULES, 20_000_000, 0, 0)
    assert result.execution_rate == D(0)
    assert (result.required, result.shortfall, result.penalty) == (0, 0, 0)


def test_full_execution_requires_5_percent_of_the_award():
    # the document's 22M award, all spent: 5% x 22,000,000 = 1,100,000
    result = check_self_funding(RULES, 22_000_000, 22_000_000, 1_099_999)
    assert result.execution_rate == D(1)
    assert (result.required, result.shortfall, result.penalty) == (1_100_000, 1, 1)


def test_a_fractional_requirement_is_rounded_up():
    # 5% of 12,345 spent = 617.25 -> 618 (ceiling: the organisation owes the whole won)
    result = check_self_funding(RULES, 20_000_000, 12_345, 617)
    assert (result.required, result.shortfall) == (618, 1)


@pytest.mark.parametrize("award, spent, required", [
    (6_000_000, 1_000_000, 50_000),     # rate 1/6:  5% x 6M x 1/6  = 5% x 1M     = 50,000
    (2_700_000, 1_500_000, 75_000),     # rate 5/9:  5% x 1,500,000                = 75,000
    (2_800_000, 400_000, 20_000),       # rate 1/7:  5% x 400,000                  = 20,000
    (14_600_000, 1_600_000, 80_000),    # the 14.6M award above: 5% x 1,600,000   = 80,000
])
def test_required_is_exact_when_the_execution_rate_does_not_terminate(award, spent, required):
    """BUG (left failing on purpose): required = 5% x award x (spent / award) is
    mathematically 5% x spent, a whole number here. The code first divides spent by the
    award in 28-digit Decimal arithmetic (1/6 = 0.1666…7, rounded up), multiplies back,
    and then takes the CEILING, so the rounding residue of 1e-23 becomes a whole won:
    required 50,001 instead of 50,000. An organisation that self-funded exactly 5% gets
    a shortfall of 1 KRW, a PenaltyImposed and 'poor_past_evaluation' next round."""
    result = check_self_funding(RULES, award, spent, required)
    assert result.required == required
    assert result.shortfall == 0
    assert result.penalty == 0
