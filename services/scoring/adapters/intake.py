"""Intake: submission events and external facts become scoring facts, then rescoring.

Each runs in the consumer's transaction with its inbox row: a redelivered message
changes nothing, and a score is recomputed in the same commit that learned the fact.
"""
from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy import delete, insert, select

from shared.consumer import Decoded, EventMessage
from shared.deadletter import Delivery
from shared.envelope import Actor
from shared.store import Metadata

from ..app import facts_store as facts
from ..app.scoring import SYSTEM, ScoringApp
from ..domain.cycle import ScoringCycle, scoring_stream
from ..domain.events import CourseCompletionRecorded, HeadcountRecorded
from . import submission_contract as sub
from .ingress_contract import CourseCompleted, ExternalMessage, HeadcountReported

EXTERNAL = TypeAdapter(ExternalMessage)


def on_submission_event(app: ScoringApp):
    async def apply(conn, msg: EventMessage) -> None:
        e, env = msg.event, msg.envelope
        if e is None:
            return  # a submission event scoring does not use
        meta = Metadata(actor=SYSTEM, correlation_id=env.correlation_id,
                        causation_id=env.event_id)
        match e:
            case sub.CycleOpened():
                await facts.upsert(conn, facts.f_cycles, {"cycle_id": e.cycle_id},
                                   {"year": e.year, "rulebook": e.rulebook})
                cycle, _ = await app.load(conn, ScoringCycle, scoring_stream(e.cycle_id))
                await app.append(conn, cycle, cycle.open(e.year, e.rulebook, env.event_id), meta)
                for institution_id in await facts.institution_ids(conn):
                    await app.rescore(conn, e.cycle_id, institution_id, meta)
            case sub.RulebookRevised():
                await facts.upsert(conn, facts.f_cycles, {"cycle_id": e.cycle_id},
                                   {"rulebook": e.rulebook})
                cycle, _ = await app.load(conn, ScoringCycle, scoring_stream(e.cycle_id))
                await app.append(conn, cycle, cycle.apply_rulebook(e.rulebook, env.event_id),
                                 meta)
                for institution_id in await facts.institution_ids(conn):
                    await app.rescore(conn, e.cycle_id, institution_id, meta)
            case sub.InstitutionRegistered() | sub.FieldOfficeTreatmentSet():
                await _institution(conn, e)
                await app.rescore_everywhere(conn, e.institution_id, meta)
            case sub.ReportSubmitted():  # and ReportAmended: a new version replaces it
                await facts.upsert(conn, facts.f_reports, _report_key(e), {
                    "results": {r["indicator_id"]: r for r in e.results},
                    "not_applicable": [], "event_ids": [env.event_id]})
                await app.rescore(conn, e.cycle_id, e.institution_id, meta)
            case sub.IndicatorMarkedNotApplicable():
                await _mark(conn, e, env.event_id)
                await app.rescore(conn, e.cycle_id, e.institution_id, meta)
            case sub.ReportWithdrawn():
                key = _report_key(e)
                await conn.execute(delete(facts.f_reports).where(
                    *[facts.f_reports.c[k] == v for k, v in key.items()]))
                await app.rescore(conn, e.cycle_id, e.institution_id, meta)
    return apply


async def _institution(conn, e) -> None:
    if isinstance(e, sub.InstitutionRegistered):
        await facts.upsert(conn, facts.f_institutions, {"institution_id": e.institution_id},
                           {"kind": e.kind, "treated_as_field_office": False})
    else:
        await facts.upsert(conn, facts.f_institutions, {"institution_id": e.institution_id},
                           {"treated_as_field_office": e.treated_as_field_office})


def _report_key(e) -> dict:
    return {"cycle_id": e.cycle_id, "institution_id": e.institution_id}


async def _mark(conn, e, event_id: str) -> None:
    key = _report_key(e)
    row = (await conn.execute(select(facts.f_reports).where(
        *[facts.f_reports.c[k] == v for k, v in key.items()]))).first()
    if row is None:  # a mark always follows its report in the same stream
        return
    await facts.upsert(conn, facts.f_reports, key, {
        "not_applicable": sorted({*row.not_applicable, e.indicator_id}),
        "event_ids": [*row.event_ids, event_id]})


def decode_external(delivery: Delivery) -> Decoded:
    if delivery.value is None:
        raise ValueError("empty record: an external event needs a JSON body")
    message = EXTERNAL.validate_json(delivery.value)
    return Decoded(f"ext:{message.source}:{message.event_id}", message)


def on_external_event(app: ScoringApp):
    async def apply(conn, msg) -> None:
        meta = Metadata(actor=_system_actor(msg.source), correlation_id=msg.event_id,
                        causation_id=msg.event_id)
        p = msg.payload
        if isinstance(msg, HeadcountReported):
            event = HeadcountRecorded(institution_id=p.institution_id, headcount=p.headcount,
                                      as_of=p.as_of, external_event_id=msg.event_id,
                                      source_system=msg.source)
            stream = f"headcount-{p.institution_id}"
        else:
            event = CourseCompletionRecorded(
                institution_id=p.institution_id, course_id=p.course_id,
                learner_ref=p.learner_ref, completed_on=p.completed_on,
                external_event_id=msg.event_id, source_system=msg.source)
            stream = f"learning-{p.institution_id}"
        version = await app.store.stream_version(conn, stream)
        [recorded] = await app.store.append(conn, stream, version, [event], meta)
        await _remember(conn, msg, recorded.event_id)
        await app.rescore_everywhere(conn, p.institution_id, meta)
    return apply


async def _remember(conn, msg, event_id: str) -> None:
    p = msg.payload
    if isinstance(msg, HeadcountReported):
        await facts.upsert(conn, facts.f_headcount, {"institution_id": p.institution_id},
                           {"headcount": p.headcount, "event_id": event_id})
    elif isinstance(msg, CourseCompleted):
        exists = (await conn.execute(select(facts.f_learners).where(
            facts.f_learners.c.institution_id == p.institution_id,
            facts.f_learners.c.learner_ref == p.learner_ref,
            facts.f_learners.c.course_id == p.course_id))).first()
        if not exists:
            await conn.execute(insert(facts.f_learners).values(
                institution_id=p.institution_id, learner_ref=p.learner_ref,
                course_id=p.course_id, event_id=event_id))


def _system_actor(source: str) -> Actor:
    return Actor(id=source, role="city_system", kind="system")


def on_committee_event(app: ScoringApp):
    """A meeting held becomes evidence of its institution's meetings-held score."""
    async def apply(conn, msg: EventMessage) -> None:
        e, env = msg.event, msg.envelope
        if e is None:
            return  # a committee event scoring does not use
        await facts.upsert(conn, facts.f_meetings, {"meeting_id": e.meeting_id}, {
            "institution_id": e.institution_id, "committee_id": e.committee_id,
            "held_on": e.starts_at.date().isoformat(), "event_id": env.event_id})
        meta = Metadata(actor=SYSTEM, correlation_id=env.correlation_id,
                        causation_id=env.event_id)
        await app.rescore_everywhere(conn, e.institution_id, meta)
    return apply
