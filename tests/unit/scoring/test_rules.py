"""The scoring rules (채점 기준): expected points are worked out by hand from the 2021 rulebook.

2021 numbers used below (services/submission/rulebooks/2021.json): max_points 20/20/20/10/15/15;
base 30 of 100; open-call floor 0.3, full at 0.5; meetings table 4→1.0, 3→0.85, 2→0.7,
1→0.5, 0→0.3, cap 20 records; committee norm 3 (bureau, headquarters) and 2 (field
office); weights bureau {1: 1.3, 2: 1.15}, field office {1: 1.15}; processes full at 3;
education 0.5 online (full at 30% of headcount) + 0.5 offline (a session >= 15%).
"""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain.facts import IndicatorScore, InstitutionFacts, ReportFacts
from services.scoring.domain.rules import combine_expert_scores, score_institution

RULEBOOK_PATH = (Path(__file__).resolve().parents[3]
                 / "services" / "submission" / "rulebooks" / "2021.json")
RULEBOOK = json.loads(RULEBOOK_PATH.read_text(encoding="utf-8"))
IDS = ["committee-openness", "committee-meetings", "governance-process",
       "governance-education", "governance-case", "governance-leadership"]
REPORT_EVENT = "report-1"
D = Decimal


# ------------------------------------------------------------------ builders

def committees(*members: tuple[int, int]) -> dict:
    """committee-openness results: one (members_total, members_open_call) per committee."""
    return {"committees": [{"committee_id": f"c-{i}", "members_total": total,
                            "members_open_call": open_call}
                           for i, (total, open_call) in enumerate(members, start=1)]}


def meetings(n: int, over: int = 1) -> dict:
    """committee-meetings results: n records spread round-robin over `over` committees."""
    return {"meeting_records": [{"committee_id": f"c-{i % over + 1}", "held_on": "2021-05-01",
                                 "mode": "in_person", "minutes_ref": f"m-{i}"}
                                for i in range(n)]}


def processes(n: int) -> dict:
    return {"processes": [{"type": "living-lab", "title": f"p-{i}"} for i in range(n)]}


def education(*attendees: int) -> dict:
    return {"online_completions": {"governance-and-citizens": 1},
            "offline_sessions": [{"held_on": "2021-06-01", "attendees": a} for a in attendees]}


def report(results: dict, not_applicable: tuple[str, ...] = ()) -> ReportFacts:
    marks = tuple(f"na-{i}" for i in not_applicable)
    return ReportFacts(results=results, not_applicable=frozenset(not_applicable),
                       event_ids=(REPORT_EVENT, *marks))


def facts(results: dict | None = None, kind: str = "bureau", **more) -> InstitutionFacts:
    return InstitutionFacts(institution_id="inst-1", kind=kind,
                            report=report(results or {}), **more)


def score(f: InstitutionFacts, indicator_id: str, rulebook: dict = RULEBOOK) -> IndicatorScore:
    return next(s for s in score_institution(rulebook, f) if s.indicator_id == indicator_id)


THREE_COMMITTEES = committees((10, 5), (10, 5), (10, 5))  # share 0.5: full openness marks


# ------------------------------------------------------------------ base score

def test_no_report_gives_every_indicator_30_percent_of_its_points():
    scores = score_institution(RULEBOOK, InstitutionFacts("inst-1", "bureau"))
    assert [s.indicator_id for s in scores] == IDS
    # 30% of 20, 20, 20, 10, 15, 15
    assert [s.points for s in scores] == [D("6.00"), D("6.00"), D("6.00"), D("3.00"),
                                          D("4.50"), D("4.50")]
    assert sum(s.points for s in scores) == D("30.00")
    for s in scores:
        assert s.source == "base" and s.weight == 1 and s.inputs == ()
        assert "not submitted" in s.explanation
        assert "base score 30 of 100" in s.explanation


def test_indicator_missing_from_the_report_gets_the_base_score():
    scores = score_institution(RULEBOOK, facts({"governance-process": processes(3)}))
    assert [s.source for s in scores] == ["base", "base", "measured", "base", "base", "base"]
    missing = scores[0]
    assert missing.points == D("6.00")
    assert missing.inputs == (REPORT_EVENT,)
    assert "not submitted" in missing.explanation
    assert "base score 30 of 100" in missing.explanation


