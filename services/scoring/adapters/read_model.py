"""Read model: scorecards per cycle (평가표) — each indicator's value, source,
points, weight and any adjustment; appeals; the signed-off results.

Each row depends on one stream only, so live and rebuilt copies agree whatever the
partition interleaving; totals and provisional ranks are derived when read.
"""
from __future__ import annotations

import functools

from sqlalchemy import (JSON, Boolean, Column, Integer, MetaData, String, Table, Text,
                        case, select, update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.projection import Projection
from shared.topics import events_topic

from ..domain import events as ev

metadata = MetaData()
scores = Table(
    "rm_scores", metadata,
    Column("cycle_id", String(10), primary_key=True),
    Column("institution_id", String(100), primary_key=True),
    Column("indicator_id", String(100), primary_key=True),
    Column("computed_points", String(20), nullable=False),
    Column("max_points", Integer, nullable=False),
    Column("source", String(20), nullable=False),
    Column("weight", String(20), nullable=False),
    Column("measure", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("rulebook_ref", String(100), nullable=False),
    Column("computed_event_id", String(36), nullable=False),
    Column("effective_points", String(20), nullable=False),
    Column("adjusted", Boolean, nullable=False),
    Column("adjustment", JSON),  # who, why, from, to: the last panel or appeal change
)
appeals = Table(
    "rm_appeals", metadata,
    Column("cycle_id", String(10), primary_key=True),
    Column("institution_id", String(100), primary_key=True),
    Column("appeal_id", String(100), primary_key=True),
    Column("indicator_id", String(100), nullable=False),
    Column("grounds", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reviewers", JSON, nullable=False),
    Column("decision", JSON),
    Column("filed_at", String(40), nullable=False),
)
cycles = Table(
    "rm_scoring_cycles", metadata,
    Column("cycle_id", String(10), primary_key=True),
    Column("rulebook_ref", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("appeals_until", String(40)),
    Column("final_ranking", JSON),
    Column("signed_off_by", String(200)),
)


class ScorecardProjection(Projection):
    name = "scoring-scorecards"
    metadata = metadata
    registry = ev.registry

    def __init__(self) -> None:
        self.topics = (events_topic("scoring").name,)

    async def apply_all(self, conn, items) -> None:
        """Runs of ScoreComputed (most of the log) as one upsert each; any other event
        on its own, in order. Within a run the last score of an indicator is what
        event-by-event applying leaves, so only that one is written."""
        run: dict[tuple, tuple] = {}
        for envelope, event in items:
            if isinstance(event, ev.ScoreComputed):
                run[(event.cycle_id, event.institution_id, event.indicator_id)] = \
                    (envelope, event)
                continue
            if not hasattr(self, f"_{type(event).__name__}"):
                continue  # no row changes (the facts scoring keeps for itself): no break
            await self._scores(conn, run)
            await self.apply(conn, envelope, event)
        await self._scores(conn, run)

    @staticmethod
    async def _scores(conn, run: dict) -> None:
        if not run:
            return
        rows = [dict(**_key(e, e.indicator_id), **_computed(env, e),
                     effective_points=str(e.points), adjusted=False)
                for env, e in run.values()]
        run.clear()
        await conn.execute(_upsert_scores(conn.dialect.name), rows)

    async def _ScoringOpened(self, conn, env, e: ev.ScoringOpened):
        await conn.execute(cycles.insert().values(cycle_id=e.cycle_id,
                                                  rulebook_ref=e.rulebook_ref, status="open"))

    async def _RulebookApplied(self, conn, env, e: ev.RulebookApplied):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id).values(
            rulebook_ref=e.rulebook_ref))

    async def _ProvisionalResultsPublished(self, conn, env, e):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id).values(
            status="provisional", appeals_until=e.appeals_until.isoformat()))

    async def _ResultsSignedOff(self, conn, env, e):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id).values(
            status="signed_off", final_ranking=e.ranking, signed_off_by=env.actor.id))

    async def _ScoringReopened(self, conn, env, e):
        await conn.execute(update(cycles).where(cycles.c.cycle_id == e.cycle_id).values(
            status="reopened", final_ranking=None, signed_off_by=None))

    async def _ScoreComputed(self, conn, env, e: ev.ScoreComputed):
        values = _computed(env, e)
        key = _key(e, e.indicator_id)
        changed = await conn.execute(update(scores).where(*_where(scores, key)).values(
            **values))
        if changed.rowcount == 0:
            await conn.execute(scores.insert().values(
                **key, **values, effective_points=str(e.points), adjusted=False))
        else:  # the computed value moves; an adjustment in force stays in force
            await conn.execute(update(scores).where(*_where(scores, key),
                                                    scores.c.adjusted.is_(False))
                               .values(effective_points=str(e.points)))

    async def _ScoreAdjusted(self, conn, env, e: ev.ScoreAdjusted):
        await self._override(conn, e, e.indicator_id, e.to_points, {
            "by": env.actor.id, "role": env.actor.role, "reason": e.reason,
            "from": str(e.from_points), "to": str(e.to_points), "kind": "panel",
            "event_id": env.event_id})

    async def _AppealFiled(self, conn, env, e: ev.AppealFiled):
        await conn.execute(appeals.insert().values(
            **_key(e), appeal_id=e.appeal_id, indicator_id=e.indicator_id,
            grounds=e.grounds, status="open", reviewers=[],
            filed_at=env.recorded_at.isoformat()))

    async def _AppealReviewerAssigned(self, conn, env, e):
        key = {**_key(e), "appeal_id": e.appeal_id}
        current = (await conn.execute(select(appeals.c.reviewers).where(
            *_where(appeals, key)))).scalar_one()
        await conn.execute(update(appeals).where(*_where(appeals, key)).values(
            reviewers=sorted({*current, e.reviewer_id})))

    async def _AppealDecided(self, conn, env, e: ev.AppealDecided):
        decision = {"upheld": e.upheld, "from": str(e.from_points), "to": str(e.to_points),
                    "reason": e.reason, "by": env.actor.id}
        await conn.execute(update(appeals).where(*_where(
            appeals, {**_key(e), "appeal_id": e.appeal_id})).values(
            status="upheld" if e.upheld else "dismissed", decision=decision))
        if e.upheld:
            await self._override(conn, e, e.indicator_id, e.to_points, {
                **decision, "kind": "appeal", "role": env.actor.role,
                "event_id": env.event_id})

    @staticmethod
    async def _override(conn, e, indicator_id: str, points, adjustment: dict) -> None:
        await conn.execute(update(scores).where(*_where(scores, _key(e, indicator_id)))
                           .values(effective_points=str(points), adjusted=True,
                                   adjustment=adjustment))


