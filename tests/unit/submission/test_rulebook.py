"""The 2021 rulebook (평가 기준) as data: what the seed file says, parsed and typed."""
from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from services.submission.domain.rulebook import (RULEBOOK_DIR, Rulebook, load_rulebook)

SEED_NAMES = {
    "committee-openness": "위원회 구성의 개방성",
    "committee-meetings": "위원회 개최횟수",
    "governance-process": "협치과정 운영",
    "governance-education": "협치교육",
    "governance-case": "협치사례",
    "governance-leadership": "협치리더십 구현",
}


@pytest.fixture(scope="module")
def rulebook() -> Rulebook:
    return load_rulebook(2021)


def test_loads_as_a_typed_rulebook_for_its_year(rulebook):
    assert isinstance(rulebook, Rulebook)
    assert (rulebook.year, rulebook.version) == (2021, 1)
    assert rulebook.effective_from == date(2021, 4, 1)


def test_ref_names_id_year_and_version(rulebook):
    assert rulebook.ref == "governance-capability/2021/v1"


def test_six_indicators_with_their_korean_names_in_seed_order(rulebook):
    assert [(i.id, i.name_ko) for i in rulebook.indicators] == list(SEED_NAMES.items())
    assert rulebook.indicator_ids == list(SEED_NAMES)


def test_indicator_lookup_by_id(rulebook):
    assert rulebook.indicator("governance-case").name_ko == "협치사례"
    assert rulebook.indicator("no-such-indicator") is None


def test_max_points_total_one_hundred(rulebook):
    assert [i.max_points for i in rulebook.indicators] == [20, 20, 20, 10, 15, 15]
    assert sum(i.max_points for i in rulebook.indicators) == 100


def test_base_score_for_a_missing_indicator_is_30(rulebook):
    assert rulebook.base_score_missing == 30


def test_at_most_20_meeting_records(rulebook):
    assert rulebook.indicator("committee-meetings").caps == {"meeting_records": 20}


def test_one_governance_case(rulebook):
    assert rulebook.indicator("governance-case").caps == {"cases": 1}


def test_indicators_without_caps_have_none(rulebook):
    capped = {i.id for i in rulebook.indicators if i.caps}
    assert capped == {"committee-meetings", "governance-case"}


def test_committee_norms_by_institution_kind(rulebook):
    kinds = rulebook.institution_kinds
    assert set(kinds) == {"bureau", "headquarters", "field_office"}
    assert kinds["bureau"].committee_norm == 3
    assert kinds["field_office"].committee_norm == 2
    assert kinds["headquarters"].committee_norm == 3
    assert (kinds["bureau"].name_ko, kinds["field_office"].name_ko) == ("실국", "사업소")


def test_online_education_is_one_of_the_two_mooc_courses(rulebook):
    education = rulebook.indicator("governance-education")
    assert education.online_courses == {"governance-and-citizens": "협치와 시민",
                                        "local-governance": "지역협치"}
    assert education.online_courses_required == 1


def test_offline_education_counts_at_15_percent_attendance(rulebook):
    assert rulebook.indicator("governance-education").offline_attendance_share == 0.15


def test_process_types_include_other(rulebook):
    types = rulebook.indicator("governance-process").process_types
    assert "other" in types
    assert len(types) == len(set(types)) == 6


def test_assumptions_are_recorded(rulebook):
    assert rulebook.assumptions
    assert all(a.strip() for a in rulebook.assumptions)


def test_unknown_year_raises_file_not_found_naming_the_year():
    with pytest.raises(FileNotFoundError, match="1999"):
        load_rulebook(1999)


def test_rulebook_file_refuses_unknown_keys():
    raw = json.loads((RULEBOOK_DIR / "2021.json").read_text(encoding="utf-8"))
    raw["indicators"][0]["surprise"] = True
    with pytest.raises(ValidationError, match="surprise"):
        Rulebook.model_validate(raw)


def test_rulebook_file_refuses_unknown_institution_kind():
    raw = json.loads((RULEBOOK_DIR / "2021.json").read_text(encoding="utf-8"))
    raw["institution_kinds"]["ministry"] = {"name_ko": "부처", "committee_norm": 1}
    with pytest.raises(ValidationError):
        Rulebook.model_validate(raw)


def test_rulebook_is_immutable(rulebook):
    with pytest.raises(ValidationError):
        rulebook.base_score_missing = 0
