"""Read-only HTTP API for auditors (FastAPI; OpenAPI at /docs): the timeline, an
institution's dossier across services, and chain alerts. Nothing here writes."""
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from sqlalchemy import select

from shared.http import install_problem_handlers, service_api, read_guard

from .timeline import alerts, timeline
from .access import POLICY


def build_api(service) -> FastAPI:
    app = service_api("hyeopchi audit service (감사)")
    install_problem_handlers(app)
    router = APIRouter(tags=["audit"], dependencies=[Depends(read_guard(POLICY))])

    async def rows(query) -> list[dict]:
        async with service.db.reading() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    @router.get("/timeline")
    async def events(since: str | None = None, until: str | None = None,
                     event_type: str | None = None,
                     limit: Annotated[int, Query(ge=1)] = 1000) -> list[dict]:
        """Every decision, in time order: who, when, why, under which rule."""
        q = select(timeline).order_by(timeline.c.recorded_at, timeline.c.event_id)
        if since:
            q = q.where(timeline.c.recorded_at >= since)
        if until:
            q = q.where(timeline.c.recorded_at <= until)
        if event_type:
            q = q.where(timeline.c.event_type == event_type)
        return await rows(q.limit(min(limit, 10_000)))

    @router.get("/dossier/{institution_id}")
    async def dossier(institution_id: str) -> dict:
        """An institution across services: its submission, scores and adjustments,
        its committees' meetings, by service."""
        found = await rows(select(timeline).where(timeline.c.institution_id == institution_id)
                           .order_by(timeline.c.recorded_at, timeline.c.event_id))
        by_service: dict[str, list] = {}
        for row in found:
            by_service.setdefault(row["service"], []).append(row)
        return {"institution_id": institution_id, "events": len(found),
                "by_service": by_service}

    @router.get("/alerts")
    async def alert_list() -> list[dict]:
        return await rows(select(alerts).order_by(alerts.c.alert_id))

    app.include_router(router)
    return app
