"""Write-side facts: what other services and systems told scoring, kept beside the
events so a score can be recomputed in the same transaction that learns a new fact.

Also the cross-scorecard indexes (open appeals, pending scores) that sign-off checks.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (JSON, Boolean, Column, Integer, MetaData, String, Table, delete,
                        func, insert, select, update)

from ..domain.facts import InstitutionFacts, ReportFacts
from ..domain.scorecard import Scorecard

write_side = MetaData()
f_cycles = Table("f_cycles", write_side,
                 Column("cycle_id", String(10), primary_key=True),
                 Column("year", Integer, nullable=False),
                 Column("rulebook", JSON, nullable=False))
f_institutions = Table("f_institutions", write_side,
                       Column("institution_id", String(100), primary_key=True),
                       Column("kind", String(20), nullable=False),
                       Column("treated_as_field_office", Boolean, nullable=False))
f_reports = Table("f_reports", write_side,
                  Column("cycle_id", String(10), primary_key=True),
                  Column("institution_id", String(100), primary_key=True),
                  Column("results", JSON, nullable=False),
                  Column("not_applicable", JSON, nullable=False),
                  Column("event_ids", JSON, nullable=False))
f_headcount = Table("f_headcount", write_side,
                    Column("institution_id", String(100), primary_key=True),
                    Column("headcount", Integer, nullable=False),
                    Column("event_id", String(36), nullable=False))
f_learners = Table("f_learners", write_side,
                   Column("institution_id", String(100), primary_key=True),
                   Column("learner_ref", String(100), primary_key=True),
                   Column("course_id", String(100), primary_key=True),
                   Column("event_id", String(36), nullable=False))
f_meetings = Table("f_meetings", write_side,
                   Column("meeting_id", String(100), primary_key=True),
                   Column("institution_id", String(100), nullable=False),
                   Column("committee_id", String(100), nullable=False),
                   Column("held_on", String(10), nullable=False),
                   Column("event_id", String(36), nullable=False))
open_appeals = Table("open_appeals", write_side,
                     Column("cycle_id", String(10), primary_key=True),
                     Column("institution_id", String(100), primary_key=True),
                     Column("appeal_id", String(100), primary_key=True))
pending_scores = Table("pending_scores", write_side,
                       Column("cycle_id", String(10), primary_key=True),
                       Column("institution_id", String(100), primary_key=True),
                       Column("indicator_id", String(100), primary_key=True))


async def upsert(conn, table: Table, keys: dict, values: dict) -> None:
    where = [table.c[k] == v for k, v in keys.items()]
    if (await conn.execute(update(table).where(*where).values(**values))).rowcount == 0:
        await conn.execute(insert(table).values(**keys, **values))


async def cycles(conn) -> list:
    return (await conn.execute(select(f_cycles).order_by(f_cycles.c.cycle_id))).all()


async def institution_ids(conn) -> list[str]:
    return list((await conn.execute(select(f_institutions.c.institution_id).order_by(
        f_institutions.c.institution_id))).scalars())


async def facts_for(conn, cycle_id: str, institution_id: str, rulebook: dict,
                    card: Scorecard, expert_event_ids: dict) -> InstitutionFacts | None:
    inst = (await conn.execute(select(f_institutions).where(
        f_institutions.c.institution_id == institution_id))).first()
    if inst is None:
        return None
    report = (await conn.execute(select(f_reports).where(
        f_reports.c.cycle_id == cycle_id,
        f_reports.c.institution_id == institution_id))).first()
    head = (await conn.execute(select(f_headcount).where(
        f_headcount.c.institution_id == institution_id))).first()
    courses = [c for i in rulebook["indicators"] for c in i.get("online_courses", {})]
    learners = (await conn.execute(select(f_learners.c.learner_ref, f_learners.c.event_id)
                                   .where(f_learners.c.institution_id == institution_id,
                                          f_learners.c.course_id.in_(courses))
                                   .order_by(f_learners.c.event_id))).all()
    experts, expert_events = _expert_inputs(card, expert_event_ids)
    meetings = (await conn.execute(select(f_meetings.c.event_id).where(
        f_meetings.c.institution_id == institution_id).order_by(
        f_meetings.c.held_on, f_meetings.c.meeting_id))).scalars().all()
    return InstitutionFacts(
        institution_id=institution_id, kind=inst.kind,
        treated_as_field_office=inst.treated_as_field_office,
        report=ReportFacts(report.results, frozenset(report.not_applicable),
                           tuple(report.event_ids)) if report else None,
        headcount=head.headcount if head else None,
        headcount_event=head.event_id if head else None,
        learners_completed=len({r.learner_ref for r in learners}),
        completion_events=tuple(r.event_id for r in learners),
        expert_scores=experts, expert_score_events=expert_events,
        meetings_on_record=tuple(meetings))


def _expert_inputs(card: Scorecard, event_ids: dict) -> tuple[dict, dict]:
    """Scores of unconflicted experts, in expert order (deterministic), with the ids
    of the events that gave them (`event_ids`: indicator -> expert -> event id)."""
    scores, events = {}, {}
    for indicator, by_expert in card.state.expert_scores.items():
        kept = sorted(e for e in by_expert if e not in card.state.conflicted)
        scores[indicator] = tuple(Decimal(by_expert[e]) for e in kept)
        events[indicator] = tuple(event_ids.get(indicator, {}).get(e, "") for e in kept)
    return scores, events


async def sync_indexes(conn, cycle_id: str, institution_id: str, card: Scorecard) -> None:
    """Keep the cross-scorecard indexes that sign-off reads in step with this card."""
    for table, ids, column in ((open_appeals, card.open_appeals(), "appeal_id"),
                               (pending_scores, card.pending(), "indicator_id")):
        await conn.execute(delete(table).where(table.c.cycle_id == cycle_id,
                                               table.c.institution_id == institution_id))
        if ids:
            await conn.execute(insert(table), [{"cycle_id": cycle_id,
                                                "institution_id": institution_id,
                                                column: i} for i in ids])


async def count(conn, table: Table, cycle_id: str) -> int:
    return await conn.scalar(select(func.count()).select_from(table).where(
        table.c.cycle_id == cycle_id)) or 0
