"""Metrics (Prometheus) and traces (OpenTelemetry) every service exposes.

Metrics live in the process's default Prometheus registry (one service per process)
and are served at `/metrics`. A trace follows an event across services: the context
of the request that appended it is stored with its outbox row, sent as W3C
`traceparent` headers by the relay, and picked up by FastStream's telemetry
middleware in the consuming service.

An HTTP request continues the caller's trace: its W3C `traceparent` is extracted
into one server span per request (`POST /cycles`; FastAPI makes it itself once a
tracer provider is configured, as every service process does, `HttpTelemetry`
otherwise), whose context the command's span, and so the outbox row, inherit; so a
trace runs caller → HTTP → outbox → Kafka → consumer. Every request is counted in `hyeopchi_http_requests_total{route,method,
status}` and timed in `hyeopchi_http_request_seconds{route,method}`, labelled by the
route template (`/members/{member_id}`), never the raw path.

Where spans go follows the OpenTelemetry standard variables: when
`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (or
`OTEL_TRACES_EXPORTER=otlp`, or `TRACES_EXPORTER=otlp`), spans are batched to an OTLP
collector over gRPC; the exporter itself reads `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`,
`_INSECURE`, `_TIMEOUT`, `_CERTIFICATE` and `_COMPRESSION`, and `OTEL_BSP_*` tune the
batching. `OTEL_TRACES_EXPORTER=none` turns OTLP off even with an endpoint set; only
the `grpc` protocol is supported (`OTEL_EXPORTER_OTLP_PROTOCOL`). `OTEL_SERVICE_NAME`
and `OTEL_RESOURCE_ATTRIBUTES` make the resource; service.name defaults to the
hyeopchi service's name. `TRACES_EXPORTER` (console, file:PATH) adds its own exporter
alongside. Batched spans are flushed when the service stops, after its own shutdown
(with the collector away, for at most OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default).
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (BatchSpanProcessor, ConsoleSpanExporter,
                                            SimpleSpanProcessor, SpanExporter,
                                            SpanExportResult)
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import Counter, Gauge, Histogram
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGES = Counter("hyeopchi_messages_consumed", "Messages a reliable consumer handled.",
                   ["consumer", "outcome"])
HANDLER_SECONDS = Histogram("hyeopchi_handler_seconds",
                            "Time to decode, apply and commit one message.", ["consumer"])
DEAD_LETTERS = Counter("hyeopchi_dead_letters", "Records parked on a dead-letter topic.",
                       ["consumer"])
PUBLISHED = Counter("hyeopchi_events_published", "Events the outbox relay published.",
                    ["topic"])
PROJECTED = Counter("hyeopchi_projection_records", "Records a projection read.",
                    ["projection", "outcome"])
LAG = Gauge("hyeopchi_consumer_lag", "Records not yet applied, over all partitions.",
            ["consumer"])
OUTBOX_BACKLOG = Gauge("hyeopchi_outbox_backlog", "Events stored, not yet published.")
HTTP_REQUESTS = Counter("hyeopchi_http_requests", "HTTP requests answered, by route "
                        "template, method and status.", ["route", "method", "status"])
HTTP_SECONDS = Histogram("hyeopchi_http_request_seconds", "Time to answer one HTTP "
                         "request, by route template and method.", ["route", "method"])

tracer = trace.get_tracer("hyeopchi")
_exporting = False  # whether any span of this process goes anywhere (configure_tracing)

UNMATCHED = "<unmatched>"  # the route label of a request no route took (404, redirect)
OTHER_METHOD = "_OTHER"    # any method outside HTTP_METHODS (OpenTelemetry's convention)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                          "TRACE", "CONNECT"})
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure_tracing(service: str, exporter: str) -> TracerProvider:
    """The process's tracer provider. `exporter` (TRACES_EXPORTER): `none` keeps
    spans in-process only; `console` prints them; `file:PATH` appends one JSON line per
    span (what the cross-service trace test reads); `otlp` sends them to the collector
    the OTEL_EXPORTER_OTLP_* variables name, as an OTLP endpoint variable alone does."""
    global _exporting
    provider = TracerProvider(resource=service_resource(service))
    processors = span_processors(exporter)
    for processor in processors:
        provider.add_span_processor(processor)
    _exporting = bool(processors)
    trace.set_tracer_provider(provider)
    return provider


def service_resource(service: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES as the SDK reads them; the
    hyeopchi service's name only where neither names the service."""
    named = OTELResourceDetector().detect().attributes.get(SERVICE_NAME)
    return Resource.create() if named else Resource.create({SERVICE_NAME: service})


def span_processors(exporter: str) -> list[SpanProcessor]:
    processors: list[SpanProcessor] = []
    if exporter == "console":
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter.startswith("file:"):
        processors.append(SimpleSpanProcessor(JsonLinesExporter(exporter[5:])))
    elif exporter not in ("none", "otlp"):
        raise ValueError(f"TRACES_EXPORTER {exporter!r}: use none, console, otlp or "
                         f"file:PATH")
    if exporter == "otlp" or otlp_wanted():
        processors.append(BatchSpanProcessor(otlp_exporter()))
    return processors