def test_indicator_marked_not_applicable_gets_the_base_score():
    f = InstitutionFacts("inst-1", "bureau", report=report(
        {"governance-process": processes(3)}, not_applicable=("governance-leadership",)))
    leadership = score(f, "governance-leadership")
    assert leadership.source == "base"
    assert leadership.points == D("4.50")  # 30% of 15
    assert leadership.inputs == (REPORT_EVENT, "na-governance-leadership")
    assert "marked not applicable" in leadership.explanation
    assert "base score 30 of 100" in leadership.explanation


def test_base_score_is_read_from_the_rulebook():
    rulebook = copy.deepcopy(RULEBOOK)
    rulebook["base_score_missing"] = 50
    for indicator in rulebook["indicators"]:
        indicator["max_points"] = 20
    scores = score_institution(rulebook, InstitutionFacts("inst-1", "bureau"))
    assert [s.points for s in scores] == [D("10.00")] * 6  # 50% of 20


def test_base_score_is_not_weighted_for_few_committees():
    # two committees (from the meeting records) would weight a measured score by 1.15
    openness = score(facts({"committee-meetings": meetings(4, over=2)}), "committee-openness")
    assert openness.source == "base"
    assert openness.points == D("6.00") and openness.weight == 1


# ------------------------------------------------------------------ open-call share

@pytest.mark.parametrize("members, share, points", [
    (((10, 0), (10, 0), (10, 0)), "0", "6.00"),     # floor: 0.3 × 20
    (((10, 3), (10, 2), (20, 5)), "0.25", "13.00"),  # (0.3 + 0.7 × 0.25/0.5) × 20 = 0.65 × 20
    (((10, 5), (10, 5), (20, 10)), "0.5", "20.00"),  # full marks at 0.5
    (((10, 8), (10, 8), (10, 8)), "0.8", "20.00"),   # above 0.5 stays full
])
def test_open_call_share(members, share, points):
    s = score(facts({"committee-openness": committees(*members)}), "committee-openness")
    assert s.source == "measured" and s.weight == 1
    assert s.points == D(points)
    assert D(s.measure["open_call_share"]) == D(share)
    assert s.measure["committees"] == 3


def test_open_call_share_pools_members_over_committees():
    # 10 of 50 members = 0.2 → (0.3 + 0.7 × 0.4) × 20 = 11.60
    # (averaging the committees' own shares, 1/3, would give 15.33)
    s = score(facts({"committee-openness": committees((10, 10), (30, 0), (10, 0))}),
              "committee-openness")
    assert s.points == D("11.60")
    assert s.measure["open_call_share"] == "0.2000"


def test_open_call_share_rounded_to_four_places_in_the_measure():
    s = score(facts({"committee-openness": committees((3, 1), (3, 0), (3, 0))}),
              "committee-openness")
    assert s.measure["open_call_share"] == "0.1111"  # 1/9
    # (0.3 + 0.7 × (1/9)/0.5) × 20 = 6 + 28/9 = 9.111…
    assert s.points == D("9.11")


# ------------------------------------------------------------------ meetings table

@pytest.mark.parametrize("records, points", [
    (12, "20.00"),  # 4 per committee → 1.0
    (11, "17.00"),  # 3.67 → 0.85
    (9, "17.00"),   # exactly 3 → 0.85
    (8, "14.00"),   # 2.67 → 0.7
    (6, "14.00"),   # exactly 2 → 0.7
    (5, "10.00"),   # 1.67 → 0.5
    (3, "10.00"),   # exactly 1 → 0.5
    (2, "6.00"),    # 0.67 → 0.3
])
def test_meetings_table_over_three_committees(records, points):
    # the openness results list the 3 committees (2 records alone would name only 2)
    f = facts({"committee-openness": THREE_COMMITTEES,
               "committee-meetings": meetings(records, over=3)})
    s = score(f, "committee-meetings")
    assert s.source == "measured" and s.weight == 1
    assert s.points == D(points)
    assert s.measure["committees"] == 3
    assert s.measure["meeting_records_counted"] == records


def test_meeting_records_beyond_the_cap_of_20_are_not_counted():
    # 7 committees: 21 records would be 3.0 per committee (0.85), the 20 counted are
    # 2.86 per committee → 0.7 × 20 = 14.00
    f = facts({"committee-openness": committees(*[(10, 5)] * 7),
               "committee-meetings": meetings(21, over=7)})
    s = score(f, "committee-meetings")
    assert s.measure["meeting_records_counted"] == 20
    assert s.points == D("14.00")


