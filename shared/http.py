"""HTTP edge shared by services: RFC 9457 problem bodies and health probes."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


class Problem(Exception):
    """A refusal with a human-readable reason; becomes an HTTP problem body."""

    status = 400
    kind = "bad-request"

    def __init__(self, detail: str, status: int | None = None, **extra):
        super().__init__(detail)
        self.detail, self.extra = detail, extra
        if status:
            self.status = status


def problem_response(status: int, kind: str, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": f"urn:hyeopchi:problem:{kind}", "title": title, "status": status,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_req: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.kind, type(error).__name__,
                                error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, error: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                  for e in error.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "invalid-request", "Invalid request", detail,
                                errors=errors)


def install_health(app: FastAPI, ready: Callable[[], Awaitable[dict[str, bool]]]) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict:
        return {"status": "live"}

    @app.get("/health/ready", tags=["health"])
    async def readiness() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not-ready", "checks": checks},
                            status_code=200 if ok else 503)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a service process that handles SIGTERM itself."""

    @contextmanager
    def capture_signals(self):
        yield
