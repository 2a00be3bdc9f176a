"""Traces by the standards, end to end (issue 16): a real service process, configured
only by the standard OTEL_* variables, continues an HTTP caller's `traceparent`,
carries it through its outbox onto Kafka, and sends its spans over OTLP/gRPC to a real
receiver (tests/support/otlp_receiver.py); the spans still batched are flushed when
the service stops."""
from __future__ import annotations

import secrets

import httpx
import pytest

from scenarios.client import OFFICER, PATHS, auth_headers
from tests.integration.helpers import read_topic, wait_until
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration
SERVER = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER


def _trace_id(traceparent: bytes | str) -> str:
    text = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return text.split("-")[1]


async def test_spans_reach_an_otlp_receiver_in_the_callers_trace(stack, kafka_bootstrap):
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    name = f"hyeopchi-submission-{secrets.token_hex(3)}"
    with OtlpReceiver() as receiver:
        [sub] = stack("submission", env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_SERVICE_NAME": name,
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=integration",
            # No scheduled export: the command's spans can only arrive by the flush at stop
            # (or by a full batch of probe spans before them).
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
            "TRACES_EXPORTER": "none"})
        answer = httpx.post(f"{sub.url}{PATHS['OpenCycle']}", timeout=30,
                            json={"command_type": "OpenCycle", "year": 2021,
                                  "deadline": "2031-01-01T00:00:00+09:00"},
                            headers=auth_headers(OFFICER) | {
                                "traceparent": f"00-{caller_trace}-{caller_span}-01"})
        assert answer.status_code == 201, answer.text

        # caller → HTTP → outbox → Kafka: the published event carries the caller's trace
        async def published():
            records = await read_topic(kafka_bootstrap, f"{sub.prefix}.submission.events")
            return records or None
        [record] = await wait_until(published, timeout=30)
        headers = dict(record.headers)
        assert _trace_id(headers["traceparent"]) == caller_trace

        assert sub.stop() == 0, "SIGTERM: a clean stop, with the spans flushed"
        spans = await receiver.wait_for(lambda s: s.name == "POST /cycles", timeout=10)

    [server] = [s for s in spans if s.name == "POST /cycles"]
    assert server.kind == SERVER
    assert server.trace_id == caller_trace and server.parent_span_id == caller_span
    assert server.attributes["http.route"] == "/cycles"
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.response.status_code"] == 201
    assert server.service == name
    assert server.resource["deployment.environment"] == "integration"
    [command] = [s for s in spans if s.name == "command OpenCycle"]
    assert command.trace_id == caller_trace and command.service == name
    assert {s.service for s in spans} == {name}