def test_committee_count_comes_from_the_openness_results_when_reported():
    # openness lists 4 committees; the 8 records name one: 8 / 4 = 2 per committee → 14.00
    f = facts({"committee-openness": committees(*[(10, 5)] * 4),
               "committee-meetings": meetings(8, over=1)})
    s = score(f, "committee-meetings")
    assert s.measure["committees"] == 4
    assert s.points == D("14.00")


def test_without_openness_results_committees_are_those_named_in_meeting_records():
    # 2 records over c-1 and c-2 only: 2 committees, 1 per committee → 0.5 × 20 = 10,
    # a bureau below its norm of 3 → × 1.15 = 11.50
    s = score(facts({"committee-meetings": meetings(2, over=3)}), "committee-meetings")
    assert s.measure["committees"] == 2
    assert s.points == D("11.50")


def test_explanation_names_the_rule_and_the_figures():
    s = score(facts({"committee-meetings": meetings(12, over=3)}), "committee-meetings")
    assert "12 meeting records over 3 committees" in s.explanation
    assert "4 per committee" in s.explanation
    assert "100% of 20 points (table)" in s.explanation


# ------------------------------------------------------------------ committee weight

def test_bureau_with_two_committees_is_weighted_1_15():
    # 4 records / 2 committees = 2 → 0.7 × 20 = 14 × 1.15 = 16.10
    s = score(facts({"committee-meetings": meetings(4, over=2)}), "committee-meetings")
    assert s.weight == D("1.15")
    assert s.points == D("16.10")
    assert "weight 1.15 for 2 committees (norm 3" in s.explanation


def test_weighted_score_is_capped_at_max_points():
    # 8 records / 2 committees = 4 → 20 × 1.15 = 23 → capped at 20
    s = score(facts({"committee-meetings": meetings(8, over=2)}), "committee-meetings")
    assert s.weight == D("1.15")
    assert s.points == D("20.00")
    assert "capped at 20" in s.explanation


def test_bureau_with_one_committee_is_weighted_1_3():
    # 2 records / 1 committee = 2 → 14 × 1.3 = 18.20
    s = score(facts({"committee-meetings": meetings(2, over=1)}), "committee-meetings")
    assert s.weight == D("1.3")
    assert s.points == D("18.20")


def test_open_call_share_is_weighted_too():
    # share 0 → 6 × 1.15 = 6.90 with two committees
    s = score(facts({"committee-openness": committees((10, 0), (10, 0))}),
              "committee-openness")
    assert s.weight == D("1.15")
    assert s.points == D("6.90")


def test_bureau_with_three_committees_is_not_weighted():
    s = score(facts({"committee-meetings": meetings(6, over=3)}), "committee-meetings")
    assert s.weight == 1
    assert s.points == D("14.00")
    assert "weight" not in s.explanation


def test_weight_applies_only_below_the_norm():
    # even a weight table with an entry for 3 committees leaves a bureau at its norm alone
    rulebook = copy.deepcopy(RULEBOOK)
    rulebook["scoring"]["committee_weights"]["bureau"]["3"] = 1.5
    s = score(facts({"committee-meetings": meetings(6, over=3)}), "committee-meetings",
              rulebook)
    assert s.weight == 1
    assert s.points == D("14.00")


def test_headquarters_with_two_committees_is_weighted_1_15():
    s = score(facts({"committee-meetings": meetings(4, over=2)}, kind="headquarters"),
              "committee-meetings")
    assert s.weight == D("1.15")
    assert s.points == D("16.10")


def test_field_office_norm_is_two_committees():
    one = score(facts({"committee-meetings": meetings(2, over=1)}, kind="field_office"),
                "committee-meetings")
    assert one.weight == D("1.15")          # not the bureau's 1.3
    assert one.points == D("16.10")         # 14 × 1.15
    two = score(facts({"committee-meetings": meetings(4, over=2)}, kind="field_office"),
                "committee-meetings")
    assert two.weight == 1
    assert two.points == D("14.00")


