"""Policies (채점 반응): what scoring does when another service or city system tells
it a fact. One shape, `policy(event, uow)`, like a command handler: keep the fact,
record what follows from it, rescore what it moves, all in the unit of work the
consumer opened with its inbox row (a redelivered fact changes nothing).

`event` is the consumer's decoded contract (adapters/*_contract.py): read by its
fields only. The unit of work's `causation_id` is the id of the event reacted to,
which the facts keep so every score can name its inputs.
"""
from __future__ import annotations

from shared.application import Reaction

from ..domain.cycle import ScoringCycle, scoring_stream
from ..domain.evidence import Evidence, headcount_stream, learning_stream
from ..domain.scorecard import Scorecard, scorecard_stream
from .scoring import Facts, rescore, rescore_cycle, rescore_institution


def _cause(uow) -> str:
    return uow.causation_id or ""


def policies(facts: Facts) -> dict[str, Reaction]:
    """The policy table: event type → policy, bound to the facts port."""

    # -- submission ---------------------------------------------------------------------
    async def cycle_opened(e, uow) -> None:
        await facts.set_cycle(uow, e.cycle_id, e.year, e.rulebook)
        cycle = await uow.get(ScoringCycle, scoring_stream(e.cycle_id))
        uow.record(cycle, cycle.open(e.year, e.rulebook, _cause(uow)))
        await rescore_cycle(facts, uow, e.cycle_id)

    async def rulebook_revised(e, uow) -> None:
        await facts.set_rulebook(uow, e.cycle_id, e.rulebook)
        cycle = await uow.get(ScoringCycle, scoring_stream(e.cycle_id))
        uow.record(cycle, cycle.apply_rulebook(e.rulebook, _cause(uow)))
        await rescore_cycle(facts, uow, e.cycle_id)

    async def institution_registered(e, uow) -> None:
        await facts.register_institution(uow, e.institution_id, e.kind)
        await rescore_institution(facts, uow, e.institution_id)

    async def field_office_treatment_set(e, uow) -> None:
        await facts.treat_as_field_office(uow, e.institution_id, e.treated_as_field_office)
        await rescore_institution(facts, uow, e.institution_id)

    async def report_submitted(e, uow) -> None:  # and amended: the new version replaces it
        await facts.set_report(uow, e.cycle_id, e.institution_id,
                               {r["indicator_id"]: r for r in e.results}, _cause(uow))
        await rescore(facts, uow, e.cycle_id, e.institution_id)

    async def indicator_marked_not_applicable(e, uow) -> None:
        await facts.mark_not_applicable(uow, e.cycle_id, e.institution_id, e.indicator_id,
                                        _cause(uow))
        await rescore(facts, uow, e.cycle_id, e.institution_id)

    async def report_withdrawn(e, uow) -> None:
        await facts.withdraw_report(uow, e.cycle_id, e.institution_id)
        await rescore(facts, uow, e.cycle_id, e.institution_id)

    # -- committee: a meeting held is evidence of its institution's meetings-held score
    async def meeting_held(e, uow) -> None:
        await facts.set_meeting(uow, e.meeting_id, e.institution_id, e.committee_id,
                                e.starts_at.date().isoformat(), _cause(uow))
        await rescore_institution(facts, uow, e.institution_id)

    # -- city systems: recorded as events first, so a score can name them -----------
    async def headcount_reported(msg, uow) -> None:
        p = msg.payload
        log = await uow.get(Evidence, headcount_stream(p.institution_id))
        uow.record(log, log.record_headcount(p.institution_id, p.headcount, p.as_of,
                                             msg.event_id, msg.source))
        [recorded] = [e for e in await uow.flush() if e.stream_id == log.stream_id]
        await facts.set_headcount(uow, p.institution_id, p.headcount, recorded.event_id)
        await rescore_institution(facts, uow, p.institution_id)

    async def course_completed(msg, uow) -> None:
        p = msg.payload
        log = await uow.get(Evidence, learning_stream(p.institution_id))
        uow.record(log, log.record_completion(p.institution_id, p.course_id, p.learner_ref,
                                              p.completed_on, msg.event_id, msg.source))
        [recorded] = [e for e in await uow.flush() if e.stream_id == log.stream_id]
        await facts.add_completion(uow, p.institution_id, p.learner_ref, p.course_id,
                                   recorded.event_id)
        await rescore_institution(facts, uow, p.institution_id)

    return {
        "submission.CycleOpened": cycle_opened,
        "submission.RulebookRevised": rulebook_revised,
        "submission.InstitutionRegistered": institution_registered,
        "submission.FieldOfficeTreatmentSet": field_office_treatment_set,
        "submission.ReportSubmitted": report_submitted,
        "submission.ReportAmended": report_submitted,
        "submission.IndicatorMarkedNotApplicable": indicator_marked_not_applicable,
        "submission.ReportWithdrawn": report_withdrawn,
        "committee.MeetingHeld": meeting_held,
        "hr.HeadcountReported": headcount_reported,
        "education.CourseCompleted": course_completed,
    }


def preparation(facts: Facts):
    """Load what a batch of facts' policies will read, in one query per kind: the
    evidence logs of its institutions, the cycles, and those institutions' scorecards
    in every cycle (`Application.prepare`)."""
    async def prepare(events, uow) -> None:
        told = [e.payload if hasattr(e, "payload") else e for e in events if e is not None]
        institutions = sorted({i for t in told
                               if (i := getattr(t, "institution_id", None))})
        kinds = {getattr(e, "event_type", "") for e in events if e is not None}
        logs = [*([headcount_stream(i) for i in institutions]
                  if "hr.HeadcountReported" in kinds else []),
                *([learning_stream(i) for i in institutions]
                  if "education.CourseCompleted" in kinds else [])]
        await uow.preload(Evidence, logs)
        cycles = await facts.cycle_ids(uow)
        await uow.preload(ScoringCycle, [scoring_stream(c) for c in cycles])
        await uow.preload(Scorecard, [scorecard_stream(c, i) for c in cycles
                                      for i in institutions])
    return prepare
