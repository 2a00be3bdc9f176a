"""HTTP API for people-facing tools (FastAPI; OpenAPI at /docs and /openapi.json).

Each write takes exactly the `command` object of the Kafka contract as its body and
runs the same handler, so both paths validate alike and record identical events.
The acting person comes from X-Actor-Id / X-Actor-Role until single sign-on lands.
"""
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import select

from shared.command_routes import command_router
from shared.http import Problem, install_problem_handlers, service_api, read_guard

from ..app import commands as c
from ..domain.errors import SubmissionRefused
from ..domain.rulebook import load_rulebook
from . import read_model as rm
from .access import POLICY


def build_api(service, application, rulebooks=load_rulebook) -> FastAPI:
    app = service_api("hyeopchi submission service (협치이행 결과보고서)")
    install_problem_handlers(app)
    app.include_router(command_router(service.db, application, WRITES,
                                      (SubmissionRefused,)))
    app.include_router(_reads(service, rulebooks))
    return app


WRITES = [("/cycles", c.OpenCycle), ("/cycles/deadline", c.SetDeadline),
          ("/cycles/rulebook-revisions", c.ReviseRulebook),
          ("/cycles/closing", c.CloseCycle), ("/institutions", c.RegisterInstitution),
          ("/institutions/field-office-treatment", c.SetFieldOfficeTreatment),
          ("/reports", c.SubmitReport), ("/reports/amendments", c.AmendReport),
          ("/reports/withdrawals", c.WithdrawReport),
          ("/reports/reopenings", c.ReopenReport)]


def _reads(service, rulebooks) -> APIRouter:
    router = APIRouter(tags=["read model"], dependencies=[Depends(read_guard(POLICY))])

    async def statuses(year: int, institution_id: str | None = None) -> list[dict]:
        async with service.db.reading() as conn:
            indicator_ids = (await conn.execute(select(rm.cycles.c.indicator_ids).where(
                rm.cycles.c.cycle_id == str(year)))).scalar()
            if indicator_ids is None:
                raise Problem(f"there is no evaluation cycle for {year}", status=404)
            query = select(rm.report_status).where(rm.report_status.c.cycle_id == str(year))
            if institution_id:
                query = query.where(rm.report_status.c.institution_id == institution_id)
            rows = (await conn.execute(query.order_by(
                rm.report_status.c.institution_id))).mappings().all()
        return [rm.with_missing(dict(r), indicator_ids) for r in rows]

    @router.get("/cycles/{year}/reports")
    async def reports(year: int) -> list[dict]:
        """Per institution: status, indicators submitted / not applicable / missing."""
        return await statuses(year)

    @router.get("/cycles/{year}/reports/{institution_id}")
    async def report(year: int, institution_id: str) -> dict:
        found = await statuses(year, institution_id)
        if not found:
            raise Problem(f"no report status for {institution_id} in {year}", status=404)
        return found[0]

    @router.get("/institutions")
    async def institution_list() -> list[dict]:
        async with service.db.reading() as conn:
            rows = (await conn.execute(select(rm.institutions).order_by(
                rm.institutions.c.institution_id))).mappings().all()
        return [dict(r) for r in rows]

    @router.get("/rulebooks/{year}")
    async def rulebook(year: int) -> dict:
        try:
            return rulebooks(year, 1).model_dump(mode="json")
        except FileNotFoundError as missing:
            raise Problem(str(missing)) from missing
    return router