def test_bureau_treated_as_field_office_takes_the_field_office_norm():
    two = score(facts({"committee-meetings": meetings(4, over=2)},
                      treated_as_field_office=True), "committee-meetings")
    assert two.weight == 1                  # 2 committees meet the field-office norm
    assert two.points == D("14.00")
    one = score(facts({"committee-meetings": meetings(2, over=1)},
                      treated_as_field_office=True), "committee-meetings")
    assert one.weight == D("1.15")          # field-office weight, not the bureau's 1.3
    assert one.points == D("16.10")


def test_indicators_not_listed_as_weighted_are_not_weighted():
    # 1 process: 1/3 × 20 = 6.67, even with two committees
    f = facts({"committee-meetings": meetings(4, over=2), "governance-process": processes(1)})
    s = score(f, "governance-process")
    assert s.weight == 1
    assert s.points == D("6.67")


# ------------------------------------------------------------------ processes

@pytest.mark.parametrize("runs, points", [(0, "0.00"), (1, "6.67"), (2, "13.33"),
                                          (3, "20.00"), (5, "20.00")])
def test_process_runs_full_marks_at_three(runs, points):
    s = score(facts({"governance-process": processes(runs)}), "governance-process")
    assert s.points == D(points)


def test_process_runs_full_marks_read_from_the_rulebook():
    rulebook = copy.deepcopy(RULEBOOK)
    rulebook["scoring"]["process_runs"]["full_marks_runs"] = 2
    s = score(facts({"governance-process": processes(1)}), "governance-process", rulebook)
    assert s.points == D("10.00")


# ------------------------------------------------------------------ education

@pytest.mark.parametrize("headcount", [None, 0])
def test_education_waits_for_the_headcount(headcount):
    s = score(facts({"governance-education": education(50)}, headcount=headcount,
                    learners_completed=30), "governance-education")
    assert s.source == "pending"
    assert s.points == D("0.00")
    assert "awaiting headcount from HR" in s.explanation


@pytest.mark.parametrize("learners, points", [
    (0, "0.00"),
    (15, "2.50"),   # 15% of headcount = half the 30% → 0.5 × 0.5 × 10
    (30, "5.00"),   # 30% → full online half
    (60, "5.00"),   # beyond 30% stays full
])
def test_education_online_share(learners, points):
    s = score(facts({"governance-education": education()}, headcount=100,
                    learners_completed=learners), "governance-education")
    assert s.source == "measured"
    assert s.points == D(points)


@pytest.mark.parametrize("headcount, attendees, points", [
    (100, 15, "5.00"),  # exactly 15% counts
    (100, 14, "0.00"),  # just below does not
    (20, 3, "5.00"),    # exactly 15% (0.15 × 20 is 3.0000000000000004 in floats)
    (20, 2, "0.00"),
    (30, 5, "5.00"),    # 15% of 30 is 4.5
    (30, 4, "0.00"),
])
def test_education_offline_counts_from_15_percent_of_headcount(headcount, attendees, points):
    s = score(facts({"governance-education": education(attendees)}, headcount=headcount),
              "governance-education")
    assert s.points == D(points)


def test_education_offline_needs_one_session_at_15_percent_not_the_sum():
    two_small = score(facts({"governance-education": education(2, 2)}, headcount=20),
                      "governance-education")
    assert two_small.points == D("0.00")
    one_big = score(facts({"governance-education": education(1, 3)}, headcount=20),
                    "governance-education")
    assert one_big.points == D("5.00")


def test_education_online_and_offline_add_up():
    # 30 of 200 = 15% → online 0.5; a session of 30 = 15% → offline 1
    # (0.5 × 0.5 + 0.5 × 1) × 10 = 7.50
    s = score(facts({"governance-education": education(30)}, headcount=200,
                    learners_completed=30), "governance-education")
    assert s.points == D("7.50")


def test_education_offline_share_is_the_indicator_s():
    rulebook = copy.deepcopy(RULEBOOK)
    rulebook["indicators"][3]["offline_attendance_share"] = 0.2
    s = score(facts({"governance-education": education(3)}, headcount=20),
              "governance-education", rulebook)
    assert s.points == D("0.00")  # 3 of 20 is below 20%


def test_education_inputs_name_report_headcount_and_completions():
    s = score(facts({"governance-education": education(3)}, headcount=20,
                    headcount_event="hr-7", learners_completed=2,
                    completion_events=("mooc-1", "mooc-2")), "governance-education")
    assert s.inputs == (REPORT_EVENT, "hr-7", "mooc-1", "mooc-2")


