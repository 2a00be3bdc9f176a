"""HTTP edge shared by services: RFC 9457 problem bodies, health probes, and request
telemetry (traces continued from the caller's `traceparent`, metrics by route; see
shared/telemetry.py)."""
from __future__ import annotations


from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .auth import (ANONYMOUS, Forbidden, Policy, Principal, Unauthenticated,
                   bearer, verifier)
from .telemetry import install_http_telemetry

PROBLEM = "application/problem+json"


def service_api(title: str, tracer_provider=None) -> FastAPI:
    """A service's FastAPI app. FastAPI's own telemetry makes the request span (and
    continues the caller's traceparent); probes, metrics and the docs are not traced,
    and the three internal spans per request are left out: they are noise over OTLP."""
    return FastAPI(title=title, version="1", telemetry={
        "tracer_provider": tracer_provider, "operation_spans": False,
        "exclude": lambda scope: scope.get("path", "").startswith(OPERATIONS)})


class Problem(Exception):
    """A refusal with a human-readable reason; becomes an HTTP problem body."""

    status = 400
    kind = "bad-request"

    def __init__(self, detail: str, status: int | None = None, kind: str | None = None,
                 **extra):
        super().__init__(detail)
        self.detail, self.extra = detail, extra
        if status:
            self.status = status
        if kind:
            self.kind = kind


def problem_response(status: int, kind: str, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": f"urn:hyeopchi:problem:{kind}", "title": title, "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def unauthenticated_response(error: Unauthenticated) -> JSONResponse:
    answer = problem_response(401, error.kind, "Unauthenticated", str(error))
    answer.headers["WWW-Authenticate"] = 'Bearer realm="hyeopchi"'
    return answer


def forbidden_response(error: Forbidden) -> JSONResponse:
    return problem_response(403, error.kind, "Forbidden", str(error))


def install_problem_handlers(app: FastAPI) -> None:
    """Problem bodies for every refusal, and the trust boundary (see http_boundary):
    a command's caller is judged before its body is read; bodies are bounded."""
    from .http_boundary import HttpBoundary  # noqa: PLC0415 — it imports this module

    @app.middleware("http")
    async def _no_nul(request: Request, call_next):
        # A NUL character cannot reach a query (PostgreSQL text holds none): refuse it
        # here, for every route, with words.
        if "\x00" in request.scope.get("path", "") or any(
                "\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
            return problem_response(400, "invalid-text", "Invalid text", "the request's "
                                    "path or query contains a NUL character (U+0000)")
        return await call_next(request)

    app.add_middleware(HttpBoundary)  # outside _no_nul: first to run
    install_http_telemetry(app)  # outside the boundary: its refusals are counted too

    @app.exception_handler(Problem)
    async def _problem(_req: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.kind, error.kind.replace("-", " "),
                                error.detail, **error.extra)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_req: Request, error: Unauthenticated) -> JSONResponse:
        return unauthenticated_response(error)

    @app.exception_handler(Forbidden)
    async def _forbidden(_req: Request, error: Forbidden) -> JSONResponse:
        return forbidden_response(error)

    @app.exception_handler(HTTPException)
    async def _http(_req: Request, error: HTTPException) -> JSONResponse:
        # The framework's own refusals (a body it cannot parse, no such route, a
        # method not allowed) are problem bodies too, with the cause where known.
        kind = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}.get(
            error.status_code, "http-error")
        detail = str(error.detail)
        if error.__cause__ is not None:
            detail += f" ({type(error.__cause__).__name__}: {error.__cause__})"[:500]
        answer = problem_response(error.status_code, kind, kind.replace("-", " "), detail)
        answer.headers.update(error.headers or {})
        return answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "invalid-request", "Invalid request", detail,
                                errors=errors)


def install_health(app: FastAPI,
                   ready: Callable[[], Awaitable[tuple[dict[str, bool], dict]]]) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict:
        return {"status": "live"}

    @app.get("/health/ready", tags=["health"])
    async def readiness() -> JSONResponse:
        checks, lags = await ready()
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not-ready", "checks": checks,
                             "lag": lags}, status_code=200 if ok else 503)


def install_metrics(app: FastAPI) -> None:
    """Prometheus text exposition of this process's metrics at /metrics."""
    from fastapi import Response  # noqa: PLC0415
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


OPERATIONS = ("/health/", "/metrics", "/docs", "/openapi.json")


def install_start_gate(app: FastAPI, started: Callable[[], bool]) -> None:
    """Until the service has started, every route but the probes answers 503."""
    @app.middleware("http")
    async def gate(request: Request, call_next):
        if started() or request.url.path.startswith(OPERATIONS):
            return await call_next(request)
        answer = problem_response(503, "starting", "Service starting",
                                  "waiting for the broker and the database; retry shortly")
        answer.headers["Retry-After"] = "2"
        return answer
    install_http_telemetry(app)  # still the outermost: a 503 while starting is counted


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a service process that handles SIGTERM itself."""

    @contextmanager
    def capture_signals(self):
        yield


def principal(request: Request,
              authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller, from its bearer token; no token = the anonymous public."""
    from .http_boundary import PRINCIPAL  # noqa: PLC0415
    if PRINCIPAL in request.scope:  # the boundary verified this token already
        return request.scope[PRINCIPAL]
    token = bearer(authorization)
    return ANONYMOUS if token is None else verifier().verify(token)


def read_guard(policy: Policy):
    """A router dependency: the route's read policy for the calling principal."""
    async def guard(request: Request,
                    who: Annotated[Principal, Depends(principal)]) -> None:
        policy.check_read(who, request.scope["route"].path, request.path_params)
    return guard
