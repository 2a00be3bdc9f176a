"""A real OTLP/gRPC trace receiver for tests: the collector's TraceService, served by
grpcio on a free loopback port, keeping every span it is sent.

    with OtlpReceiver() as receiver:   # receiver.endpoint == "http://127.0.0.1:PORT"
        ... start a service with OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint ...
        spans = await receiver.wait_for(lambda s: s.name == "POST /cycles")
"""
from __future__ import annotations

import asyncio
import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def _value(value: AnyValue):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: list[KeyValue]) -> dict:
    return {kv.key: _value(kv.value) for kv in pairs}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver got it, ids in lower-case hex as in `traceparent`."""
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind: 2 = SERVER
    attributes: dict = field(hash=False)
    resource: dict = field(hash=False)
    scope: str = ""

    @property
    def service(self) -> str | None:
        return self.resource.get("service.name")


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metadata: list[dict[str, str]] = []  # the headers each export came with
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.port = 0

    # -- the TraceService
    def Export(self, request, context):  # noqa: N802 — the gRPC method's name
        with self._lock:
            self.requests.append(request)
            self.metadata.append({k: v for k, v in context.invocation_metadata()})
        return trace_service_pb2.ExportTraceServiceResponse()

    # -- running it
    def start(self) -> "OtlpReceiver":
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port(f"{self.host}:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=1).wait()
            self._server = None

    def __enter__(self) -> "OtlpReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- what it received
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            requests = list(self.requests)
        found = []
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(ReceivedSpan(
                            name=span.name, trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex() or None,
                            kind=span.kind, attributes=_attributes(span.attributes),
                            resource=resource, scope=scope_spans.scope.name))
        return found

    async def wait_for(self, predicate, timeout: float = 30.0) -> list[ReceivedSpan]:
        """Every span received, once one of them satisfies `predicate`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            spans = self.spans()
            if any(predicate(s) for s in spans):
                return spans
            if loop.time() > deadline:
                raise TimeoutError(f"no such span in {timeout}s; received: "
                                   f"{sorted({(s.service, s.name) for s in spans})}")
            await asyncio.sleep(0.2)