# ------------------------------------------------------------------ experts

TRIM_FROM_3 = {"combination": "trimmed_mean", "trim_when_at_least": 3}


@pytest.mark.parametrize("scores, combined", [
    (("10", "13"), "11.50"),             # 2 scores: plain mean
    (("5", "12", "14"), "12.00"),        # 3: 5 and 14 dropped (mean would be 10.33)
    (("2", "10", "11", "15"), "10.50"),  # 4: 2 and 15 dropped → (10 + 11) / 2
    (("10", "10", "10"), "10.00"),       # one of the equal highest/lowest dropped
    (("10.005",), "10.01"),              # half up to 2 places
])
def test_combine_expert_scores_trimmed_mean(scores, combined):
    assert combine_expert_scores([D(s) for s in scores], TRIM_FROM_3) == D(combined)


def test_combine_expert_scores_plain_mean_rule_never_trims():
    rule = {"combination": "mean", "trim_when_at_least": 3}
    assert combine_expert_scores([D(5), D(12), D(14)], rule) == D("10.33")  # 31 / 3


def test_combine_expert_scores_refuses_no_scores():
    with pytest.raises(ValueError):
        combine_expert_scores([], TRIM_FROM_3)


def test_expert_indicator_scores_the_combined_expert_scores():
    f = facts({"governance-case": {"cases": [{"title": "t"}]}},
              expert_scores={"governance-case": (D(2), D(10), D(11), D(15))},
              expert_score_events={"governance-case": ("ex-1", "ex-2", "ex-3", "ex-4")})
    s = score(f, "governance-case")
    assert s.source == "expert"
    assert s.points == D("10.50")
    assert s.inputs == (REPORT_EVENT, "ex-1", "ex-2", "ex-3", "ex-4")


def test_expert_indicator_waits_for_expert_scores():
    s = score(facts({"governance-leadership": {"activities": [{"title": "t"}]}}),
              "governance-leadership")
    assert s.source == "pending"
    assert s.points == D("0.00")
    assert "awaiting expert scores" in s.explanation


def test_expert_score_is_capped_at_max_points():
    f = facts({"governance-case": {"cases": [{"title": "t"}]}},
              expert_scores={"governance-case": (D(16), D(17))})
    assert score(f, "governance-case").points == D("15.00")  # mean 16.5 > 15


def test_expert_scores_for_an_indicator_not_submitted_leave_the_base_score():
    f = facts({}, expert_scores={"governance-case": (D(14), D(15))})
    s = score(f, "governance-case")
    assert s.source == "base" and s.points == D("4.50")


# ------------------------------------------------------------------ whole institution

def full_facts(**more) -> InstitutionFacts:
    return facts({"committee-openness": THREE_COMMITTEES,
                  "committee-meetings": meetings(9, over=3),
                  "governance-process": processes(2),
                  "governance-education": education(3),
                  "governance-case": {"cases": [{"title": "t"}]},
                  "governance-leadership": {"activities": [{"title": "t"}]}},
                 headcount=20, headcount_event="hr-1", learners_completed=6,
                 expert_scores={"governance-case": (D(12), D(13), D(14)),
                                "governance-leadership": (D(9), D(10))},
                 **more)


def test_a_full_report_scores_each_rule():
    scores = score_institution(RULEBOOK, full_facts())
    # 20 (share 0.5) + 17 (3 per committee) + 13.33 (2 of 3 runs)
    # + 10 (6 of 20 = 30% online, 3 of 20 = 15% offline) + 13 + 9.5
    assert [s.points for s in scores] == [D("20.00"), D("17.00"), D("13.33"), D("10.00"),
                                          D("13.00"), D("9.50")]
    assert [s.source for s in scores] == ["measured"] * 4 + ["expert"] * 2


def test_measured_scores_name_the_report_event():
    for s in score_institution(RULEBOOK, full_facts()):
        assert REPORT_EVENT in s.inputs


def test_same_inputs_give_identical_scores():
    assert score_institution(RULEBOOK, full_facts()) == score_institution(RULEBOOK,
                                                                         full_facts())


def test_measures_are_json_friendly():
    for s in score_institution(RULEBOOK, full_facts()):
        json.dumps(s.measure)


