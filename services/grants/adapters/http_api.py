"""HTTP API of the grants service (FastAPI; OpenAPI at /docs)."""
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import select

from shared.command_routes import command_router
from shared.http import Problem, install_problem_handlers, service_api, read_guard

from ..app import commands as c
from ..domain.errors import GrantRefused
from . import read_model as rm
from .summary import round_summary
from .access import POLICY

WRITES = [("/rounds", c.OpenRound), ("/rounds/closing", c.CloseApplications),
          ("/organisations", c.RegisterOrganisation),
          ("/applications", c.ReceiveApplication), ("/rounds/screening", c.ScreenApplications),
          ("/reviews/assignments", c.AssignReviewer),
          ("/reviews/conflicts", c.DeclareReviewConflict), ("/reviews", c.ScoreApplication),
          ("/rounds/selection", c.DecideSelection),
          ("/rounds/selection/overrides", c.OverrideSelection),
          ("/applications/plan-revisions", c.RevisePlan), ("/payments", c.MakePayment),
          ("/spending-reports", c.ReportSpending),
          ("/self-funding-checks", c.CheckSelfFunding), ("/projects/closing", c.CloseProject)]


def build_api(service, application) -> FastAPI:
    app = service_api("hyeopchi grants service (공익활동 지원사업)")
    install_problem_handlers(app)
    app.include_router(command_router(service.db, application, WRITES, (GrantRefused,)))
    app.include_router(_reads(service))
    return app


def _reads(service) -> APIRouter:
    router = APIRouter(tags=["read model"], dependencies=[Depends(read_guard(POLICY))])

    async def rows(table, *where) -> list[dict]:
        async with service.db.reading() as conn:
            return [dict(r) for r in (await conn.execute(select(table).where(*where)))
                    .mappings()]

    @router.get("/rounds/{round_id}/summary")
    async def summary(round_id: str) -> dict:
        """The round's figures and the paragraph they make."""
        found = await rows(rm.rounds, rm.rounds.c.round_id == round_id)
        if not found:
            raise Problem(f"there is no grant round {round_id}", status=404)
        apps = await rows(rm.applications, rm.applications.c.round_id == round_id)
        decided = {d["application_id"]: d
                   for d in await rows(rm.decisions, rm.decisions.c.round_id == round_id)}
        scored = {r["application_id"] for r in await rows(
            rm.reviews, rm.reviews.c.total.is_not(None), rm.reviews.c.conflicted.is_(False))}
        return round_summary(found[0]["rules"], apps, decided, scored)

    @router.get("/applications/{application_id}")
    async def application(application_id: str) -> dict:
        """An application with its screening, reviews, decision (and why), execution."""
        found = await rows(rm.applications, rm.applications.c.application_id == application_id)
        if not found:
            raise Problem(f"there is no application {application_id}", status=404)
        decision = await rows(rm.decisions, rm.decisions.c.application_id == application_id)
        scores = await rows(rm.reviews, rm.reviews.c.application_id == application_id)
        return {**found[0], "reviews": scores, "decision": decision[0] if decision else None}
    return router
