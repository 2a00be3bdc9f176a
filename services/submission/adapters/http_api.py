"""HTTP API for people-facing tools (FastAPI; OpenAPI at /docs and /openapi.json).

Each write takes exactly the `command` object of the Kafka contract as its body and
runs the same handler, so both paths validate alike and record identical events.
The acting person comes from X-Actor-Id / X-Actor-Role until single sign-on lands.
"""
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header
from sqlalchemy import select

from shared.envelope import Actor, UnencodableText
from shared.http import Problem, install_problem_handlers
from shared.ids import new_id

from ..app import commands as c
from ..app.handlers import SubmissionHandlers, SubmissionRefused
from ..domain.rulebook import load_rulebook
from . import read_model as rm


class Refused(Problem):
    def __init__(self, refused: SubmissionRefused | UnencodableText):
        super().__init__(str(refused))
        self.status = getattr(refused, "status", 422)
        self.kind = getattr(refused, "kind", "invalid-text")


def build_api(service, handlers: SubmissionHandlers) -> FastAPI:
    app = FastAPI(title="hyeopchi submission service (협치이행 결과보고서)", version="1")
    install_problem_handlers(app)
    app.include_router(_writes(service, handlers))
    app.include_router(_reads(service))
    return app


ActorId = Annotated[str, Header(alias="X-Actor-Id", min_length=1, max_length=200)]
ActorRole = Annotated[str, Header(alias="X-Actor-Role", min_length=1, max_length=100)]
Correlation = Annotated[str | None, Header(alias="X-Correlation-Id", max_length=100)]


WRITES = [("/cycles", c.OpenCycle), ("/cycles/deadline", c.SetDeadline),
          ("/cycles/closing", c.CloseCycle), ("/institutions", c.RegisterInstitution),
          ("/institutions/field-office-treatment", c.SetFieldOfficeTreatment),
          ("/reports", c.SubmitReport), ("/reports/amendments", c.AmendReport),
          ("/reports/withdrawals", c.WithdrawReport),
          ("/reports/reopenings", c.ReopenReport)]


def _writes(service, handlers: SubmissionHandlers) -> APIRouter:
    router = APIRouter(tags=["commands"])

    async def run(command, actor_id: str, actor_role: str, correlation_id: str | None):
        actor = Actor(id=actor_id, role=actor_role, kind="person")
        try:
            async with service.db.transaction() as conn:
                appended = await handlers.execute(conn, command, actor,
                                                  correlation_id or new_id())
        except (SubmissionRefused, UnencodableText) as refused:
            raise Refused(refused) from refused
        return {"events": [{"event_id": e.event_id, "event_type": e.event_type,
                            "stream_id": e.stream_id, "stream_version": e.stream_version}
                           for e in appended]}

    def endpoint_for(model: type):
        # Real (not string) annotations: FastAPI reads `model` as the body schema.
        async def endpoint(body: model, actor: ActorId, role: ActorRole,  # type: ignore
                           correlation: Correlation = None) -> dict:
            return await run(body, actor, role, correlation)
        endpoint.__doc__ = model.__doc__
        return endpoint

    for path, model in WRITES:
        router.add_api_route(path, endpoint_for(model), methods=["POST"], status_code=201,
                             name=model.__name__, summary=model.__name__)
    return router


def _reads(service) -> APIRouter:
    router = APIRouter(tags=["read model"])

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
            return load_rulebook(year).model_dump(mode="json")
        except FileNotFoundError as missing:
            raise Problem(str(missing)) from missing
    return router