def test_unknown_scoring_method_is_refused():
    rulebook = copy.deepcopy(RULEBOOK)
    rulebook["scoring"]["methods"]["governance-process"] = "guesswork"
    with pytest.raises(ValueError, match="guesswork"):
        score_institution(rulebook, full_facts())


# ------------------------------------------------------------------ property

MAX_POINTS = {i["id"]: i["max_points"] for i in RULEBOOK["indicators"]}


@st.composite
def committee_lists(draw):
    out = []
    for i in range(draw(st.integers(1, 8))):
        total = draw(st.integers(1, 500))
        out.append({"committee_id": f"c-{i}", "members_total": total,
                    "members_open_call": draw(st.integers(0, total))})
    return {"committees": out}


RESULTS = {
    "committee-openness": committee_lists(),
    "committee-meetings": st.builds(meetings, st.integers(0, 30), st.integers(1, 8)),
    "governance-process": st.builds(processes, st.integers(0, 8)),
    "governance-education": st.lists(st.integers(0, 3000), max_size=5).map(
        lambda a: education(*a)),
    "governance-case": st.just({"cases": [{"title": "t"}]}),
    "governance-leadership": st.just({"activities": [{"title": "t"}]}),
}


@st.composite
def any_facts(draw):
    rep = None
    if draw(st.booleans()):
        results, not_applicable = {}, []
        for indicator_id in IDS:
            status = draw(st.sampled_from(["result", "not_applicable", "missing"]))
            if status == "result":
                results[indicator_id] = draw(RESULTS[indicator_id])
            elif status == "not_applicable":
                not_applicable.append(indicator_id)
        rep = report(results, tuple(not_applicable))
    expert_scores = {
        i: tuple(draw(st.lists(st.decimals(0, MAX_POINTS[i], places=2), max_size=6)))
        for i in ("governance-case", "governance-leadership")}
    return InstitutionFacts(
        institution_id="inst-1",
        kind=draw(st.sampled_from(["bureau", "headquarters", "field_office"])),
        treated_as_field_office=draw(st.booleans()),
        report=rep,
        headcount=draw(st.none() | st.integers(0, 3000)),
        learners_completed=draw(st.integers(0, 3000)),
        expert_scores=expert_scores)


@settings(max_examples=300, deadline=None)
@given(any_facts())
def test_every_score_stays_within_its_points(f):
    scores = score_institution(RULEBOOK, f)
    assert [s.indicator_id for s in scores] == IDS
    for s in scores:
        assert D(0) <= s.points <= s.max_points == MAX_POINTS[s.indicator_id]
        assert s.points.as_tuple().exponent >= -2
        assert s.weight >= 1
        if s.source == "measured":
            assert REPORT_EVENT in s.inputs
    assert sum(s.points for s in scores) <= 100


def test_meetings_on_record_are_evidence_of_the_meetings_score():
    """The committee service's MeetingHeld events stand beside the reported records:
    they are named as inputs and counted in the measure; the points come from the
    report (the rule reads the submitted records)."""
    import dataclasses
    import json as _json
    from pathlib import Path

    from services.scoring.domain.facts import InstitutionFacts, ReportFacts
    from services.scoring.domain.rules import score_institution

    rulebook = _json.loads((Path(__file__).resolve().parents[3] /
                            "services/submission/rulebooks/2021.json").read_text())
    records = [{"committee_id": "c1", "held_on": "2020-05-01", "mode": "online",
                "minutes_ref": "m"}] * 4
    facts = InstitutionFacts(
        institution_id="democracy", kind="bureau",
        report=ReportFacts({"committee-meetings": {"indicator_id": "committee-meetings",
                                                   "meeting_records": records}},
                           frozenset(), ("report-event",)))
    without = {s.indicator_id: s for s in score_institution(rulebook, facts)}
    with_meetings = {s.indicator_id: s for s in score_institution(
        rulebook, dataclasses.replace(facts, meetings_on_record=("mh-1", "mh-2")))}
    before, after = without["committee-meetings"], with_meetings["committee-meetings"]
    assert after.inputs == ("report-event", "mh-1", "mh-2")
    assert (before.measure["meetings_on_record"], after.measure["meetings_on_record"]) == (0, 2)
    assert before.points == after.points
