"""HTTP API of scoring (FastAPI; OpenAPI at /docs): experts, panel, office, appeals,
and the scorecards read model."""
from decimal import Decimal

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import select

from shared.command_routes import command_router
from shared.http import Problem, install_problem_handlers, service_api, read_guard

from ..app import commands as c
from ..domain.errors import ScoringRefused
from . import read_model as rm
from .access import POLICY

WRITES = [("/experts/assignments", c.AssignExpert), ("/experts/conflicts", c.DeclareConflict),
          ("/expert-scores", c.GiveExpertScore), ("/adjustments", c.AdjustScore),
          ("/provisional-results", c.PublishProvisionalResults),
          ("/appeals", c.FileAppeal), ("/appeals/reviewers", c.AssignAppealReviewer),
          ("/appeals/decisions", c.DecideAppeal), ("/sign-off", c.SignOff),
          ("/reopenings", c.ReopenScoring)]


def build_api(service, application) -> FastAPI:
    app = service_api("hyeopchi scoring service (협치역량평가 채점)")
    install_problem_handlers(app)
    app.include_router(command_router(service.db, application, WRITES, (ScoringRefused,)))
    app.include_router(_reads(service))
    return app


def _reads(service) -> APIRouter:
    router = APIRouter(tags=["read model"], dependencies=[Depends(read_guard(POLICY))])

    async def cards(year: int, institution_id: str | None = None) -> list[dict]:
        query = select(rm.scores).where(rm.scores.c.cycle_id == str(year))
        if institution_id:
            query = query.where(rm.scores.c.institution_id == institution_id)
        async with service.db.reading() as conn:
            rows = (await conn.execute(query.order_by(rm.scores.c.institution_id,
                                                      rm.scores.c.indicator_id)))
            rows = rows.mappings().all()
        by_institution: dict[str, list[dict]] = {}
        for row in rows:
            by_institution.setdefault(row["institution_id"], []).append(dict(row))
        return rank([{"institution_id": i, "indicators": ind,
                      "total": str(sum(Decimal(r["effective_points"]) for r in ind))}
                     for i, ind in by_institution.items()])

    @router.get("/cycles/{year}/scorecards")
    async def scorecards(year: int) -> list[dict]:
        """Every institution: indicators (value, source, points, weight, adjustment),
        total and rank (provisional until signed off)."""
        return await cards(year)

    @router.get("/cycles/{year}/scorecards/{institution_id}")
    async def scorecard(year: int, institution_id: str) -> dict:
        found = [c for c in await cards(year) if c["institution_id"] == institution_id]
        if not found:
            raise Problem(f"no scorecard for {institution_id} in {year}", status=404)
        return found[0]

    @router.get("/cycles/{year}/appeals")
    async def appeal_list(year: int, status: str | None = None) -> list[dict]:
        query = select(rm.appeals).where(rm.appeals.c.cycle_id == str(year))
        if status:
            query = query.where(rm.appeals.c.status == status)
        async with service.db.reading() as conn:
            return [dict(r) for r in (await conn.execute(query.order_by(
                rm.appeals.c.institution_id, rm.appeals.c.appeal_id))).mappings()]

    @router.get("/cycles/{year}/results")
    async def results(year: int) -> dict:
        """The signed-off results for the evaluation office (평가담당관)."""
        async with service.db.reading() as conn:
            row = (await conn.execute(select(rm.cycles).where(
                rm.cycles.c.cycle_id == str(year)))).mappings().first()
        if row is None or row["status"] != "signed_off":
            raise Problem(f"results for {year} are not signed off", status=409,
                          kind="not-final")
        return {"cycle_id": row["cycle_id"], "rulebook_ref": row["rulebook_ref"],
                "signed_off_by": row["signed_off_by"], "ranking": row["final_ranking"]}
    return router


def rank(cards: list[dict]) -> list[dict]:
    ordered = sorted(cards, key=lambda c: (-Decimal(c["total"]), c["institution_id"]))
    for position, card in enumerate(ordered, start=1):
        tied = position > 1 and ordered[position - 2]["total"] == card["total"]
        card["rank"] = ordered[position - 2]["rank"] if tied else position
    return ordered
