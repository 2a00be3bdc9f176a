"""The selection (select): field coverage first, then by score keeping the
new-organisation share at its target, until the first award that does not fit.

All awards here are worked out by hand: a score >= 85 gets the request (capped at
30,000,000), below 85 it gets 73.34 % of the request floored to 100,000.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.grants.domain.rules import award_for, select

from .builders import FIELDS, RULES, cand, rules_with

D = Decimal
CLIMATE, RECYCLING, WELFARE = FIELDS[0], FIELDS[1], FIELDS[2]


def by_id(decisions):
    return {d.application_id: d for d in decisions}


def selected_in_order(decisions):
    return [d.application_id for d in sorted((d for d in decisions if d.selected),
                                             key=lambda d: d.order)]


# ------------------------------------------------------------------ coverage

def test_the_best_of_each_field_is_picked_before_higher_scores_elsewhere():
    candidates = [cand("c-99", CLIMATE, score=99, new=False),
                  cand("c-98", CLIMATE, score=98, new=False),
                  cand("c-97", CLIMATE, score=97, new=False),
                  cand("r-60", RECYCLING, score=60, new=False)]
    decisions = select(RULES, candidates)
    # climate's best, then recycling's best (60 < 98, 97), then by score
    assert selected_in_order(decisions) == ["c-99", "r-60", "c-98", "c-97"]
    assert "field coverage" in by_id(decisions)["r-60"].reason


def test_coverage_wins_a_place_the_budget_would_otherwise_give_a_higher_score():
    # budget 17,300,000: c-99 gets 10,000,000; r-60 gets 10M x 0.7334 -> 7,300,000;
    # nothing is left for c-98 (10,000,000), although it scored 38 points more
    rules = rules_with(budget=17_300_000)
    decisions = by_id(select(rules, [cand("c-99", CLIMATE, score=99, new=False),
                                     cand("c-98", CLIMATE, score=98, new=False),
                                     cand("r-60", RECYCLING, score=60, new=False)]))
    assert decisions["r-60"].selected and decisions["r-60"].award == 7_300_000
    assert decisions["c-99"].selected and decisions["c-99"].award == 10_000_000
    assert not decisions["c-98"].selected


def test_coverage_follows_the_rules_field_order_not_the_scores():
    # one candidate per field, the last field has the best score
    candidates = [cand(f"a-{i:02}", f, score=60 + i, new=False)
                  for i, f in enumerate(FIELDS)]
    decisions = by_id(select(RULES, candidates))
    for i, f in enumerate(FIELDS):
        d = decisions[f"a-{i:02}"]
        assert d.selected and d.order == i + 1
        assert f in d.reason and "coverage" in d.reason


def test_coverage_takes_only_the_best_of_a_field():
    decisions = by_id(select(RULES, [cand("c-2", CLIMATE, score=70, new=False),
                                     cand("c-1", CLIMATE, score=95, new=False),
                                     cand("w-1", WELFARE, score=50, new=False)]))
    assert "coverage" in decisions["c-1"].reason
    assert "coverage" in decisions["w-1"].reason
    assert "coverage" not in decisions["c-2"].reason
    assert "score 70" in decisions["c-2"].reason
    # c-1 (climate) order 1, w-1 (welfare, field 3) order 2, then c-2
    assert [decisions[a].order for a in ("c-1", "w-1", "c-2")] == [1, 2, 3]


# ------------------------------------------------------------------ new-organisation target

def _one_field_pool(top_is_new: bool, award: int = 5_000_000):
    """20 new and 20 existing, all in climate, full-request scores 85..94.75;
    the single best (the coverage pick) is new or existing as asked."""
    pool = [cand("top", CLIMATE, award, D(99), new=top_is_new)]
    pool += [cand(f"n-{i:02}", CLIMATE, award, D(95) - D(i) / 4, new=True) for i in range(20)]
    pool += [cand(f"e-{i:02}", CLIMATE, award, D("94.9") - D(i) / 4, new=False)
             for i in range(20)]
    return pool


@pytest.mark.parametrize("top_is_new, expected", [
    # after k picks with `new` new ones, the next is new iff new + 1 <= floor(0.6 (k + 1)):
    # top new:  k=1 f(1.2)=1 E, k=2 f(1.8)=1 E, k=3 f(2.4)=2 N, k=4 f(3.0)=3 N,
    #           k=5 f(3.6)=3 E, k=6 f(4.2)=4 N, k=7 f(4.8)=4 E, k=8 f(5.4)=5 N, k=9 f(6.0)=6 N
    (True, "NEENNENENN"),
    # top existing: k=1 f(1.2)=1 N, k=2 E, k=3 N, k=4 N, k=5 E, k=6 N, k=7 E, k=8 N, k=9 N
    (False, "ENENNENENN"),
])
def test_ten_awards_take_floor_of_60_percent_new(top_is_new, expected):
    pool = _one_field_pool(top_is_new)
    rules = rules_with(budget=10 * 5_000_000)  # exactly ten awards
    decisions = select(rules, pool)
    chosen = [d for d in decisions if d.selected]
    assert len(chosen) == 10
    assert sum(d.award for d in chosen) == 50_000_000
    newness = {c.application_id: c.new_organisation for c in pool}
    sequence = "".join("N" if newness[a] else "E" for a in selected_in_order(decisions))
    assert sequence == expected
    assert sequence.count("N") == math.floor(D("0.6") * 10) == 6


def test_within_each_group_the_higher_score_goes_first():
    decisions = select(rules_with(budget=50_000_000), _one_field_pool(True))
    order = selected_in_order(decisions)
    new_ones = [a for a in order if a.startswith("n-")]
    old_ones = [a for a in order if a.startswith("e-")]
    assert new_ones == ["n-00", "n-01", "n-02", "n-03", "n-04"]
    assert old_ones == ["e-00", "e-01", "e-02", "e-03"]


def test_the_2021_round_136_awards_81_new_55_existing():
    # 136 x 14,700,000 = 1,999,200,000 <= 2,000,000,000 < 137 x 14,700,000
    # floor(0.6 x 136) = floor(81.6) = 81 new, 136 - 81 = 55 existing: the document's figures
    award = 14_700_000
    pool = []
    for i in range(300):  # 150 new and 150 existing, spread over the 12 fields
        pool.append(cand(f"a-{i:03}", FIELDS[i % 12], award, D(85) + D(i) / 100,
                         new=i % 2 == 0))
    decisions = select(RULES, pool)
    chosen = [d for d in decisions if d.selected]
    newness = {c.application_id: c.new_organisation for c in pool}
    assert len(chosen) == 136
    assert sum(d.award for d in chosen) == 1_999_200_000
    assert sum(newness[d.application_id] for d in chosen) == 81
    assert sum(not newness[d.application_id] for d in chosen) == 55
    assert all("800,000 KRW left" in d.reason for d in decisions if not d.selected)


def test_when_one_group_runs_out_the_other_fills_in():
    # 2 new, 8 existing: the target cannot be reached, every one is still taken
    pool = [cand(f"n-{i}", CLIMATE, score=90 + i, new=True) for i in range(2)]
    pool += [cand(f"e-{i}", CLIMATE, score=80 + i, new=False) for i in range(8)]
    decisions = select(RULES, pool)
    assert all(d.selected for d in decisions)
    assert len(decisions) == 10


# ------------------------------------------------------------------ budget

def test_the_first_award_that_does_not_fit_ends_the_selection():
    # 50M budget: a (30M) fits, 20M left; b (25M) does not fit -> selection over;
    # c (10M) and d (5M) would fit in the 20M left but are NOT taken (documented rule)
    rules = rules_with(budget=50_000_000)
    candidates = [cand("a", CLIMATE, 30_000_000, 95, new=False),
                  cand("b", CLIMATE, 25_000_000, 92, new=False),
                  cand("c", CLIMATE, 10_000_000, 90, new=False),
                  cand("d", CLIMATE, 5_000_000, 88, new=False)]
    decisions = by_id(select(rules, candidates))
    assert decisions["a"].selected and decisions["a"].award == 30_000_000
    assert [decisions[x].selected for x in "bcd"] == [False, False, False]
    assert [decisions[x].award for x in "bcd"] == [0, 0, 0]
    assert [decisions[x].order for x in "bcd"] == [None, None, None]
    stop = "the budget ran out: 20,000,000 KRW left, this award would be 25,000,000"
    for x in "bcd":
        assert stop in decisions[x].reason
    assert sum(d.award for d in decisions.values() if d.selected) == 30_000_000


def test_a_coverage_pick_that_does_not_fit_ends_the_selection_too():
    # climate 10M fits (5M left); recycling's best needs 8M -> stop; welfare's 1M
    # would fit but coverage does not continue past the stop
    rules = rules_with(budget=15_000_000)
    decisions = by_id(select(rules, [cand("c", CLIMATE, 10_000_000, 90),
                                     cand("r", RECYCLING, 8_000_000, 90),
                                     cand("w", WELFARE, 1_000_000, 90)]))
    assert decisions["c"].selected
    assert not decisions["r"].selected and not decisions["w"].selected
    assert "5,000,000 KRW left, this award would be 8,000,000" in decisions["w"].reason


def test_an_award_exactly_filling_the_budget_is_taken():
    rules = rules_with(budget=30_000_000)
    decisions = by_id(select(rules, [cand("a", requested=20_000_000, score=95),
                                     cand("b", requested=10_000_000, score=94),
                                     cand("c", requested=1_000_000, score=93)]))
    assert decisions["a"].selected and decisions["b"].selected
    assert not decisions["c"].selected
    assert "0 KRW left" in decisions["c"].reason


def test_the_budget_is_charged_the_award_not_the_request():
    # score 80: 30M requested -> 22M awarded; two fit in 44,000,000 (two requests would not)
    rules = rules_with(budget=44_000_000)
    decisions = select(rules, [cand("a", requested=30_000_000, score=80),
                               cand("b", requested=30_000_000, score=79)])
    assert [d.award for d in decisions] == [22_000_000, 22_000_000]
    assert all(d.selected for d in decisions)


# ------------------------------------------------------------------ decisions and reasons

def _mixed():
    return ([cand(f"c{i}", CLIMATE, 10_000_000 + i * 1_000_000, 70 + i, new=i % 2 == 0)
             for i in range(10)]
            + [cand(f"r{i}", RECYCLING, 20_000_000, 84 + i, new=i % 3 == 0) for i in range(5)]
            + [cand("w0", WELFARE, 30_000_000, 80, new=False)])


def test_every_candidate_gets_exactly_one_decision():
    candidates = _mixed()
    decisions = select(rules_with(budget=100_000_000), candidates)
    assert len(decisions) == len(candidates)
    assert sorted(d.application_id for d in decisions) == \
        sorted(c.application_id for c in candidates)
    assert any(not d.selected for d in decisions)  # the budget really cut here


def test_reasons_say_why():
    decisions = select(rules_with(budget=100_000_000), _mixed())
    for d in decisions:
        if d.selected:
            assert "coverage" in d.reason or "score" in d.reason
            assert d.order is not None and d.award > 0
        else:
            assert "budget" in d.reason
            assert d.order is None and d.award == 0
    orders = sorted(d.order for d in decisions if d.selected)
    assert orders == list(range(1, len(orders) + 1))


def test_a_cut_award_names_the_request():
    decisions = by_id(select(RULES, [cand("cut", requested=30_000_000, score=80),
                                     cand("full", requested=30_000_000, score=90)]))
    assert decisions["cut"].award == 22_000_000
    assert "award 22,000,000 of 30,000,000 requested" in decisions["cut"].reason
    assert "requested" not in decisions["full"].reason


def test_a_capped_request_is_named_in_the_reason():
    # 35M asked, score 90: awarded the cap, 30M, below the request
    decisions = select(RULES, [cand("big", requested=35_000_000, score=90)])
    assert decisions[0].award == 30_000_000
    assert "30,000,000 of 35,000,000 requested" in decisions[0].reason


def test_no_candidates_no_decisions():
    assert select(RULES, []) == []


# ------------------------------------------------------------------ determinism

def test_same_input_same_decisions():
    rules = rules_with(budget=100_000_000)
    assert select(rules, _mixed()) == select(rules, _mixed())


@pytest.mark.parametrize("seed", range(5))
def test_shuffling_the_candidates_changes_nothing(seed):
    rules = rules_with(budget=100_000_000)
    shuffled = _mixed()
    random.Random(seed).shuffle(shuffled)
    assert select(rules, shuffled) == select(rules, _mixed())


def test_equal_scores_are_broken_by_application_id():
    rules = rules_with(budget=10_000_000)
    decisions = by_id(select(rules, [cand("b", score=90, new=False),
                                     cand("a", score=90, new=False)]))
    assert decisions["a"].selected and not decisions["b"].selected


# ------------------------------------------------------------------ property

candidate_lists = st.lists(
    st.tuples(st.sampled_from(FIELDS), st.integers(1_000_000, 40_000_000),
              st.integers(0, 10_000).map(lambda n: D(n) / 100), st.booleans()),
    max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=candidate_lists,
       budget=st.one_of(st.just(RULES.budget), st.integers(0, 400_000_000)))
def test_selection_properties(rows, budget):
    rules = rules_with(budget=budget)
    candidates = [cand(f"a-{i:03}", f, req, score, new)
                  for i, (f, req, score, new) in enumerate(rows)]
    decisions = by_id(select(rules, candidates))
    assert len(decisions) == len(candidates)
    committed = sum(d.award for d in decisions.values() if d.selected)
    assert committed <= budget
    for c in candidates:
        d = decisions[c.application_id]
        if d.selected:
            assert 0 < d.award <= rules.cap_per_project
            assert d.award <= c.requested
        else:
            assert d.award == 0 and "budget" in d.reason
    # coverage: in the rules' field order, each field's best (highest score, then
    # lowest id) is selected as long as the bests before it and its own award fit
    left = budget
    for f in rules.fields:
        in_field = [c for c in candidates if c.field == f]
        if not in_field:
            continue
        best = min(in_field, key=lambda c: (-c.score, c.application_id))
        award = award_for(rules, best.requested, best.score)
        if award > left:
            break
        assert decisions[best.application_id].selected, f"{f} not covered"
        left -= award
