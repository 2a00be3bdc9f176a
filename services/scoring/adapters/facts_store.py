"""Write-side facts: what other services and systems told scoring, kept beside the
events so a score can be recomputed in the same transaction that learns a new fact;
and the cross-scorecard indexes (open appeals, pending scores) that sign-off checks.
The SQL side of the application's `Facts` port (app/scoring.py)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (JSON, Boolean, Column, Integer, MetaData, String, Table, delete,
                        func, insert, select, text, update)

from shared.read_rows import upsert_rows

from ..domain.facts import InstitutionFacts, ReportFacts

CYCLE_IDS = ("scoring", "cycle_ids")  # read once per unit of work (a batch of facts)

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


async def put(conn, table: Table, row: dict) -> None:
    """Insert a whole row, or replace the one with its primary key: one statement."""
    await upsert_rows(conn, table, [row])


async def institution_ids(conn) -> list[str]:
    return list((await conn.execute(select(f_institutions.c.institution_id).order_by(
        f_institutions.c.institution_id))).scalars())


async def count(conn, table: Table, cycle_id: str) -> int:
    return await conn.scalar(select(func.count()).select_from(table).where(
        table.c.cycle_id == cycle_id)) or 0


def _report_key(cycle_id: str, institution_id: str) -> list:
    return [f_reports.c.cycle_id == cycle_id, f_reports.c.institution_id == institution_id]


class SqlFacts:
    """The facts port over the tables above, in the unit of work's transaction."""

    async def set_cycle(self, uow, cycle_id: str, year: int, rulebook: dict) -> None:
        await put(uow.conn, f_cycles, {"cycle_id": cycle_id, "year": year,
                                       "rulebook": rulebook})
        uow.memo.pop(CYCLE_IDS, None)

    async def set_rulebook(self, uow, cycle_id: str, rulebook: dict) -> None:
        await upsert(uow.conn, f_cycles, {"cycle_id": cycle_id}, {"rulebook": rulebook})

    async def register_institution(self, uow, institution_id: str, kind: str) -> None:
        await upsert(uow.conn, f_institutions, {"institution_id": institution_id},
                     {"kind": kind, "treated_as_field_office": False})

    async def treat_as_field_office(self, uow, institution_id: str, treated: bool) -> None:
        await upsert(uow.conn, f_institutions, {"institution_id": institution_id},
                     {"treated_as_field_office": treated})

    async def set_report(self, uow, cycle_id: str, institution_id: str, results: dict,
                         event_id: str) -> None:
        await upsert(uow.conn, f_reports, {"cycle_id": cycle_id,
                                           "institution_id": institution_id},
                     {"results": results, "not_applicable": [], "event_ids": [event_id]})

    async def mark_not_applicable(self, uow, cycle_id: str, institution_id: str,
                                  indicator_id: str, event_id: str) -> None:
        row = (await uow.conn.execute(select(f_reports).where(
            *_report_key(cycle_id, institution_id)))).first()
        if row is None:  # a mark always follows its report in the same stream
            return
        await uow.conn.execute(update(f_reports).where(
            *_report_key(cycle_id, institution_id)).values(
            not_applicable=sorted({*row.not_applicable, indicator_id}),
            event_ids=[*row.event_ids, event_id]))

    async def withdraw_report(self, uow, cycle_id: str, institution_id: str) -> None:
        await uow.conn.execute(delete(f_reports).where(
            *_report_key(cycle_id, institution_id)))

    async def set_headcount(self, uow, institution_id: str, headcount: int,
                            event_id: str) -> None:
        await put(uow.conn, f_headcount, {"institution_id": institution_id,
                                          "headcount": headcount, "event_id": event_id})

    async def add_completion(self, uow, institution_id: str, learner_ref: str,
                             course_id: str, event_id: str) -> None:
        exists = (await uow.conn.execute(select(f_learners).where(
            f_learners.c.institution_id == institution_id,
            f_learners.c.learner_ref == learner_ref,
            f_learners.c.course_id == course_id))).first()
        if not exists:
            await uow.conn.execute(insert(f_learners).values(
                institution_id=institution_id, learner_ref=learner_ref,
                course_id=course_id, event_id=event_id))

    async def set_meeting(self, uow, meeting_id: str, institution_id: str,
                          committee_id: str, held_on: str, event_id: str) -> None:
        await put(uow.conn, f_meetings, {
            "meeting_id": meeting_id, "institution_id": institution_id,
            "committee_id": committee_id, "held_on": held_on, "event_id": event_id})

    async def cycle_ids(self, uow) -> list[str]:
        if CYCLE_IDS not in uow.memo:
            uow.memo[CYCLE_IDS] = list((await uow.conn.execute(select(
                f_cycles.c.cycle_id).order_by(f_cycles.c.cycle_id))).scalars())
        return list(uow.memo[CYCLE_IDS])

    async def institution_ids(self, uow) -> list[str]:
        return await institution_ids(uow.conn)

    async def known(self, uow, cycle_id: str, institution_id: str,
                    courses: Sequence[str]) -> InstitutionFacts | None:
        conn = uow.conn
        inst = (await conn.execute(select(f_institutions).where(
            f_institutions.c.institution_id == institution_id))).first()
        if inst is None:
            return None
        report = (await conn.execute(select(f_reports).where(
            *_report_key(cycle_id, institution_id)))).first()
        head = (await conn.execute(select(f_headcount).where(
            f_headcount.c.institution_id == institution_id))).first()
        learners = (await conn.execute(select(f_learners.c.learner_ref, f_learners.c.event_id)
                                       .where(f_learners.c.institution_id == institution_id,
                                              f_learners.c.course_id.in_(list(courses)))
                                       .order_by(f_learners.c.event_id))).all()
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
            meetings_on_record=tuple(meetings))

    async def lock_cycle(self, uow, year: int | str, exclusive: bool = False) -> None:
        # They touch no common stream, so on PostgreSQL they queue on this lock until
        # the commit; SQLite's BEGIN IMMEDIATE already queues every writer.
        if uow.conn.dialect.name == "postgresql":
            how = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            await uow.conn.execute(text(f"SELECT {how}(hashtext(:key))"),
                                   {"key": f"scoring-cycle:{year}"})

    async def sync_indexes(self, uow, cycle_id: str, institution_id: str,
                           open_appeal_ids: Sequence[str], pending: Sequence[str]) -> None:
        for table, ids, column in ((open_appeals, open_appeal_ids, "appeal_id"),
                                   (pending_scores, pending, "indicator_id")):
            await uow.conn.execute(delete(table).where(
                table.c.cycle_id == cycle_id, table.c.institution_id == institution_id))
            if ids:
                await uow.conn.execute(insert(table), [{"cycle_id": cycle_id,
                                                        "institution_id": institution_id,
                                                        column: i} for i in ids])

    async def open_appeals(self, uow, cycle_id: str) -> int:
        return await count(uow.conn, open_appeals, cycle_id)

    async def pending_scores(self, uow, cycle_id: str) -> int:
        return await count(uow.conn, pending_scores, cycle_id)
