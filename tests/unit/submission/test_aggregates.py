"""Cycle, Institution and Report aggregates: decisions from folded events, clock passed in."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.submission.domain.content import IndicatorResult
from services.submission.domain.cycle import Cycle, cycle_stream
from services.submission.domain.errors import (DeadlinePassed, DuplicateSubmission,
                                               InvalidState, RuleBroken, WrongYear)
from services.submission.domain.events import (CycleClosed, CycleOpened, DeadlineSet,
                                               FieldOfficeTreatmentSet,
                                               IndicatorMarkedNotApplicable,
                                               InstitutionRegistered, ReportAmended,
                                               ReportReopened, ReportSubmitted,
                                               ReportWithdrawn, registry)
from services.submission.domain.institution import Institution, institution_stream
from services.submission.domain.report import Report, report_stream
from services.submission.domain.rulebook import load_rulebook

from .builders import (AFTER, BEFORE, DEADLINE, RULEBOOK, meetings, na, open_cycle,
                       result)

INST = "seoul-culture-bureau"
STREAM = report_stream(2021, INST)


# --------------------------------------------------------------------------- Cycle

class TestCycle:
    def test_unopened_cycle_does_not_exist_and_takes_no_reports(self):
        cycle = Cycle(cycle_stream(2021))
        assert not cycle.exists
        assert not cycle.accepts_reports(BEFORE)

    def test_open_decides_one_cycle_opened_event(self):
        events = Cycle(cycle_stream(2021)).open(2021, RULEBOOK, DEADLINE)
        assert len(events) == 1
        opened = events[0]
        assert isinstance(opened, CycleOpened)
        assert (opened.cycle_id, opened.year, opened.deadline) == ("2021", 2021, DEADLINE)
        assert opened.rulebook.ref == "governance-capability/2021/v1"

    def test_opened_cycle_exists_with_its_rulebook(self):
        cycle = Cycle(cycle_stream(2021), Cycle(cycle_stream(2021)).open(2021, RULEBOOK,
                                                                         DEADLINE))
        assert cycle.exists and cycle.version == 1
        assert cycle.state.year == 2021
        assert cycle.state.rulebook == RULEBOOK
        assert not cycle.state.closed

    def test_accepts_reports_until_the_deadline_inclusive(self):
        cycle = open_cycle()
        assert cycle.accepts_reports(BEFORE)
        assert cycle.accepts_reports(DEADLINE)
        assert not cycle.accepts_reports(DEADLINE + timedelta(seconds=1))
        assert not cycle.accepts_reports(AFTER)

    def test_open_twice_is_refused(self):
        with pytest.raises(InvalidState, match="cycle 2021 is already open"):
            open_cycle().open(2021, RULEBOOK, DEADLINE)

    def test_rulebook_of_another_year_is_refused(self):
        with pytest.raises(WrongYear, match="is for 2021, not 2022"):
            Cycle(cycle_stream(2022)).open(2022, RULEBOOK, DEADLINE)

    def test_set_deadline_moves_the_window(self):
        later = AFTER + timedelta(days=1)
        cycle = open_cycle()
        decided = cycle.set_deadline(later, "extension for all")
        assert decided == [DeadlineSet(cycle_id="2021", deadline=later,
                                       reason="extension for all")]
        moved = open_cycle(DEADLINE, *decided)
        assert moved.state.deadline == later
        assert moved.accepts_reports(AFTER)

    def test_close_stops_reports_even_before_the_deadline(self):
        decided = open_cycle().close("evaluation started")
        assert decided == [CycleClosed(cycle_id="2021", reason="evaluation started")]
        closed = open_cycle(DEADLINE, *decided)
        assert closed.state.closed
        assert not closed.accepts_reports(BEFORE)

    def test_set_deadline_or_close_before_open_is_refused(self):
        unopened = Cycle(cycle_stream(2021))
        with pytest.raises(InvalidState, match="not been opened"):
            unopened.set_deadline(DEADLINE, "r")
        with pytest.raises(InvalidState, match="not been opened"):
            unopened.close("r")

    def test_set_deadline_or_close_after_close_is_refused(self):
        closed = open_cycle(DEADLINE, CycleClosed(cycle_id="2021", reason="done"))
        with pytest.raises(InvalidState, match="cycle 2021 is closed"):
            closed.set_deadline(AFTER, "too late")
        with pytest.raises(InvalidState, match="cycle 2021 is closed"):
            closed.close("again")

    def test_decisions_do_not_change_the_aggregate(self):
        cycle = open_cycle()
        cycle.set_deadline(AFTER, "r")
        cycle.close("r")
        assert (cycle.version, cycle.state.deadline, cycle.state.closed) == (1, DEADLINE, False)


# --------------------------------------------------------------------------- Institution

def treated_events():
    return [FieldOfficeTreatmentSet(institution_id=INST, treated_as_field_office=True,
                                    reason="r")]


def institution(kind: str = "bureau", *more) -> Institution:
    return Institution(institution_stream(INST), [
        InstitutionRegistered(institution_id=INST, name_ko="문화본부", kind=kind), *more])


class TestInstitution:
    def test_register_decides_one_event_and_folds_into_state(self):
        decided = Institution(institution_stream(INST)).register(INST, "문화본부", "bureau")
        assert decided == [InstitutionRegistered(institution_id=INST, name_ko="문화본부",
                                                 kind="bureau")]
        folded = Institution(institution_stream(INST), decided)
        assert folded.exists
        assert (folded.state.name_ko, folded.state.kind) == ("문화본부", "bureau")
        assert folded.state.treated_as_field_office is False

    def test_register_twice_is_refused(self):
        with pytest.raises(InvalidState, match=f"{INST} is already registered"):
            institution().register(INST, "다른 이름", "headquarters")

    def test_bureau_can_be_treated_as_field_office(self):
        decided = institution().set_field_office_treatment(INST, True, "single division")
        assert decided == [FieldOfficeTreatmentSet(institution_id=INST,
                                                   treated_as_field_office=True,
                                                   reason="single division")]
        assert institution("bureau", *decided).state.treated_as_field_office is True

    @pytest.mark.parametrize("kind", ["headquarters", "field_office"])
    def test_only_a_bureau_can_be_treated_as_field_office(self, kind):
        with pytest.raises(InvalidState, match=f"only a bureau.*is a {kind}"):
            institution(kind).set_field_office_treatment(INST, True, "r")

    def test_setting_the_current_value_again_is_refused(self):
        with pytest.raises(InvalidState, match="already not treated as a field office"):
            institution().set_field_office_treatment(INST, False, "r")
        treated = institution("bureau", *treated_events())
        with pytest.raises(InvalidState, match="already treated as a field office"):
            treated.set_field_office_treatment(INST, True, "r")

    def test_treatment_can_be_withdrawn(self):
        treated = institution("bureau", *treated_events())
        decided = treated.set_field_office_treatment(INST, False, "now two divisions")
        folded = institution("bureau", *treated_events(), *decided)
        assert folded.state.treated_as_field_office is False


# --------------------------------------------------------------------------- Report

def report(*events) -> Report:
    return Report(STREAM, events)


def submit(rep: Report, cycle=None, sid="sub-1", results=None, not_applicable=None,
           now=BEFORE) -> list:
    return rep.submit(cycle or open_cycle(), INST, sid,
                      results if results is not None else [result("committee-openness")],
                      not_applicable if not_applicable is not None else [], now)


def withdrawn_events():
    return [*submit(report()), ReportWithdrawn(cycle_id="2021", institution_id=INST,
                                               reason="wrong file")]


class TestSubmit:
    def test_submit_before_deadline_decides_report_then_marks_in_order(self):
        results = [result("committee-openness"), result("committee-meetings")]
        marks = [na("governance-leadership", "no head appointed"), na("governance-case")]
        decided = submit(report(), results=results, not_applicable=marks)
        assert [type(e) for e in decided] == [ReportSubmitted, IndicatorMarkedNotApplicable,
                                              IndicatorMarkedNotApplicable]
        head = decided[0]
        assert head.late is False
        assert head.rulebook_ref == "governance-capability/2021/v1"
        assert (head.cycle_id, head.institution_id, head.submission_id) == ("2021", INST,
                                                                            "sub-1")
        assert head.results == results
        assert [(m.indicator_id, m.reason) for m in decided[1:]] == [
            ("governance-leadership", "no head appointed"),
            ("governance-case", "no such activity this year")]
        assert all((m.cycle_id, m.institution_id) == ("2021", INST) for m in decided[1:])

    def test_submitted_state(self):
        folded = report(*submit(report(), not_applicable=[na("governance-case")]))
        assert folded.is_in
        assert folded.state.status == "submitted"
        assert folded.state.reported == ("committee-openness",)
        assert folded.state.not_applicable == ("governance-case",)
        assert folded.state.submission_ids == frozenset({"sub-1"})

    def test_submit_twice_is_refused_pointing_to_amend(self):
        submitted = report(*submit(report()))
        with pytest.raises(InvalidState, match="amend it instead"):
            submit(submitted, sid="sub-2")

    def test_same_submission_id_after_withdrawal_is_a_duplicate(self):
        withdrawn = report(*withdrawn_events())
        with pytest.raises(DuplicateSubmission, match="'sub-1' was already used"):
            submit(withdrawn, sid="sub-1")

    def test_new_submission_id_after_withdrawal_is_accepted(self):
        withdrawn = report(*withdrawn_events())
        decided = submit(withdrawn, sid="sub-2")
        assert decided[0].submission_id == "sub-2"
        assert report(*withdrawn_events(), *decided).state.status == "submitted"

    def test_invalid_content_is_refused_by_the_rulebook(self):
        too_many = IndicatorResult(indicator_id="committee-meetings",
                                   meeting_records=meetings(21))
        with pytest.raises(RuleBroken, match="at most 20"):
            submit(report(), results=[too_many])

    def test_submit_after_deadline_is_refused_naming_deadline_and_reopen(self):
        with pytest.raises(DeadlinePassed) as refused:
            submit(report(), now=AFTER)
        message = str(refused.value)
        assert DEADLINE.isoformat() in message
        assert "reopen" in message
        assert INST in message

    def test_submit_to_a_closed_cycle_is_refused(self):
        closed = open_cycle(DEADLINE, CycleClosed(cycle_id="2021", reason="done"))
        with pytest.raises(DeadlinePassed, match="cycle 2021 is closed"):
            submit(report(), cycle=closed, now=BEFORE)

    def test_submit_at_the_deadline_is_on_time(self):
        assert submit(report(), now=DEADLINE)[0].late is False


UNTIL = AFTER + timedelta(days=2)


def reopened(*before) -> Report:
    return report(*before, ReportReopened(cycle_id="2021", institution_id=INST, until=UNTIL,
                                          reason="system outage"))


class TestReopen:
    def test_reopen_decides_one_event(self):
        decided = report().reopen(open_cycle(), INST, UNTIL, "system outage", now=AFTER)
        assert decided == [ReportReopened(cycle_id="2021", institution_id=INST, until=UNTIL,
                                          reason="system outage")]
        assert report(*decided).state.reopened_until == UNTIL

    def test_late_submit_after_reopening_is_accepted_and_marked_late(self):
        decided = submit(reopened(), now=AFTER)
        assert decided[0].late is True

    def test_late_amend_after_reopening_is_accepted_and_marked_late(self):
        on_time = submit(report())
        rep = reopened(*on_time)
        decided = rep.amend(open_cycle(), INST, "sub-2", [result("governance-case")], [],
                            "forgot the case", now=AFTER)
        assert isinstance(decided[0], ReportAmended)
        assert decided[0].late is True

    def test_reopening_also_lets_a_closed_cycle_take_a_late_report(self):
        closed = open_cycle(DEADLINE, CycleClosed(cycle_id="2021", reason="done"))
        assert submit(reopened(), cycle=closed, now=AFTER)[0].late is True

    def test_after_the_reopening_ends_submit_and_amend_are_refused_again(self):
        later = UNTIL + timedelta(seconds=1)
        with pytest.raises(DeadlinePassed, match="reopen"):
            submit(reopened(), now=later)
        rep = reopened(*submit(report()))
        with pytest.raises(DeadlinePassed):
            rep.amend(open_cycle(), INST, "sub-2", [result("governance-case")], [], "r",
                      now=later)

    def test_reopening_is_accepted_up_to_until_inclusive(self):
        assert submit(reopened(), now=UNTIL)[0].late is True

    @pytest.mark.parametrize("until", [AFTER - timedelta(seconds=1), AFTER])
    def test_reopen_must_end_in_the_future(self, until):
        with pytest.raises(InvalidState, match="must end in the future"):
            report().reopen(open_cycle(), INST, until, "r", now=AFTER)


class TestAmendAndWithdraw:
    def test_amend_before_submit_is_refused(self):
        with pytest.raises(InvalidState, match="no 2021 report to amend.*not_submitted"):
            report().amend(open_cycle(), INST, "sub-1", [result("governance-case")], [],
                           "r", now=BEFORE)

    def test_amend_with_a_used_submission_id_is_a_duplicate(self):
        rep = report(*submit(report()))
        with pytest.raises(DuplicateSubmission):
            rep.amend(open_cycle(), INST, "sub-1", [result("governance-case")], [], "r",
                      now=BEFORE)

    def test_amend_after_deadline_without_reopening_is_refused(self):
        rep = report(*submit(report()))
        with pytest.raises(DeadlinePassed):
            rep.amend(open_cycle(), INST, "sub-2", [result("governance-case")], [], "r",
                      now=AFTER)

    def test_amended_state_replaces_results_and_not_applicable_marks(self):
        first = submit(report(), results=[result("committee-openness"),
                                          result("committee-meetings")],
                       not_applicable=[na("governance-case"), na("governance-leadership")])
        rep = report(*first)
        assert rep.state.not_applicable == ("governance-case", "governance-leadership")
        decided = rep.amend(open_cycle(), INST, "sub-2",
                            [result("governance-case")],
                            [na("committee-meetings"), na("governance-education")],
                            "case found", now=BEFORE)
        assert [type(e) for e in decided] == [ReportAmended, IndicatorMarkedNotApplicable,
                                              IndicatorMarkedNotApplicable]
        assert decided[0].reason == "case found"
        assert decided[0].late is False
        folded = report(*first, *decided)
        assert folded.state.status == "amended"
        assert folded.is_in
        assert folded.state.reported == ("governance-case",)
        assert folded.state.not_applicable == ("committee-meetings", "governance-education")
        assert folded.state.submission_ids == frozenset({"sub-1", "sub-2"})
        assert folded.version == len(first) + len(decided)

    def test_amend_without_marks_clears_the_old_marks(self):
        first = submit(report(), not_applicable=[na("governance-case")])
        decided = report(*first).amend(open_cycle(), INST, "sub-2",
                                       [result("committee-openness")], [], "r", now=BEFORE)
        assert report(*first, *decided).state.not_applicable == ()

    def test_a_report_can_be_amended_again(self):
        first = submit(report())
        second = report(*first).amend(open_cycle(), INST, "sub-2",
                                      [result("governance-case")], [], "r", now=BEFORE)
        third = report(*first, *second).amend(open_cycle(), INST, "sub-3",
                                              [result("governance-leadership")], [], "r",
                                              now=BEFORE)
        assert report(*first, *second, *third).state.reported == ("governance-leadership",)

    def test_withdraw_forgets_reported_indicators(self):
        first = submit(report(), not_applicable=[na("governance-case")])
        decided = report(*first).withdraw(open_cycle(), INST, "wrong file", now=BEFORE)
        assert decided == [ReportWithdrawn(cycle_id="2021", institution_id=INST,
                                           reason="wrong file")]
        folded = report(*first, *decided)
        assert folded.state.status == "withdrawn"
        assert not folded.is_in
        assert folded.state.reported == ()
        assert folded.state.not_applicable == ()
        assert folded.state.submission_ids == frozenset({"sub-1"})

    def test_withdraw_without_a_report_is_refused(self):
        with pytest.raises(InvalidState, match="no 2021 report to withdraw"):
            report().withdraw(open_cycle(), INST, "r", now=BEFORE)
        with pytest.raises(InvalidState, match="status: withdrawn"):
            report(*withdrawn_events()).withdraw(open_cycle(), INST, "r", now=BEFORE)

    def test_withdraw_after_deadline_is_refused(self):
        with pytest.raises(DeadlinePassed):
            report(*submit(report())).withdraw(open_cycle(), INST, "r", now=AFTER)


def test_events_survive_the_store_round_trip_and_fold_the_same():
    """The handlers rebuild aggregates from stored JSON payloads via the registry."""
    cycle_events = Cycle(cycle_stream(2021)).open(2021, load_rulebook(2021), DEADLINE)
    report_events = [*submit(report(), results=[result(i) for i in RULEBOOK.indicator_ids
                                                if i != "governance-case"],
                             not_applicable=[na("governance-case")]),
                     ReportReopened(cycle_id="2021", institution_id=INST, until=UNTIL,
                                    reason="r")]

    def through_json(events):
        return [registry.decode(e.event_type, e.version, e.model_dump(mode="json"))
                for e in events]

    assert through_json(cycle_events) == cycle_events
    assert through_json(report_events) == report_events
    assert Cycle("c", through_json(cycle_events)).state == Cycle("c", cycle_events).state
    assert report(*through_json(report_events)).state == report(*report_events).state