@functools.cache
def _upsert_scores(dialect: str):
    """Built once per dialect: building it per batch was a tenth of a replay."""
    ins = (sqlite_insert if dialect == "sqlite" else pg_insert)(scores)
    kept = {c: ins.excluded[c] for c in _computed_columns}
    return ins.on_conflict_do_update(
        index_elements=["cycle_id", "institution_id", "indicator_id"],
        set_={**kept, "effective_points": case(  # an adjustment in force stays
            (scores.c.adjusted.is_(False), ins.excluded.effective_points),
            else_=scores.c.effective_points)})


def _computed(env, e: ev.ScoreComputed) -> dict:
    return dict(computed_points=str(e.points), max_points=e.max_points,
                source=e.source, weight=str(e.weight), measure=e.measure,
                inputs=e.inputs, explanation=e.explanation,
                rulebook_ref=e.rulebook_ref, computed_event_id=env.event_id)


_computed_columns = ("computed_points", "max_points", "source", "weight", "measure",
                     "inputs", "explanation", "rulebook_ref", "computed_event_id")


def _key(e, indicator_id: str | None = None) -> dict:
    key = {"cycle_id": e.cycle_id, "institution_id": e.institution_id}
    return {**key, "indicator_id": indicator_id} if indicator_id else key


def _where(table, key: dict) -> list:
    return [table.c[k] == v for k, v in key.items()]
