"""HTTP telemetry in-process (shared/telemetry.py, installed by shared/http.py): the
request's server span continues the caller's W3C `traceparent`, and the command's
stored trace context with it; request metrics are labelled by route template, never
by the raw path; the OTLP exporter is chosen by the standard OTEL_* variables.

Spans go to an in-memory exporter of a provider made here (the process's global
provider is left alone: it can be set only once)."""
from __future__ import annotations

import json

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY, generate_latest

from scenarios.sso import DevSSO
from shared import telemetry
from shared.auth import Policy
from shared.command_routes import command_router
from shared.http import install_metrics, install_problem_handlers, \
    install_start_gate, service_api
from tests.support.edge import FakeDb, Ping
from tests.support.memory import application_of

OFFICER = {"id": "officer-1", "role": "governance_officer"}
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    return DevSSO(tmp_path_factory.mktemp("sso"))


@pytest.fixture
def spans(monkeypatch):
    """An SDK provider whose spans stay in memory; the services' tracer uses it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "tracer", provider.get_tracer("hyeopchi"))
    yield provider, exporter
    provider.shutdown()


def build(sso, monkeypatch, fastapi_tracing: TracerProvider | None = None):
    """An app made the way the services make theirs; what each command stored as its
    trace context (what the outbox row keeps) goes into the returned list."""
    monkeypatch.setenv("AUTH_JWKS_FILE", str(sso.jwks))
    stored: list[str | None] = []

    async def ping(_command, _uow):
        stored.append(telemetry.current_trace_context())
    # FastAPI makes its own server span when given a provider (or when the global one
    # is the SDK's, as in a running service); without, HttpTelemetry makes it.
    app = FastAPI(telemetry={"tracer_provider": fastapi_tracing} if fastapi_tracing
                  else {"tracing": False})
    install_problem_handlers(app)
    commands = application_of({"Ping": ping},
                              Policy(commands={"Ping": frozenset({OFFICER["role"]})}))
    app.include_router(command_router(FakeDb(), commands, [("/pings", Ping)], ()))
    members = APIRouter()

    @members.get("/{member_id}")
    async def member(member_id: str) -> dict:
        return {"member_id": member_id}

    @members.get("/{member_id}/boom")
    async def boom(member_id: str) -> dict:
        raise RuntimeError("an unexpected failure")
    app.include_router(members, prefix="/members")
    install_metrics(app)
    return app, stored


async def call(app, method: str, path: str, headers: dict | None = None, **kwargs):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.request(method, path, headers=headers or {}, **kwargs)


def _ping_headers(sso, traceparent: str | None = TRACEPARENT) -> dict:
    headers = {"Authorization": f"Bearer {sso.issue(OFFICER)}"}
    return headers | ({"traceparent": traceparent} if traceparent else {})


def _server_spans(exporter):
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def _requests(route: str, method: str, status: str) -> float:
    return REGISTRY.get_sample_value("hyeopchi_http_requests_total",
                                     {"route": route, "method": method,
                                      "status": status}) or 0.0


# ------------------------------------------------------------------ traceparent continued

@pytest.mark.parametrize("made_by", ["HttpTelemetry", "FastAPI"])
async def test_a_command_continues_the_callers_trace_into_its_stored_context(
        sso, monkeypatch, spans, made_by):
    provider, exporter = spans
    app, stored = build(sso, monkeypatch, provider if made_by == "FastAPI" else None)
    answer = await call(app, "POST", "/pings", _ping_headers(sso), json={"text": "hi"})
    assert answer.status_code == 201, answer.text

    [server] = _server_spans(exporter)  # one server span per request, whoever made it
    assert server.name == "POST /pings"
    assert f"{server.context.trace_id:032x}" == CALLER_TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert server.parent.is_remote
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.route"] == "/pings"
    assert server.attributes["http.response.status_code"] == 201

    [command] = [s for s in exporter.get_finished_spans() if s.name == "command Ping"]
    assert command.context.trace_id == server.context.trace_id
    [context] = stored  # what the outbox row keeps, and the relay sends as headers
    _version, trace_id, span_id, _flags = json.loads(context)["traceparent"].split("-")
    assert trace_id == CALLER_TRACE, "the stored context must carry the caller's trace"
    assert span_id == f"{command.context.span_id:016x}"


async def test_without_a_traceparent_the_request_starts_a_trace(sso, monkeypatch, spans):
    _provider, exporter = spans
    app, stored = build(sso, monkeypatch)
    answer = await call(app, "POST", "/pings", _ping_headers(sso, None), json={"text": "x"})
    assert answer.status_code == 201
    [server] = _server_spans(exporter)
    assert server.parent is None and server.name == "POST /pings"
    assert json.loads(stored[0])["traceparent"].split("-")[1] == \
        f"{server.context.trace_id:032x}"


async def test_a_malformed_traceparent_is_ignored_not_refused(sso, monkeypatch, spans):
    _provider, exporter = spans
    app, _stored = build(sso, monkeypatch)
    answer = await call(app, "POST", "/pings", _ping_headers(sso, "00-zz-not-a-context"),
                        json={"text": "x"})
    assert answer.status_code == 201
    [server] = _server_spans(exporter)
    assert server.parent is None


async def test_refusals_and_failures_are_spans_with_their_status(sso, monkeypatch, spans):
    _provider, exporter = spans
    app, _stored = build(sso, monkeypatch)
    assert (await call(app, "POST", "/pings", {"traceparent": TRACEPARENT},
                       json={"text": "x"})).status_code == 401  # the boundary's answer
    assert (await call(app, "GET", "/members/m-1/boom")).status_code == 500
    refused, failed = _server_spans(exporter)
    assert (refused.name, refused.attributes["http.response.status_code"]) == \
        ("POST /pings", 401)
    assert f"{refused.context.trace_id:032x}" == CALLER_TRACE
    assert (failed.name, failed.attributes["http.response.status_code"]) == \
        ("GET /members/{member_id}/boom", 500)
    assert not failed.status.is_ok


# ------------------------------------------------------------------------ route labels

@pytest.mark.parametrize("method, path, route, status", [
    ("GET", "/members/person-8812", "/members/{member_id}", "200"),
    ("POST", "/members/person-8812", "/members/{member_id}", "405"),
    ("GET", "/no/such/person-8812", telemetry.UNMATCHED, "404"),
    ("POST", "/pings", "/pings", "401"),
])
async def test_requests_are_counted_by_route_template(sso, monkeypatch, method, path,
                                                      route, status):
    app, _stored = build(sso, monkeypatch)
    before = _requests(route, method, status)
    answer = await call(app, method, path, json={})
    assert str(answer.status_code) == status
    assert _requests(route, method, status) == before + 1
    assert REGISTRY.get_sample_value("hyeopchi_http_request_seconds_count",
                                     {"route": route, "method": method}) >= 1


async def test_metrics_never_hold_a_raw_path_or_an_unknown_method(sso, monkeypatch):
    app, _stored = build(sso, monkeypatch)
    await call(app, "GET", "/members/secret-id-4711")
    await call(app, "BREW", "/members/secret-id-4711")
    exposition = (await call(app, "GET", "/metrics")).text
    assert "secret-id-4711" not in exposition
    assert 'hyeopchi_http_requests_total{method="GET",route="/members/{member_id}",' \
           'status="200"}' in exposition
    assert 'method="BREW"' not in exposition and 'method="_OTHER"' in exposition
    assert "hyeopchi_http_request_seconds_bucket" in generate_latest().decode()


def test_route_label_prefers_the_resolved_template():
    class Route:
        path_format = "/{member_id}"
    assert telemetry.route_label({"route": Route()}) == "/{member_id}"
    assert telemetry.route_label({}) == telemetry.UNMATCHED
    assert telemetry.route_label({"method": "GET", "path": "/x/1"}) == telemetry.UNMATCHED


async def test_the_start_gates_answers_are_counted_too(sso, monkeypatch):
    """Telemetry stays the outermost middleware when the runtime adds its start gate."""
    app, _stored = build(sso, monkeypatch)
    install_start_gate(app, lambda: False)
    assert app.user_middleware[0].cls is telemetry.HttpTelemetry
    assert sum(m.cls is telemetry.HttpTelemetry for m in app.user_middleware) == 1
    before = _requests(telemetry.UNMATCHED, "GET", "503")
    assert (await call(app, "GET", "/members/m-2")).status_code == 503  # before routing
    assert _requests(telemetry.UNMATCHED, "GET", "503") == before + 1


# --------------------------------------------------------------- exporters from OTEL_*

@pytest.fixture
def otel_env(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
                 "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME",
                 "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _kinds(exporter: str) -> list[str]:
    processors = telemetry.span_processors(exporter)
    try:
        assert all(isinstance(p, BatchSpanProcessor) for p in processors
                   if type(p.span_exporter).__name__ == "OTLPSpanExporter"), "batched"
        return [type(p.span_exporter).__name__ for p in processors]
    finally:
        for p in processors:
            p.shutdown()


def test_no_otlp_unless_the_standard_variables_ask(otel_env, tmp_path):
    assert _kinds("none") == []
    assert _kinds(f"file:{tmp_path / 's.jsonl'}") == ["JsonLinesExporter"]
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    assert _kinds("none") == ["OTLPSpanExporter"]
    assert _kinds(f"file:{tmp_path / 's.jsonl'}") == ["JsonLinesExporter",
                                                      "OTLPSpanExporter"]
    otel_env.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _kinds("none") == []


@pytest.mark.parametrize("variable, value", [
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4317"),
    ("OTEL_TRACES_EXPORTER", "otlp"),
])
def test_either_endpoint_or_the_exporter_choice_turns_otlp_on(otel_env, variable, value):
    otel_env.setenv(variable, value)
    assert _kinds("none") == ["OTLPSpanExporter"]
    otel_env.delenv(variable)
    assert _kinds("otlp") == ["OTLPSpanExporter"]


@pytest.mark.parametrize("variable, value", [
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ("OTEL_TRACES_EXPORTER", "zipkin"),
])
def test_what_cannot_be_honoured_refuses_to_start(otel_env, variable, value):
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    otel_env.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        telemetry.span_processors("none")
    with pytest.raises(ValueError, match="TRACES_EXPORTER"):
        telemetry.span_processors("jaeger")


def test_the_resource_follows_otel_service_name_and_attributes(otel_env):
    resource = telemetry.service_resource("scoring")
    assert resource.attributes["service.name"] == "scoring"
    otel_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,team=gov")
    resource = telemetry.service_resource("scoring")
    assert resource.attributes["service.name"] == "scoring"
    assert resource.attributes["deployment.environment"] == "test"
    otel_env.setenv("OTEL_SERVICE_NAME", "hyeopchi-scoring-eu")
    resource = telemetry.service_resource("scoring")
    assert resource.attributes["service.name"] == "hyeopchi-scoring-eu"
    assert resource.attributes["team"] == "gov"


async def test_a_service_app_traces_requests_but_not_its_probes_or_internals(spans):
    provider, exporter = spans
    app = service_api("probe test", tracer_provider=provider)

    @app.get("/health/live")
    async def live() -> dict:
        return {}

    @app.get("/things/{thing}")
    async def thing(thing: str) -> dict:
        return {"thing": thing}
    assert (await call(app, "GET", "/health/live")).status_code == 200
    assert (await call(app, "GET", "/things/7", {"traceparent": TRACEPARENT})).status_code == 200
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["GET /things/{thing}"], names
    [span] = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == CALLER_TRACE
