"""Submission service as its own process, against the real broker (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services.submission.adapters import read_model
from shared.db import Database
from shared.deadletter import DeadLetters, header
from shared.projection import checksum, rebuild
from shared.tables import backbone, events
from shared.topics import prefixed
from scenarios import y2021
from tests.conftest import BACKENDS
from tests.integration.helpers import read_topic, wait_until
from scenarios.client import KafkaCommands, auth_headers, published_events, read, send_http

pytestmark = pytest.mark.integration
SOON = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()


@pytest.fixture
def deploy(stack):
    """Fresh submission deployments: own database, own topic prefix."""
    return lambda: stack("submission")[0]


def open_cycle_with(svc, *institutions: str) -> None:
    assert send_http(svc.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": SOON}).status_code == 201
    for cmd in y2021.institution_commands():
        if cmd["institution_id"] in institutions:
            assert send_http(svc.url, cmd).status_code == 201


async def events_of(svc, kafka_bootstrap, count: int):
    return await wait_until(lambda: _at_least(svc, kafka_bootstrap, count), timeout=60)


async def _at_least(svc, bootstrap, count):
    found = await published_events(bootstrap, svc.prefix)
    return found if len(found) >= count else None


def _fact(e):
    return (e.event_type, e.stream_id, e.stream_version, e.payload, e.actor.id, e.actor.role)


async def test_kafka_and_http_record_identical_events(deploy, kafka_bootstrap):
    report = y2021.report_command("finance", __import__("random").Random(7))
    over_kafka, over_http = deploy(), deploy()
    for svc in (over_kafka, over_http):
        open_cycle_with(svc, "finance")
    async with KafkaCommands(kafka_bootstrap, over_kafka.prefix) as kafka:
        await kafka.send(report, actor=y2021.submitter("finance"))
    assert send_http(over_http.url, report, actor=y2021.submitter("finance")).status_code == 201
    expected = 2 + 1 + len(report["not_applicable"])
    via_kafka = await events_of(over_kafka, kafka_bootstrap, expected)
    via_http = await events_of(over_http, kafka_bootstrap, expected)
    assert [_fact(e) for e in via_kafka] == [_fact(e) for e in via_http]
    assert "submission.ReportSubmitted" in [e.event_type for e in via_http]


@BACKENDS
async def test_bad_input_gets_a_specific_error_and_stores_nothing(deploy, kafka_bootstrap):
    svc = deploy()
    open_cycle_with(svc, "emergency", "admin")
    good = y2021.report_command("admin", __import__("random").Random(1))
    assert send_http(svc.url, good, actor=y2021.submitter("admin")).status_code == 201
    duplicate_id = dict(y2021.report_command("emergency", __import__("random").Random(2)),
                        submission_id=good["submission_id"])
    cases = [*y2021.bad_reports(), ("already used by admin", duplicate_id)]
    for words, command in cases:
        # the institution's own submitter: what is refused here is the report itself
        answer = send_http(svc.url, command, actor=y2021.submitter(command["institution_id"]))
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert words in answer.json()["detail"]
    malformed = __import__("httpx").post(f"{svc.url}/reports", content=b'{"year": 20',
                                         headers={**auth_headers(y2021.submitter("admin")),
                                                  "content-type": "application/json"})
    assert malformed.status_code == 422 and "JSON" in malformed.json()["detail"]

    async with KafkaCommands(kafka_bootstrap, svc.prefix) as kafka:
        sent = {await kafka.send(cmd, actor=y2021.submitter(cmd["institution_id"])): words
                for words, cmd in cases}
        await kafka.send_raw(b'{"command_id": "x1", "command": ')  # malformed JSON
        await kafka.send_raw(b'{"command_id": "x2", "token": "t", '
                             b'"command": {"command_type": "DropAllTables"}}')
    rejected = await wait_until(lambda: _rejections(kafka_bootstrap, svc.prefix, len(sent)),
                                timeout=60)
    for e in rejected:
        assert sent[e.payload["command_id"]] in e.payload["detail"]
    parked = await wait_until(lambda: _dlq(kafka_bootstrap, svc.prefix, 2), timeout=60)
    reasons = [header(r.headers, "x-dlq-reason") for r in parked]
    assert any("Invalid JSON" in r or "EOF" in r for r in reasons)
    assert any("DropAllTables" in r for r in reasons)

    db = Database(svc.database_url, backbone)
    async with db.reading() as conn:
        refused = await conn.scalar(select(func.count()).select_from(events).where(
            events.c.stream_id.like("report-%-emergency")))
        no_such = await conn.scalar(select(func.count()).select_from(events).where(
            events.c.stream_id.like("%no-such-bureau%")))
    await db.dispose()
    assert refused == 0 and no_such == 0


async def _rejections(bootstrap, prefix, count):
    found = [e for e in await published_events(bootstrap, prefix)
             if e.event_type == "submission.CommandRejected"]
    return found if len(found) >= count else None


async def _dlq(bootstrap, prefix, count):
    found = await read_topic(bootstrap, f"{prefix}.submission.commands.dlq")
    return found if len(found) >= count else None


@BACKENDS
async def test_2021_cycle_deadline_reopen_and_rebuild(deploy, kafka_bootstrap,
                                                      make_db_url):
    svc = deploy()
    send_http(svc.url, {"command_type": "OpenCycle", "year": 2021, "deadline": SOON})
    reports = y2021.reports()
    async with KafkaCommands(kafka_bootstrap, svc.prefix) as kafka:
        for cmd in y2021.institution_commands():
            await kafka.send(cmd, actor=y2021.ORG_REGISTRY)
        await wait_until(lambda: _registered(svc, 47), timeout=60)
        for n, report in enumerate(reports):  # half over Kafka, half over HTTP
            who = y2021.submitter(report["institution_id"])
            if n % 2:
                await kafka.send(report, actor=who)
            else:
                assert send_http(svc.url, report, actor=who).status_code == 201
    statuses = await wait_until(lambda: _statuses(svc, {"submitted": 44}), timeout=90)
    assert statuses["not_submitted"] == 3

    amend = dict(reports[0], command_type="AmendReport", submission_id="2021-amend-1",
                 reason="오기 수정 (typo fixed)")
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    assert send_http(svc.url, {"command_type": "SetDeadline", "year": 2021,
                               "deadline": past, "reason": "마감"}).status_code == 201
    refused = send_http(svc.url, amend, actor=y2021.submitter(amend["institution_id"]))
    assert refused.status_code == 409 and "reopen" in refused.json()["detail"]
    assert send_http(svc.url, {"command_type": "ReopenReport", "year": 2021,
                               "institution_id": amend["institution_id"], "until": SOON,
                               "reason": "증빙 보완 요청"}).status_code == 201
    accepted = send_http(svc.url, amend, actor=y2021.submitter(amend["institution_id"]))
    assert accepted.status_code == 201, accepted.text
    await wait_until(lambda: _statuses(svc, {"late_reopened": 1}), timeout=60)
    row = read(svc.url, f"/cycles/2021/reports/{amend['institution_id']}").json()
    assert row["last_actor_id"] == f"submitter-{amend['institution_id']}"
    assert row["reopened_until"] is not None
    svc.stop()  # SIGTERM: the live projection commits what it has and stops

    live = Database(svc.database_url, backbone, read_model.metadata)
    with prefixed(svc.prefix):  # that deployment's topics
        projection = read_model.ReportStatusProjection()
    fresh = Database(make_db_url(), backbone, read_model.metadata)
    rebuilt_sum, rebuilt_counts, runner = await rebuild(
        projection, fresh, kafka_bootstrap,
        DeadLetters("rebuild", _no_dead_letters))
    live_sum, live_counts = await checksum(live, read_model.metadata)
    assert rebuilt_counts == live_counts
    assert live_counts["rm_report_status"] == 47 and runner.parked == 0
    assert rebuilt_sum == live_sum
    await live.dispose()
    await fresh.dispose()


async def _no_dead_letters(*_args):
    raise AssertionError("a rebuild of valid history must not dead-letter anything")


async def _registered(svc, count):
    rows = __import__("httpx").get(f"{svc.url}/institutions").json()
    return len(rows) >= count


async def _statuses(svc, wanted: dict[str, int]):
    rows = read(svc.url, "/cycles/2021/reports").json()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts if all(counts.get(k, 0) >= v for k, v in wanted.items()) else None
