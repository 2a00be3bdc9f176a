"""Operating one service on its own: start order, readiness, SIGTERM mid-stream,
metrics, and a trace that crosses services (issue 8)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DBAPIError

from scenarios import grants2021, seeds, y2021
from scenarios.client import KafkaCommands, send_external, send_http
from scenarios.processes import KAFKA_SH, script
from shared.db import Database
from services.audit.adapters.timeline import timeline
from services.submission.domain.events import InstitutionRegistered
from shared.envelope import Actor
from shared.outbox import OutboxRelay
from shared.store import EventStore, Metadata
from shared.tables import backbone, events, outbox
from shared.topics import Topic, ensure_topics
from tests.conftest import free_port
from tests.integration.helpers import ServiceProcess, read_topic, wait_until

pytestmark = pytest.mark.integration
N = 600  # commands queued before the service is told to stop
TIMELINE = "audit timeline rows"


def _status(svc: ServiceProcess, path: str) -> int | None:
    try:
        return httpx.get(f"{svc.url}{path}", timeout=10).status_code
    except httpx.HTTPError:
        return None


async def _status_is(svc, path, code):
    return _status(svc, path) == code


def _register(i: int) -> dict:
    return {"command_type": "RegisterInstitution", "institution_id": f"ops-{i:04d}",
            "name_ko": f"기관 {i}", "kind": "bureau"}


async def _stored(url: str) -> tuple[dict[str, int], int]:
    """Events per type in a service's store, and rows still waiting in its outbox."""
    db = Database(url)
    try:
        async with db.reading() as conn:
            rows = (await conn.execute(select(events.c.event_type, func.count())
                                       .group_by(events.c.event_type))).all()
            pending = await conn.scalar(select(func.count()).select_from(outbox))
            followed = await conn.scalar(select(func.count()).select_from(timeline)) \
                if await conn.run_sync(lambda c: inspect(c).has_table(timeline.name)) else 0
    finally:
        await db.dispose()
    return dict(rows) | ({TIMELINE: followed} if followed else {}), pending


