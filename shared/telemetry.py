"""Metrics (Prometheus) and traces (OpenTelemetry) every service exposes.

Metrics live in the process's default Prometheus registry (one service per process)
and are served at `/metrics`. A trace follows an event across services: the context
of the request that appended it is stored with its outbox row, sent as W3C
`traceparent` headers by the relay, and picked up by FastStream's telemetry
middleware in the consuming service.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (ConsoleSpanExporter, SimpleSpanProcessor,
                                            SpanExporter, SpanExportResult)
from prometheus_client import Counter, Gauge, Histogram

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

tracer = trace.get_tracer("hyeopchi")


def configure_tracing(service: str, exporter: str) -> TracerProvider:
    """`none` keeps spans in-process only; `console` prints them; `file:PATH` appends
    one JSON line per span (what the cross-service trace test reads)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter.startswith("file:"):
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(exporter[5:])))
    elif exporter != "none":
        raise ValueError(f"TRACES_EXPORTER {exporter!r}: use none, console or file:PATH")
    trace.set_tracer_provider(provider)
    return provider


def current_trace_context() -> str | None:
    """The active span's W3C context as JSON, or None outside any span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier) if carrier else None


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
