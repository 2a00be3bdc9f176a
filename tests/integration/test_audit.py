"""The auditors' tools against the real broker: as-of, history, verify, old schemas."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from scenarios import y2021
from scenarios.client import read, send_http
from services.submission.domain.events import InstitutionRegisteredV1
from shared.db import Database
from shared.envelope import Actor, seal
from shared.kafka_io import read_topic
from shared.store import EventStore, Metadata
from shared.tables import backbone
from shared.topics import Topic, ensure_topics
from tests.integration.helpers import REPO, wait_until

pytestmark = pytest.mark.integration
SOON = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()


def audit(bootstrap: str, prefix: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOPIC_PREFIX": prefix}
    done = subprocess.run([sys.executable, "-m", "tools.cli", "audit", "--bootstrap",
                           bootstrap, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 or "verify" in args, done.stderr[-3000:]
    return done


def card(sco, institution: str) -> dict:
    answer = read(sco.url, f"/cycles/2021/scorecards/{institution}")
    return {i["indicator_id"]: i for i in answer.json()["indicators"]} \
        if answer.status_code == 200 else {}


async def test_as_of_history_verify_and_old_schemas(stack, kafka_bootstrap):
    sub, sco = stack("submission", "scoring")
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": SOON}).status_code == 201
    assert send_http(sub.url, y2021.institution_commands()[0]).status_code == 201
    who = y2021.institution_commands()[0]["institution_id"]
    base = await wait_until(lambda: _scored(sco, who), timeout=60)
    before_adjustment = datetime.now(timezone.utc)
    reason = "단일 과 국: 사업소 수준 조정 (panel review)"
    assert send_http(sco.url, {"command_type": "AdjustScore", "year": 2021,
                               "institution_id": who, "indicator_id": "governance-case",
                               "to_points": "9", "reason": reason},
                     y2021.PANEL_MEMBER).status_code == 201
    await wait_until(lambda: _adjusted(sco, who), timeout=60)
    after_adjustment = datetime.now(timezone.utc)

    # An event recorded by an older version of the submission service (schema v1).
    db = Database(sub.database_url, backbone)
    async with db.transaction() as conn:
        await EventStore("submission", f"{sub.prefix}.submission.events").append(
            conn, "institution-legacy-office", 0,
            [InstitutionRegisteredV1(institution_id="legacy-office", name_ko="옛 사업소",
                                     kind="field_office")],
            Metadata(actor=Actor(id="migration", role="system"), correlation_id="legacy"))
    await db.dispose()
    await wait_until(lambda: _institutions(sub, 2), timeout=60)
    sub.stop()
    sco.stop()

    early = audit(kafka_bootstrap, sub.prefix, "--json", "as-of",
                  before_adjustment.isoformat(), "scorecard", "2021", who)
    late = audit(kafka_bootstrap, sub.prefix, "--json", "as-of",
                 after_adjustment.isoformat(), "scorecard", "2021", who)
    then = {r["indicator_id"]: r for r in json.loads(early.stdout)}["governance-case"]
    now = {r["indicator_id"]: r for r in json.loads(late.stdout)}["governance-case"]
    assert then["effective_points"] == base["governance-case"]["computed_points"] != "9.00"
    assert now["effective_points"] == "9.00" and now["adjusted"]

    history = json.loads(audit(kafka_bootstrap, sub.prefix, "--json", "history",
                               f"score:2021:{who}:governance-case").stdout)
    adjusted = [h for h in history if h["event"] == "scoring.ScoreAdjusted"]
    assert len(adjusted) == 1 and adjusted[0]["why"] == reason
    assert adjusted[0]["who"] == "panel-member-1 (panel_member)"
    assert adjusted[0]["before"] == base["governance-case"]["computed_points"]
    assert adjusted[0]["after"] == "9.00"
    assert history[0]["event"] == "scoring.ScoreComputed" and history[0]["rule"]

    replayed = json.loads(audit(kafka_bootstrap, sub.prefix, "--json", "replay").stdout)
    assert replayed["submission-report-status"]["rows"]["rm_institutions"] == 2  # v1 too

    stores = ["--store", sub.database_url, "--store", sco.database_url]
    clean = audit(kafka_bootstrap, sub.prefix, "verify", *stores)
    assert clean.returncode == 0, clean.stderr

    copy = f"{sub.prefix}.copy.events"  # a copy of a topic with one byte edited
    ensure_topics(kafka_bootstrap, [Topic(copy, "audit test copy", 1)])
    records = await read_topic(kafka_bootstrap, f"{sub.prefix}.submission.events")
    [target] = [r for r in records if b'"kind":"bureau"' in r.value]
    victim = json.loads(target.value)["event_id"]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    for r in records:  # one byte: u -> v
        value = r.value.replace(b'"kind":"bureau"', b'"kind":"bureav"')
        await producer.send_and_wait(copy, value, key=r.key)
    await producer.stop()
    tampered = audit(kafka_bootstrap, sub.prefix, "verify", "--topic", copy)
    assert tampered.returncode == 1 and victim in tampered.stderr

    db = Database(sub.database_url, backbone)
    async with db.transaction() as conn:  # one byte of one stored event
        stored = (await conn.execute(text("SELECT event_id FROM events WHERE stream_id = "
                                          "'cycle-2021'"))).scalar_one()
        await conn.execute(text("UPDATE events SET body = REPLACE(body, :a, :b) WHERE "
                                "event_id = :id"), {"a": '"year":2021', "b": '"year":2022',
                                                    "id": stored})
    await db.dispose()
    edited = audit(kafka_bootstrap, sub.prefix, "verify", *stores)
    assert edited.returncode == 1 and stored in edited.stderr


async def _scored(sco, institution: str):
    found = card(sco, institution)
    return found if len(found) == 6 else None


async def _adjusted(sco, institution: str):
    return card(sco, institution).get("governance-case", {}).get("adjusted")


async def _institutions(sub, n: int):
    return len(read(sub.url, "/institutions").json()) >= n


async def test_the_audit_service_keeps_the_timeline_and_raises_an_alert(stack, kafka_bootstrap):
    sub, aud = stack("submission", "audit")
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": SOON}).status_code == 201
    for command in y2021.institution_commands()[:3]:
        assert send_http(sub.url, command).status_code == 201

    async def timeline():
        rows = read(aud.url, "/timeline").json()
        return rows if len(rows) >= 4 else None
    rows = await wait_until(timeline, timeout=60)
    assert {r["event_type"] for r in rows} == {"submission.CycleOpened",
                                               "submission.InstitutionRegistered"}
    assert all(r["actor_id"] == "officer-1" for r in rows)
    dossier = read(aud.url, "/dossier/planning").json()
    assert dossier["by_service"]["submission"][0]["event_type"] == \
        "submission.InstitutionRegistered"

    records = await read_topic(kafka_bootstrap, f"{sub.prefix}.submission.events")
    [target] = [r for r in records if b'"institution_id":"planning"' in r.value]
    forged = target.value.replace(b'"kind":"bureau"', b'"kind":"bureav"')
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(target.topic, forged, key=target.key,
                                 partition=target.partition)
    await producer.stop()

    async def alerted():
        found = read(aud.url, "/alerts").json()
        return found or None
    [alert] = await wait_until(alerted, timeout=60)
    assert "does not match its hash" in alert["why"] and alert["topic"] == target.topic
    raised = await wait_until(lambda: _audit_events(kafka_bootstrap, sub.prefix), timeout=60)
    assert raised[0]["event_type"] == "audit.ChainBroken"
    assert raised[0]["payload"]["why"] == alert["why"]


async def _audit_events(bootstrap: str, prefix: str):
    found = await read_topic(bootstrap, f"{prefix}.audit.events")
    return [json.loads(r.value) for r in found] or None


async def test_checkpoints_catch_a_store_and_topic_rewritten_together(stack, kafka_bootstrap):
    """A forger who re-seals a whole chain (so every link holds) and replaces the log
    with it still loses: the audit service recorded where each chain ended."""
    sub, aud = stack("submission", "audit")
    for command in y2021.institution_commands()[:3]:
        assert send_http(sub.url, command).status_code == 201

    async def followed():
        return len(read(aud.url, "/timeline").json()) >= 3
    await wait_until(followed, timeout=60)
    genuine = f"{sub.prefix}.submission.events"
    records = await read_topic(kafka_bootstrap, genuine)
    rewritten = []
    for record in records:  # each stream here has one event: re-seal with an edit
        fields = json.loads(record.value)
        fields["payload"]["name_ko"] += " (수정)"
        del fields["hash"]
        rewritten.append((record.key, seal(fields).to_json().encode()))
    forged = f"{sub.prefix}.forged.events"
    ensure_topics(kafka_bootstrap, [Topic(forged, "a rewritten copy", 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    for key, value in rewritten:
        await producer.send_and_wait(forged, value, key=key)
    await producer.stop()

    chain_only = audit(kafka_bootstrap, sub.prefix, "verify", "--topic", forged)
    assert chain_only.returncode == 0, "a consistent rewrite passes the hash chain alone"
    checked = audit(kafka_bootstrap, sub.prefix, "verify", "--topic", forged,
                    "--checkpoints", aud.database_url)
    assert checked.returncode == 1 and "history was rewritten" in checked.stderr
    honest = audit(kafka_bootstrap, sub.prefix, "verify", "--topic", genuine,
                   "--checkpoints", aud.database_url)
    assert honest.returncode == 0 and "all 3 chain heads" in honest.stdout, honest.stderr