def _log_events(svc: ServiceProcess) -> list[dict]:
    found = []
    for line in svc.log_path.read_text(errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


async def _send_submission(bootstrap, prefix, svc):
    assert send_http(svc.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": "2031-01-01T00:00:00+09:00"},
                     y2021.OFFICER).status_code == 201
    async with KafkaCommands(bootstrap, prefix) as kafka:
        for i in range(N):
            await kafka.send(_register(i))
    return {"submission.CycleOpened": 1, "submission.InstitutionRegistered": N}


async def _send_committee(bootstrap, prefix, _svc):
    async with KafkaCommands(bootstrap, prefix, "committee") as kafka:
        for i in range(N):
            await kafka.send({"command_type": "EstablishCommittee",
                              "committee_id": f"ops-{i:04d}", "institution_id": "planning",
                              "name_ko": f"위원회 {i}", "kind": "subcommittee"},
                             actor=seeds.secretary_for(f"ops-{i:04d}"))
    return {"committee.CommitteeEstablished": N}


async def _send_grants(bootstrap, prefix, svc):
    assert send_http(svc.url, {"command_type": "OpenRound", "year": 2021},
                     grants2021.OFFICER).status_code == 201
    await grants2021.send_applications(bootstrap, prefix)
    n = len(grants2021.applications())
    return {"grants.RoundOpened": 1, "grants.OrganisationRegistered": n,
            "grants.ApplicationReceived": n}


async def _send_scoring(bootstrap, prefix, _svc, n: int = 6000):
    """HR facts; more than the other workloads: scoring takes a batch of them as one
    unit of work, fast enough to finish a burst of N before the stop lands."""
    facts = [{"event_id": f"hr-ops-{i}", "event_type": "hr.HeadcountReported",
              "schema_version": 1, "occurred_at": "2021-03-31T09:00:00+09:00",
              "source": "seoul-hr", "payload": {"institution_id": f"ops-{i:04d}",
                                                 "headcount": 100, "as_of": "2021-03-31"}}
             for i in range(n)]
    await send_external(bootstrap, f"{prefix}.ingress.hr", facts)
    return {"scoring.HeadcountRecorded": n}


async def _send_audit(bootstrap, prefix, svc, n: int = 24000):
    """Another service's history, already in the log when the audit service starts:
    recorded by the backbone's own store and relay (faster than a service would)."""
    source = Database(f"{svc.database_url}.source", backbone)
    await source.create_tables()
    store = EventStore("submission", f"{prefix}.submission.events")
    meta = Metadata(actor=Actor(id="officer-1", role="governance_officer", kind="person"),
                    correlation_id="ops")
    async with source.transaction() as conn:
        for i in range(n):
            await store.append(conn, f"institution-ops-{i}", 0, [InstitutionRegistered(
                institution_id=f"ops-{i:05d}", name_ko=f"기관 {i}", kind="bureau")], meta)
    ensure_topics(bootstrap, [Topic(f"{prefix}.submission.events", "audit test", 3)])
    relay = OutboxRelay(source, bootstrap, "submission")
    await relay.start()
    try:
        assert await relay.drain() == n
    finally:
        await relay.stop()
        await source.dispose()
    return {TIMELINE: n}


WORKLOADS = {"audit": _send_audit, "submission": _send_submission, "committee": _send_committee,
             "grants": _send_grants, "scoring": _send_scoring}
ALONE = [pytest.param("submission", "postgresql", id="submission-postgresql"),
         *[pytest.param(s, "sqlite", id=f"{s}-sqlite") for s in WORKLOADS]]


@pytest.mark.parametrize(("service", "make_db_url"), ALONE, indirect=["make_db_url"])
async def test_sigterm_mid_stream_then_restart_loses_and_doubles_nothing(
        service, make_db_url, kafka_bootstrap, tmp_path):
    """The service runs alone (the others down), takes a burst of work over Kafka,
    is stopped by SIGTERM in the middle of it, restarted, and finishes it."""
    prefix, url = f"t{uuid.uuid4().hex[:8]}", make_db_url()
    svc = ServiceProcess(service, database_url=url, bootstrap=kafka_bootstrap,
                         port=free_port(), topic_prefix=prefix,
                         log_path=tmp_path / f"{service}.log",
                         # Small batches: the stop lands mid-burst, between commits.
                         extra_env={"READY_MAX_LAG": "0", "CONSUMER_BATCH_RECORDS": "10"})
    svc.database_url = url
    if service == "audit":  # a read side: its backlog is history already in the log
        expected = await _send_audit(kafka_bootstrap, prefix, svc)
        svc.launch()
    else:
        svc.start()
        expected = await WORKLOADS[service](kafka_bootstrap, prefix, svc)
    total = sum(expected.values())
    assert await wait_until(lambda: _status_is(svc, "/health/ready", 503), timeout=30), \
        "a service with a backlog must not report ready"

    async def some_applied():
        try:
            counts, _ = await _stored(url)
        except DBAPIError:  # tables not migrated yet
            return False
        return sum(counts.values()) >= 20
    await wait_until(some_applied, timeout=120)
    svc.proc.send_signal(signal.SIGTERM)
    began = time.monotonic()
    code = svc.proc.wait(timeout=40)
    took = time.monotonic() - began
    assert code == 0, svc.log_path.read_text()[-3000:]
    counts, pending = await _stored(url)
    at_stop = sum(counts.values())
    assert 20 <= at_stop < total, f"the stop came after the burst ended ({at_stop}/{total})"
    assert pending == 0, "SIGTERM must flush the outbox"
    names = [e.get("event") for e in _log_events(svc)]
    assert names.index("service_stopping") < names.index("service_stopped")
    assert took < 20, f"shutdown took {took:.1f} s, over SHUTDOWN_GRACE_S"

    svc.launch()  # ready again only once the backlog is applied (READY_MAX_LAG=0)
    await wait_until(lambda: _status_is(svc, "/health/ready", 200), timeout=300)
    counts, pending = await _stored(url)
    assert {k: v for k, v in counts.items() if k in expected} == expected
    assert not [k for k in counts if k.endswith("CommandRejected")], counts
    assert pending == 0
    published = await read_topic(kafka_bootstrap, f"{prefix}.{service}.events")
    ids = [json.loads(r.value)["event_id"] for r in published]
    stored = sum(v for k, v in counts.items() if k != TIMELINE)
    assert len(ids) == len(set(ids)) == stored, \
        "each stored event published once, none lost"
    svc.stop()


async def test_started_before_the_broker_it_waits_and_readiness_follows_the_broker(
        tmp_path):
    name, port = f"ops-{os.getpid()}", free_port()
    controller = str(free_port())
    svc = ServiceProcess("submission", database_url=f"sqlite:///{tmp_path / 's.db'}",
                         bootstrap=f"127.0.0.1:{port}", port=free_port(),
                         topic_prefix=f"t{uuid.uuid4().hex[:8]}",
                         log_path=tmp_path / "submission.log").launch()
    try:
        await wait_until(lambda: _status_is(svc, "/health/live", 200), timeout=60)
        assert _status(svc, "/health/ready") == 503
        early = httpx.post(f"{svc.url}/commands/open-cycle", json={}, timeout=5)
        assert early.status_code == 503 and early.json()["type"].endswith(":starting")
        await wait_until(lambda: _waiting_for_broker(svc), timeout=30)

        script(KAFKA_SH, "start", "--name", name, "--port", port,
               "--controller-port", controller, "--heap", "384m")
        await wait_until(lambda: _status_is(svc, "/health/ready", 200), timeout=120)
        script(KAFKA_SH, "kill", "--name", name)
        await wait_until(lambda: _status_is(svc, "/health/ready", 503), timeout=60)
        body = httpx.get(f"{svc.url}/health/ready", timeout=10).json()
        assert body["checks"]["broker"] is False and body["checks"]["database"] is True
        script(KAFKA_SH, "start", "--name", name, "--port", port,
               "--controller-port", controller, "--heap", "384m")
        await wait_until(lambda: _status_is(svc, "/health/ready", 200), timeout=120)
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(timeout=40) == 0
    finally:
        svc.stop()
        subprocess.run([str(KAFKA_SH), "wipe", "--name", name], capture_output=True)


async def _waiting_for_broker(svc):
    return any(e.get("event") == "waiting_for" and e.get("what") == "broker"
               for e in _log_events(svc))


async def test_metrics_and_a_trace_across_two_services(stack, tmp_path, kafka_bootstrap):
    spans = tmp_path / "spans.jsonl"
    sub, sco = stack("submission", "scoring", env={"TRACES_EXPORTER": f"file:{spans}"})
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": "2031-01-01T00:00:00+09:00"},
                     y2021.OFFICER).status_code == 201

    def consumed(span):  # scoring applying a submission event (one span per record;
        # FastStream's span for the whole batch only links to the records' traces)
        return span["service"] == "scoring" and span["name"].endswith("submission.events apply")

    async def traced_in_scoring():
        lines = spans.read_text().splitlines() if spans.exists() else []
        found = [json.loads(x) for x in lines]
        return found if any(consumed(s) for s in found) else None
    found = await wait_until(traced_in_scoring, timeout=60)
    [command] = [s for s in found if s["name"] == "command OpenCycle"]
    downstream = [s for s in found if consumed(s)]
    assert all(s["trace_id"] == command["trace_id"] for s in downstream), \
        "the event's consumer must continue the trace of the command that recorded it"

    async def scraped():
        text = httpx.get(f"{sco.url}/metrics", timeout=10).text
        return text if 'hyeopchi_messages_consumed_total{consumer="submission-facts",' \
                       'outcome="applied"} 1.0' in text else None
    text = await wait_until(scraped, timeout=30)
    for metric in ("hyeopchi_handler_seconds_bucket", "hyeopchi_consumer_lag",
                   "hyeopchi_outbox_backlog", "faststream_received_messages_total"):
        assert metric in text, metric
    published = httpx.get(f"{sub.url}/metrics", timeout=10).text
    assert f'hyeopchi_events_published_total{{topic="{sub.prefix}.submission.events"}} 1.0' \
        in published
