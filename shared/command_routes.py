"""The command routes of a service's HTTP edge: POST a command model, dispatched by
the service's Application in its own transaction; a refusal answered by its category.

(No `from __future__ import annotations` here: each endpoint is made in a closure
with its command model as a real annotation, which FastAPI reads.)
"""
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from .application import StillConflicting
from .auth import ANONYMOUS, Principal, Unauthenticated
from .envelope import UnencodableText
from .http import Problem, principal
from .http_boundary import COMMAND_ROUTE, CommandRoute
from .ids import new_id

# The one table from a refusal's category (shared/refusal.py) to an HTTP status.
STATUS = {"not-found": 404, "conflict": 409, "rule": 422, "forbidden": 403,
          "too-large": 413}

Caller = Annotated[Principal, Depends(principal)]
CorrelationId = Annotated[str | None, Header(alias="X-Correlation-Id", max_length=100)]


def refusal_problem(refused: Exception) -> Problem:
    """A domain refusal (or text the store cannot keep) as a problem body."""
    category = getattr(refused, "category", "rule")
    return Problem(str(refused), status=STATUS[category],
                   kind=getattr(refused, "kind", "invalid-text"))


def command_router(db: Any, app: Any, writes: list[tuple[str, type]],
                   refusals: tuple[type[Exception], ...]) -> APIRouter:
    """POST routes whose bodies are command models, each dispatched by `app` (a
    shared.application.Application) in its own transaction.

    The caller must present a bearer token whose role the app's policy allows for
    the command: the boundary (http_boundary, installed by `install_problem_handlers`)
    answers 401 / 403 before the body is read, by the command type and policy each
    of these routes carries (`COMMAND_ROUTE`); the principal is the actor. A refusal
    (one of `refusals`) becomes a problem body (`STATUS`) and stores nothing.
    """
    router = APIRouter(tags=["commands"])

    async def run(command: Any, who: Principal, correlation_id: str | None) -> dict:
        from .telemetry import tracer  # noqa: PLC0415
        if who is ANONYMOUS:  # only when the boundary is not installed: fail closed
            raise Unauthenticated(f"{command.command_type} needs a bearer token")
        try:
            # The span's context is stored with the outbox rows: the trace goes on
            # in every service that consumes the events this command records.
            with tracer.start_as_current_span(f"command {type(command).__name__}"):
                appended = await app.execute(db, command, who, correlation_id or new_id())
        except (*refusals, UnencodableText) as refused:
            raise refusal_problem(refused) from refused
        except StillConflicting as conflict:
            raise Problem(str(conflict), status=409, kind="conflict") from conflict
        return {"events": [{"event_id": e.event_id, "event_type": e.event_type,
                            "stream_id": e.stream_id, "stream_version": e.stream_version}
                           for e in appended]}

    for path, model in writes:
        router.add_api_route(path, _endpoint(model, run, app.policy), methods=["POST"],
                             status_code=201, name=model.__name__, summary=model.__name__)
    return router


def _endpoint(model: type, run: Any, policy: Any):
    async def endpoint(body: model, who: Caller,  # type: ignore[valid-type]
                       correlation_id: CorrelationId = None) -> dict:
        return await run(body, who, correlation_id)
    endpoint.__doc__ = model.__doc__
    # The boundary knows a command route, once the router chose it, by this.
    setattr(endpoint, COMMAND_ROUTE,
            CommandRoute(model.model_fields["command_type"].default, policy))
    return endpoint
