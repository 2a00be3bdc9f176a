"""Read model: per cycle and institution, where its report stands (보고서 제출 현황).

Built from the service's own events; lists are stored as JSON and times as ISO text
so SQLite and PostgreSQL give the same rows (and the same checksum).

Streams live on different partitions, read in no fixed order: a report may arrive
before its institution's registration or its cycle's opening. So every row is
created on first need, stored values depend only on their own stream, and what
depends on two streams (missing indicators) is derived when read. Live and rebuilt
copies then agree whatever the interleaving.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.envelope import Envelope
from shared.projection import Projection
from shared.topics import events_topic

from ..domain import events as ev

metadata = MetaData()

institutions = Table(
    "rm_institutions", metadata,
    Column("institution_id", String(100), primary_key=True),
    Column("name_ko", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("treated_as_field_office", Boolean, nullable=False),
    Column("division_count", Integer),
)
cycles = Table(
    "rm_cycles", metadata,
    Column("cycle_id", String(10), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("rulebook_ref", String(100), nullable=False),
    Column("indicator_ids", JSON, nullable=False),
    Column("deadline", String(40), nullable=False),
    Column("closed", Boolean, nullable=False),
)
report_status = Table(
    "rm_report_status", metadata,
    Column("cycle_id", String(10), primary_key=True),
    Column("institution_id", String(100), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("submission_id", String(100)),
    Column("submitted", JSON, nullable=False),
    Column("not_applicable", JSON, nullable=False),
    Column("reopened_until", String(40)),
    Column("last_event_type", String(100)),
    Column("last_changed_at", String(40)),
    Column("last_actor_id", String(200)),
    Column("last_actor_role", String(100)),
)


class ReportStatusProjection(Projection):
    name = "submission-report-status"
    metadata = metadata
    registry = ev.registry

    def __init__(self) -> None:
        self.topics = (events_topic("submission").name,)

    async def apply_all(self, conn, items) -> None:
        """Runs of registrations and report changes (nearly the whole log) worked out
        on the rows in memory, as event-by-event applying would leave them, and
        written in two statements; other events on their own, in order."""
        run: list = []
        for envelope, event in items:
            if isinstance(event, _IN_MEMORY):
                run.append((envelope, event))
                continue
            await _write_run(conn, run)
            await self.apply(conn, envelope, event)
        await _write_run(conn, run)

    async def _InstitutionRegistered(self, conn, env, e: ev.InstitutionRegistered):
        await conn.execute(institutions.insert().values(
            institution_id=e.institution_id, name_ko=e.name_ko, kind=e.kind,
            treated_as_field_office=False, division_count=e.division_count))
        for cycle_id in (await conn.execute(select(cycles.c.cycle_id))).scalars().all():
            await _status(conn, cycle_id, e.institution_id)

    async def _FieldOfficeTreatmentSet(self, conn, env, e: ev.FieldOfficeTreatmentSet):
        await conn.execute(update(institutions).where(
            institutions.c.institution_id == e.institution_id).values(
            treated_as_field_office=e.treated_as_field_office))

    async def _CycleOpened(self, conn, env, e: ev.CycleOpened):
        await conn.execute(cycles.insert().values(
            cycle_id=e.cycle_id, year=e.year, rulebook_ref=e.rulebook.ref,
            indicator_ids=[i.id for i in e.rulebook.indicators],
            deadline=e.deadline.isoformat(), closed=False))
        known = (await conn.execute(select(institutions.c.institution_id))).scalars().all()
        for institution_id in known:
            await _status(conn, e.cycle_id, institution_id)

    async def _DeadlineSet(self, conn, env, e: ev.DeadlineSet):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id)
                           .values(deadline=e.deadline.isoformat()))

    async def _RulebookRevised(self, conn, env, e: ev.RulebookRevised):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id).values(
            rulebook_ref=e.rulebook.ref, indicator_ids=[i.id for i in e.rulebook.indicators]))

    async def _CycleClosed(self, conn, env, e: ev.CycleClosed):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id)
                           .values(closed=True))

    async def _ReportSubmitted(self, conn, env, e):
        status = "late_reopened" if e.late else (
            "submitted" if isinstance(e, ev.ReportSubmitted) else "amended")
        await _change(conn, env, e.cycle_id, e.institution_id, status=status,
                      submission_id=e.submission_id,
                      submitted=sorted(r.indicator_id for r in e.results), not_applicable=[])

    _ReportAmended = _ReportSubmitted

    async def _IndicatorMarkedNotApplicable(self, conn, env, e):
        row = await _status(conn, e.cycle_id, e.institution_id)
        await _change(conn, env, e.cycle_id, e.institution_id,
                      not_applicable=sorted([*row.not_applicable, e.indicator_id]))

    async def _ReportWithdrawn(self, conn, env, e):
        await _change(conn, env, e.cycle_id, e.institution_id, status="withdrawn",
                      submitted=[], not_applicable=[])

    async def _ReportReopened(self, conn, env, e):
        await _change(conn, env, e.cycle_id, e.institution_id,
                      reopened_until=e.until.isoformat())


async def _status(conn, cycle_id: str, institution_id: str):
    """The row of one report, created (not submitted) on first need."""
    where = (report_status.c.cycle_id == cycle_id,
             report_status.c.institution_id == institution_id)
    row = (await conn.execute(select(report_status).where(*where))).first()
    if row is None:
        await conn.execute(report_status.insert().values(
            cycle_id=cycle_id, institution_id=institution_id, status="not_submitted",
            submitted=[], not_applicable=[]))
        row = (await conn.execute(select(report_status).where(*where))).one()
    return row


async def _change(conn, env: Envelope, cycle_id: str, institution_id: str, **values) -> None:
    await _status(conn, cycle_id, institution_id)
    await conn.execute(update(report_status).where(
        report_status.c.cycle_id == cycle_id,
        report_status.c.institution_id == institution_id).values(
        **values, last_event_type=env.event_type,
        last_changed_at=env.recorded_at.isoformat(), last_actor_id=env.actor.id,
        last_actor_role=env.actor.role))


_IN_MEMORY = (ev.InstitutionRegistered, ev.ReportSubmitted, ev.ReportAmended,
              ev.IndicatorMarkedNotApplicable, ev.ReportWithdrawn, ev.ReportReopened)
_STATUS_COLUMNS = [c.name for c in report_status.columns]


async def _write_run(conn, run: list) -> None:
    """What `_InstitutionRegistered`, `_ReportSubmitted`… do, for a run of them."""
    if not run:
        return
    items, run[:] = list(run), []
    institution_ids = sorted({e.institution_id for _, e in items})
    rows: dict[tuple, dict] = {}
    for i in range(0, len(institution_ids), 500):
        found = await conn.execute(select(report_status).where(
            report_status.c.institution_id.in_(institution_ids[i:i + 500])))
        rows.update({(r.cycle_id, r.institution_id): dict(r._mapping) for r in found})
    cycle_ids = (await conn.execute(select(cycles.c.cycle_id))).scalars().all()
    touched: dict[tuple, dict] = {}
    registered = []

    def row(cycle_id: str, institution_id: str) -> dict:  # `_status`, in memory
        key = (cycle_id, institution_id)
        if key not in rows:
            rows[key] = {c: None for c in _STATUS_COLUMNS} | {
                "cycle_id": cycle_id, "institution_id": institution_id,
                "status": "not_submitted", "submitted": [], "not_applicable": []}
        touched[key] = rows[key]
        return rows[key]

    for env, e in items:
        if isinstance(e, ev.InstitutionRegistered):
            registered.append(dict(institution_id=e.institution_id, name_ko=e.name_ko,
                                   kind=e.kind, treated_as_field_office=False,
                                   division_count=e.division_count))
            for cycle_id in cycle_ids:
                row(cycle_id, e.institution_id)
            continue
        r = row(e.cycle_id, e.institution_id)
        if isinstance(e, (ev.ReportSubmitted, ev.ReportAmended)):
            r.update(status="late_reopened" if e.late else (
                "submitted" if isinstance(e, ev.ReportSubmitted) else "amended"),
                submission_id=e.submission_id,
                submitted=sorted(x.indicator_id for x in e.results), not_applicable=[])
        elif isinstance(e, ev.IndicatorMarkedNotApplicable):
            r.update(not_applicable=sorted([*r["not_applicable"], e.indicator_id]))
        elif isinstance(e, ev.ReportWithdrawn):
            r.update(status="withdrawn", submitted=[], not_applicable=[])
        else:
            r.update(reopened_until=e.until.isoformat())
        r.update(last_event_type=env.event_type, last_changed_at=env.recorded_at.isoformat(),
                 last_actor_id=env.actor.id, last_actor_role=env.actor.role)
    if registered:
        await conn.execute(institutions.insert(), registered)
    if touched:
        ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(report_status)
        await conn.execute(ins.on_conflict_do_update(
            index_elements=["cycle_id", "institution_id"],
            set_={c: ins.excluded[c] for c in _STATUS_COLUMNS
                  if c not in ("cycle_id", "institution_id")}),
            [dict(r) for r in touched.values()])


def with_missing(row: dict, indicator_ids: list[str]) -> dict:
    """Add the indicators neither reported nor marked (each gets the base score)."""
    done = set(row["submitted"]) | set(row["not_applicable"])
    return {**row, "missing": [i for i in indicator_ids if i not in done]}


__all__ = ["ReportStatusProjection", "metadata"]


PROJECTION = ReportStatusProjection
