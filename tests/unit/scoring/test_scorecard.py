"""The Scorecard aggregate alone: folding its events, and each decision's refusals."""
from __future__ import annotations

from decimal import Decimal

import pytest

from services.scoring.domain.errors import (Conflicted, InvalidState, NotAssigned,
                                            OutOfRange, UnknownTarget)
from services.scoring.domain.facts import IndicatorScore
from services.scoring.domain.scorecard import Scorecard, scorecard_stream

EXPERT_INDICATORS = ["governance-case"]
ARGS = ("2021", "planning")


def score(indicator="governance-case", points="9.00", source="expert", inputs=("e-1",)):
    return IndicatorScore(indicator_id=indicator, points=Decimal(points), max_points=15,
                          source=source, weight=Decimal(1), measure={}, inputs=inputs,
                          explanation="why")


def card(*events) -> Scorecard:
    return Scorecard(scorecard_stream(*ARGS), events)


def test_the_stream_is_named_by_year_and_institution():
    assert scorecard_stream(2021, "planning") == "scorecard-2021-planning"


def test_only_changed_scores_are_recorded_again():
    first = card().record(*ARGS, [score(), score("other", "3.00", "base")], "rb/2021/v1")
    assert [e.indicator_id for e in first] == ["governance-case", "other"]
    c = card(*first)
    assert c.total() == Decimal("12.00") and c.effective("governance-case") == Decimal("9.00")
    assert c.record(*ARGS, [score(), score("other", "3.00", "base")], "rb/2021/v1") == []
    assert len(c.record(*ARGS, [score()], "rb/2021/v2")) == 1  # a new rulebook
    assert len(c.record(*ARGS, [score(inputs=("e-1", "e-2"))], "rb/2021/v1")) == 1
    assert c.pending() == []
    assert card(*card().record(*ARGS, [score(source="pending", points="0")], "r")).pending() \
        == ["governance-case"]


def test_experts_are_assigned_once_and_score_only_when_assigned_and_unconflicted():
    history = card().record(*ARGS, [score()], "r")
    with pytest.raises(InvalidState):  # not an expert indicator
        card(*history).assign_expert(*ARGS, "committee-openness", "kim", EXPERT_INDICATORS)
    history += card(*history).assign_expert(*ARGS, "governance-case", "kim",
                                            EXPERT_INDICATORS)
    c = card(*history)
    assert c.state.assigned["governance-case"] == {"kim"}
    with pytest.raises(InvalidState):
        c.assign_expert(*ARGS, "governance-case", "kim", EXPERT_INDICATORS)
    with pytest.raises(NotAssigned):
        c.give_expert_score(*ARGS, "governance-case", "lee", Decimal(5), "c", 15)
    with pytest.raises(OutOfRange):
        c.give_expert_score(*ARGS, "governance-case", "kim", Decimal(16), "c", 15)
    [given] = c.give_expert_score(*ARGS, "governance-case", "kim", Decimal("7.5"), "c", 15)
    assert given.points == Decimal("7.50")
    history += [given, *c.assign_expert(*ARGS, "governance-case", "lee", EXPERT_INDICATORS)]
    history += card(*history).declare_conflict(*ARGS, "lee", "가족 근무")
    c = card(*history)
    assert c.state.expert_scores["governance-case"] == {"kim": Decimal("7.50")}
    assert c.state.scorers["governance-case"] == {"kim"} and c.state.conflicted == {"lee"}
    with pytest.raises(InvalidState):
        c.declare_conflict(*ARGS, "lee", "again")
    with pytest.raises(Conflicted):
        c.give_expert_score(*ARGS, "governance-case", "lee", Decimal(5), "c", 15)
    with pytest.raises(Conflicted):
        c.assign_expert(*ARGS, "governance-case", "lee", EXPERT_INDICATORS)


def test_an_adjustment_overrides_the_computed_score_which_stays_visible():
    computed = card().record(*ARGS, [score()], "r")
    c = card(*computed)
    with pytest.raises(UnknownTarget):
        c.adjust(*ARGS, "no-score", Decimal(1), "r", 15, "panel-1")
    [adjusted] = c.adjust(*ARGS, "governance-case", Decimal(11), "증빙", 15, "panel-1")
    assert adjusted.from_points == Decimal("9.00")
    c = card(*computed, adjusted)
    assert c.effective("governance-case") == Decimal("11.00")
    assert c.state.computed["governance-case"].points == Decimal("9.00")
    assert c.total() == Decimal("11.00")
    assert "panel-1" in c.state.scorers["governance-case"]


def test_an_appeal_is_filed_in_the_window_reviewed_by_a_non_scorer_and_decided():
    history = [*card().record(*ARGS, [score()], "r")]
    history += card(*history).assign_expert(*ARGS, "governance-case", "kim",
                                            EXPERT_INDICATORS)
    history += card(*history).give_expert_score(*ARGS, "governance-case", "kim",
                                                Decimal(9), "c", 15)
    c = card(*history)
    with pytest.raises(InvalidState):
        c.file_appeal(*ARGS, "ap-1", "governance-case", "g", window_open=False)
    with pytest.raises(UnknownTarget):
        c.file_appeal(*ARGS, "ap-1", "no-score", "g", window_open=True)
    history += c.file_appeal(*ARGS, "ap-1", "governance-case", "과소평가", window_open=True)
    c = card(*history)
    assert c.open_appeals() == ["ap-1"]
    with pytest.raises(InvalidState):  # one open appeal per indicator
        c.file_appeal(*ARGS, "ap-2", "governance-case", "g", window_open=True)
    with pytest.raises(InvalidState):
        c.file_appeal(*ARGS, "ap-1", "governance-case", "g", window_open=True)
    with pytest.raises(UnknownTarget):
        c.assign_reviewer(*ARGS, "ap-9", "choi")
    with pytest.raises(Conflicted):  # kim scored the indicator appealed against
        c.assign_reviewer(*ARGS, "ap-1", "kim")
    history += c.assign_reviewer(*ARGS, "ap-1", "choi")
    c = card(*history)
    with pytest.raises(NotAssigned):
        c.decide_appeal(*ARGS, "ap-1", "lee", True, Decimal(12), "r", 15)
    with pytest.raises(OutOfRange):
        c.decide_appeal(*ARGS, "ap-1", "choi", True, None, "r", 15)
    [dismissed] = c.decide_appeal(*ARGS, "ap-1", "choi", False, None, "기각", 15)
    assert dismissed.to_points == dismissed.from_points == Decimal("9.00")
    [upheld] = c.decide_appeal(*ARGS, "ap-1", "choi", True, Decimal(12), "인용", 15)
    c = card(*history, upheld)
    assert c.effective("governance-case") == Decimal("12.00") and c.open_appeals() == []
    with pytest.raises(InvalidState):
        c.decide_appeal(*ARGS, "ap-1", "choi", True, Decimal(13), "again", 15)


def test_commands_never_mutate_the_aggregate():
    c = card(*card().record(*ARGS, [score()], "r"))
    before = (c.version, c.state)
    c.assign_expert(*ARGS, "governance-case", "kim", EXPERT_INDICATORS)
    c.adjust(*ARGS, "governance-case", Decimal(1), "r", 15, "p")
    c.record(*ARGS, [score(points="1.00")], "r")
    assert (c.version, c.state) == before
