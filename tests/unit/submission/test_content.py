"""check_report: what an institution may put in its result report (협치이행 결과보고서)."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.submission.domain.content import (CommitteeComposition, IndicatorResult,
                                                MeetingRecord, ProcessRun, check_report)
from services.submission.domain.errors import (RuleBroken, SubmissionRefused,
                                               UnknownIndicator)

from .builders import RULEBOOK, case, full_report, meetings, na, result


def test_full_report_passes():
    assert check_report(RULEBOOK, full_report(), []) is None


def test_all_indicators_not_applicable_passes():
    check_report(RULEBOOK, [], [na(i) for i in RULEBOOK.indicator_ids])


def test_mix_of_results_and_not_applicable_passes():
    check_report(RULEBOOK, [result("committee-openness"), result("governance-case")],
                 [na("governance-leadership")])


def test_empty_report_is_refused():
    with pytest.raises(RuleBroken, match="no indicator"):
        check_report(RULEBOOK, [], [])


def test_refusals_are_submission_refused_with_a_kind():
    with pytest.raises(SubmissionRefused) as refused:
        check_report(RULEBOOK, [], [])
    assert refused.value.kind == "rulebook-violation"
    assert refused.value.detail == str(refused.value)


@pytest.mark.parametrize("where", ["results", "not_applicable"])
def test_unknown_indicator_is_named_with_the_known_ones(where):
    bogus = IndicatorResult(indicator_id="tree-planting", cases=[case()])
    args = ([bogus], []) if where == "results" else ([], [na("tree-planting")])
    with pytest.raises(UnknownIndicator) as refused:
        check_report(RULEBOOK, *args)
    message = str(refused.value)
    assert "'tree-planting'" in message
    assert "governance-capability/2021/v1" in message
    for known in RULEBOOK.indicator_ids:
        assert known in message
    assert refused.value.kind == "unknown-indicator"


def test_indicator_reported_and_not_applicable_is_refused():
    with pytest.raises(RuleBroken, match="governance-case appear more than once"):
        check_report(RULEBOOK, [result("governance-case")], [na("governance-case")])


def test_indicator_reported_twice_is_refused():
    with pytest.raises(RuleBroken, match="appear more than once"):
        check_report(RULEBOOK, [result("committee-openness")] * 2, [])


def test_indicator_marked_not_applicable_twice_is_refused():
    with pytest.raises(RuleBroken, match="appear more than once"):
        check_report(RULEBOOK, [], [na("governance-case"), na("governance-case")])


def test_21_meeting_records_are_refused():
    too_many = IndicatorResult(indicator_id="committee-meetings", meeting_records=meetings(21))
    with pytest.raises(RuleBroken) as refused:
        check_report(RULEBOOK, [too_many], [])
    message = str(refused.value)
    assert "21 meeting records submitted" in message
    assert "at most 20" in message
    assert "governance-capability/2021/v1" in message


def test_exactly_20_meeting_records_pass():
    check_report(RULEBOOK, [IndicatorResult(indicator_id="committee-meetings",
                                            meeting_records=meetings(20))], [])


def test_two_governance_cases_are_refused():
    two = IndicatorResult(indicator_id="governance-case", cases=[case(1), case(2)])
    with pytest.raises(RuleBroken, match="2 cases submitted.*at most 1"):
        check_report(RULEBOOK, [two], [])


def test_one_governance_case_passes():
    check_report(RULEBOOK, [IndicatorResult(indicator_id="governance-case",
                                            cases=[case()])], [])


def test_foreign_field_is_refused_and_named():
    mixed = IndicatorResult(indicator_id="committee-meetings", meeting_records=meetings(2),
                            cases=[case()])
    with pytest.raises(RuleBroken) as refused:
        check_report(RULEBOOK, [mixed], [])
    message = str(refused.value)
    assert "field(s) cases" in message
    assert "takes meeting_records" in message


def test_only_a_foreign_field_is_refused_as_foreign():
    wrong = IndicatorResult(indicator_id="governance-leadership", cases=[case()])
    with pytest.raises(RuleBroken, match="cases do not belong"):
        check_report(RULEBOOK, [wrong], [])


def test_result_with_no_part_filled_is_refused():
    empty = IndicatorResult(indicator_id="committee-openness", evidence_refs=["doc-1"])
    with pytest.raises(RuleBroken, match="committee-openness: no results given"):
        check_report(RULEBOOK, [empty], [])


def test_education_may_fill_either_or_both_of_its_parts():
    online = IndicatorResult(indicator_id="governance-education",
                             online_completions={"local-governance": 3})
    check_report(RULEBOOK, [online], [])
    check_report(RULEBOOK, [result("governance-education")], [])


@pytest.mark.parametrize("process_type", ["other", "public-deliberation"])
def test_known_process_types_are_accepted(process_type):
    run = IndicatorResult(indicator_id="governance-process",
                          processes=[ProcessRun(type=process_type, title="t")])
    check_report(RULEBOOK, [run], [])


def test_unknown_process_type_is_refused():
    run = IndicatorResult(indicator_id="governance-process",
                          processes=[ProcessRun(type="other", title="ok"),
                                     ProcessRun(type="bogus", title="t")])
    with pytest.raises(RuleBroken, match="process type 'bogus' is not one of"):
        check_report(RULEBOOK, [run], [])


def test_unknown_online_course_is_refused():
    bad = IndicatorResult(indicator_id="governance-education",
                          online_completions={"governance-and-citizens": 1, "excel-101": 5})
    with pytest.raises(RuleBroken) as refused:
        check_report(RULEBOOK, [bad], [])
    assert "online course 'excel-101'" in str(refused.value)
    assert "governance-and-citizens, local-governance" in str(refused.value)


def test_negative_completion_count_is_refused():
    bad = IndicatorResult(indicator_id="governance-education",
                          online_completions={"local-governance": -1})
    with pytest.raises(RuleBroken, match="cannot be negative"):
        check_report(RULEBOOK, [bad], [])


def test_open_call_members_beyond_total_fail_validation():
    with pytest.raises(ValidationError, match="3 open-call members out of 2"):
        CommitteeComposition(committee_id="c-1", members_total=2, members_open_call=3)


def test_open_call_members_equal_to_total_are_valid():
    assert CommitteeComposition(committee_id="c-1", members_total=2,
                                members_open_call=2).members_open_call == 2


def test_parts_refuse_unknown_fields_and_empty_text():
    with pytest.raises(ValidationError, match="extra"):
        IndicatorResult(indicator_id="governance-case", cases=[case()], score=99)
    with pytest.raises(ValidationError):
        ProcessRun(type="other", title="")


def test_meeting_mode_is_a_closed_set():
    with pytest.raises(ValidationError):
        MeetingRecord.model_validate({"committee_id": "c", "held_on": date(2021, 1, 1),
                                       "mode": "telepathy", "minutes_ref": "m"})


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=0, max_value=40))
@example(n=0)
@example(n=20)
@example(n=21)
def test_meeting_record_count_property(n):
    """An empty list reports nothing (refused: omit the indicator or mark it not
    applicable); 1..20 pass; 21 and more are refused by the cap."""
    report = [IndicatorResult(indicator_id="committee-meetings", meeting_records=meetings(n))]
    if n == 0:
        with pytest.raises(RuleBroken, match="no results given"):
            check_report(RULEBOOK, report, [])
    elif n <= 20:
        check_report(RULEBOOK, report, [])
    else:
        with pytest.raises(RuleBroken, match=f"{n} meeting records submitted"):
            check_report(RULEBOOK, report, [])