def otlp_wanted() -> bool:
    """OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint set and not OTEL_TRACES_EXPORTER=none."""
    env = os.environ
    chosen = {v.strip().lower() for v in env.get("OTEL_TRACES_EXPORTER", "").split(",")
              if v.strip()}
    if chosen - {"otlp", "none"}:
        raise ValueError(f"OTEL_TRACES_EXPORTER {env['OTEL_TRACES_EXPORTER']!r}: use otlp "
                         f"or none (TRACES_EXPORTER adds console or file:PATH)")
    if "otlp" in chosen:
        return True
    return "none" not in chosen and any(env.get(name) for name in _OTLP_ENDPOINTS)


def otlp_exporter() -> SpanExporter:
    """OTLP over gRPC; the exporter reads its endpoint, headers, TLS and timeout from
    the OTEL_EXPORTER_OTLP_* variables itself."""
    env = os.environ
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc")
    if protocol.strip().lower() != "grpc":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}: this service sends "
                         f"OTLP over grpc only (a collector's port 4317)")
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter)
    return OTLPSpanExporter()


def shutdown_tracing(provider: TracerProvider | None = None) -> None:
    """Export what is still batched, then stop the exporters (at service stop: a span
    still in the batch would be lost with the process). Bounded by the exporter's own
    timeout (OTEL_EXPORTER_OTLP_TIMEOUT) per batch, and by OTEL_BSP_EXPORT_TIMEOUT."""
    provider = provider or trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def current_trace_context() -> str | None:
    """The active span's W3C context as JSON, or None outside any span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier) if carrier else None


def record_span(topic: str, headers: Sequence[tuple[str, bytes]]):
    """A span for applying one record of a batch, continuing the trace of whoever
    produced it (its `traceparent` header): FastStream's batch span only links to the
    records' traces, so without this every event a batch appends would start anew."""
    carrier = {k: v.decode(errors="replace") for k, v in headers}
    if not _exporting:  # no one would see the span: only carry the producer's trace on
        return _continuing(propagate.extract(carrier))
    return tracer.start_as_current_span(f"{topic} apply", kind=SpanKind.CONSUMER,
                                        context=propagate.extract(carrier))


@contextlib.contextmanager
def _continuing(carried: context.Context):
    token = context.attach(carried)
    try:
        yield
    finally:
        context.detach(token)


def trace_headers(stored: str | None) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in json.loads(stored).items()] if stored else []


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: str):
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                ctx, parent = span.get_span_context(), span.parent
                out.write(json.dumps({
                    "name": span.name, "trace_id": f"{ctx.trace_id:032x}",
                    "span_id": f"{ctx.span_id:016x}",
                    "parent_id": f"{parent.span_id:016x}" if parent else None,
                    "service": span.resource.attributes.get("service.name"),
                }) + "\n")
        return SpanExportResult.SUCCESS


# ------------------------------------------------------------------------------ HTTP

def route_label(scope: Scope) -> str:
    """The template of the route the app's router chose (`/members/{member_id}`), with
    an included router's prefix; UNMATCHED when none did. Never the raw path: a label
    per path would be unbounded, and paths hold ids."""
    # FastAPI keeps an included router's route as declared (without the prefix) in
    # scope["route"]; the route it resolved, prefix included, is its effective context.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route")
    template = (getattr(effective, "path_format", None)
                or getattr(route, "path_format", None) or getattr(route, "path", None))
    return template or UNMATCHED


def method_label(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in HTTP_METHODS else OTHER_METHOD


def _server_span_current() -> bool:
    """Whether a server span is already current (FastAPI's own, made when the global
    tracer provider is the SDK's): one server span per request, not two."""
    span = trace.get_current_span()
    return span.is_recording() and getattr(span, "kind", None) is SpanKind.SERVER


class HttpTelemetry:
    """Pure ASGI: counts and times every request by route template, and continues the
    caller's W3C trace context (`traceparent`) in the request's server span. FastAPI
    (0.165+) makes that span itself when a tracer provider is configured; this
    middleware makes it only when no server span is current, so there is always one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, status, started = method_label(scope), 500, time.perf_counter()
        span, name = None, "HTTP" if method == OTHER_METHOD else method
        if not _server_span_current():
            caller = propagate.extract(Headers(scope=scope))
            span = tracer.start_span(name,
                                     context=caller, kind=SpanKind.SERVER,
                                     attributes={"http.request.method": method})

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if span is None:
                await self.app(scope, receive, sending)
            else:
                with trace.use_span(span, end_on_exit=False, record_exception=True,
                                    set_status_on_exception=True):
                    await self.app(scope, receive, sending)
        finally:
            route = route_label(scope)
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_SECONDS.labels(route, method).observe(time.perf_counter() - started)
            if span is not None:
                if route != UNMATCHED:
                    span.update_name(f"{name} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_attribute("error.type", str(status))
                    span.set_status(StatusCode.ERROR)
                span.end()


def install_http_telemetry(app) -> None:
    """HttpTelemetry as the app's outermost middleware (again, when called after other
    middlewares were added): every answer is counted, the start gate's 503s too."""
    from starlette.middleware import Middleware  # noqa: PLC0415
    app.user_middleware[:] = [m for m in app.user_middleware if m.cls is not HttpTelemetry]
    app.user_middleware.insert(0, Middleware(HttpTelemetry))
