"""The HTTP trust boundary: a command's caller is judged before its body is read,
and no request body is longer than MAX_BODY_BYTES.

A pure ASGI middleware (it never buffers a body): FastAPI reads and parses a body
before any dependency runs, so a check made in a dependency comes too late to spare
the memory and the parsing. The middleware judges a request when the app first asks
for its body: by then the app's own router has chosen the route, and a command route
(marked by `command_router` with its command type and the service's policy) is the
table entry the boundary consults. Order: bearer token (401), role for the command
type (403), declared Content-Length (413); only then is the body passed on, counted
as it streams (413 past the limit; whitespace counts). A route that never reads a
body (reads, probes, 404, 405) is answered without any of this; reads keep their
policy in `read_guard`.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import ANONYMOUS, Forbidden, Policy, Principal, Unauthenticated, bearer, verifier
from .http import forbidden_response, problem_response, unauthenticated_response

PRINCIPAL = "hyeopchi.principal"  # scope key: the caller the boundary verified
COMMAND_ROUTE = "hyeopchi_command_route"  # endpoint attribute set by command_router


@dataclass(frozen=True)
class CommandRoute:
    """What the boundary needs to judge a command before its body: its type and the
    service's policy."""
    command_type: str
    policy: Policy


class Refused(Exception):
    """Raised from `receive` inside the app: the boundary answers this request."""


def guard_body(endpoint, command_type: str, policy: Policy) -> None:
    """Mark a POST endpoint outside `command_router` so the boundary authenticates
    and authorises its caller for `command_type` before its body is read."""
    setattr(endpoint, COMMAND_ROUTE, CommandRoute(command_type, policy))


def too_large_response(limit: int) -> Response:
    return problem_response(413, "too-large", "Request body too large",
                            f"the request body is larger than {limit} bytes "
                            f"(MAX_BODY_BYTES); whitespace counts")


def authenticate(headers: Headers, command_type: str) -> Principal:
    """The caller of a command, from its bearer token; a command needs one."""
    token = bearer(headers.get("authorization"))
    if token is None:
        raise Unauthenticated(f"{command_type} needs a bearer token")
    return verifier().verify(token)


def authorize(who: Principal, route: CommandRoute) -> None:
    """The checks that need no body (the role, and which commands a city system owns);
    the command's own scope (a submitter's institution, a secretary's committee) is
    checked once the body is parsed."""
    if who is ANONYMOUS:
        raise Forbidden(f"role {who.role} may not {route.command_type}")
    route.policy.check_command_type(who, route.command_type)


def declared_length(headers: Headers) -> int | None:
    """Content-Length as a number; None when absent (chunked) or not a number (the
    server refuses those before the app sees them)."""
    value = headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def command_route(scope: Scope) -> CommandRoute | None:
    """The command route the app's router chose for this request, if it is one.
    (The router's choice, not a path table of our own: FastAPI no longer copies an
    included router's routes into `app.routes`, and prefixes or path parameters
    would have to be matched again.)"""
    endpoint = getattr(scope.get("route"), "endpoint", None) or scope.get("endpoint")
    return getattr(endpoint, COMMAND_ROUTE, None)


class HttpBoundary:
    """Installed once per service app, by `install_problem_handlers`."""

    def __init__(self, app: ASGIApp, max_body_bytes: int | None = None):
        from .settings import ServiceSettings  # noqa: PLC0415
        self.app = app
        self.limit = max_body_bytes or ServiceSettings().max_body_bytes

    def refusal(self, scope: Scope) -> Response | None:
        """The answer that needs no body, if any; a verified caller goes into scope
        (the `principal` dependency takes it from there)."""
        headers = Headers(scope=scope)
        route = command_route(scope)
        if route is not None:
            try:
                who = authenticate(headers, route.command_type)
                authorize(who, route)
            except Unauthenticated as error:
                return unauthenticated_response(error)
            except Forbidden as error:
                return forbidden_response(error)
            scope[PRINCIPAL] = who
        length = declared_length(headers)
        if length is not None and length > self.limit:
            return too_large_response(self.limit)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await Exchange(self, scope, receive, send).run()


class Exchange:
    """One request through the boundary: judged when the app first asks for the
    body, the body counted as it streams, the app's answer replaced by the
    boundary's when the boundary refused."""

    def __init__(self, boundary: HttpBoundary, scope: Scope, receive: Receive, send: Send):
        self.boundary, self.scope, self._receive, self._send = boundary, scope, receive, send
        self.seen, self.judged, self.started = 0, False, False
        self.answer: Response | None = None  # the boundary's own, replacing the app's

    async def run(self) -> None:
        try:
            await self.boundary.app(self.scope, self.receive, self.send)
        except Exception:
            if self.answer is None or self.started:
                raise
        if self.answer is not None and not self.started:
            await self.answer(self.scope, self._receive, self._send)

    async def receive(self) -> Message:
        if not self.judged:
            self.judged, self.answer = True, self.boundary.refusal(self.scope)
        if self.answer is not None:
            raise Refused("answered by the HTTP boundary")  # nothing more is read
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.boundary.limit:  # this chunk never reaches the app
                self.answer = too_large_response(self.boundary.limit)
                raise Refused(f"request body passed {self.boundary.limit} bytes")
        return message

    async def send(self, message: Message) -> None:
        if self.answer is not None and not self.started:
            return  # the app's answer to a refused body (say, a 400) is not the reason
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)
