"""Hostile records against a live deployment: the real broker and every service as
its own process. A few hundred hostile records — seeded hypothesis samples plus the
named categories (invalid UTF-8, 2 MB, nesting 10,000 deep, 1e309, 2**70, schema
version 99, duplicate command ids, a near-limit record, stream gaps, reordering, forks
and duplicate event ids) — go to each service's commands topic, scoring's ingress
topics and the submission events topic (read by scoring and by audit), interleaved
with valid commands. Afterwards every hostile record is accounted for (a dead letter
with a reason, a CommandRejected event, or a no-op duplicate), every valid command
is applied exactly once, and every service is still ready."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import select

from scenarios import grants2021, seeds, y2021
from scenarios.client import KafkaCommands, published_events, send_external, send_http
from services.audit.adapters import timeline as audit_tables
from shared.db import Database
from shared.deadletter import header
from shared.envelope import Envelope
from shared.tables import backbone, inbox, projection_streams
from tests.integration.helpers import read_topic, wait_until

from . import tally
from .hostile import any_bytes, encode, hostile_envelope, nested
from .test_event_streams import fork, stream_of
from .world import CMD_ID, FUTURE, OFFICER, external_templates, message

pytestmark = pytest.mark.integration

SERVICES = ("submission", "scoring", "committee", "grants", "audit")
PER_COMMAND_TOPIC, PER_INGRESS, PER_EVENTS = 45, 25, 35
KEYS = {"submission": "institution_id", "committee": "committee_id",
        "grants": "organisation_id"}
VALID = {
    "submission": lambda n: ({"command_type": "RegisterInstitution", "institution_id": n,
                              "name_ko": "기관", "kind": "bureau"}, OFFICER),
    "committee": lambda n: ({"command_type": "EstablishCommittee", "committee_id": n,
                             "institution_id": "democracy", "name_ko": "위원회",
                             "kind": "k"}, seeds.secretary_for(n)),
    "grants": lambda n: ({"command_type": "RegisterOrganisation", "organisation_id": n,
                          "name_ko": "단체", "registered_nonprofit": True,
                          "funded_before": False}, grants2021.OFFICER),
}


def sample(strategy, n: int) -> list:
    """n examples of a strategy, the same every run (hypothesis, derandomized)."""
    found: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        found.append(value)
    collect()
    return found[:n]


class Ledger:
    """What was produced where, and what each record must come to."""

    def __init__(self, producer: AIOKafkaProducer):
        self.producer = producer
        self.hostile: dict[str, list[tuple[int, int, bytes]]] = {}  # topic -> records
        self.refused_by_producer: list[tuple[str, int, str]] = []

    async def send(self, topic: str, raw: bytes, key: bytes = b"k") -> None:
        try:
            meta = await self.producer.send_and_wait(topic, raw, key=key)
        except KafkaError as refused:  # explicit: the producer or broker said no
            assert len(raw) > 1_000_000, (len(raw), refused)
            self.refused_by_producer.append((topic, len(raw), type(refused).__name__))
            tally.record(f"live {topic.split('.', 1)[1]}", "refused-with-reason")
            return
        self.hostile.setdefault(topic, []).append((meta.partition, meta.offset, raw))


async def _inbox(svc, consumer: str) -> set[str]:
    db = Database(svc.database_url, backbone)
    try:
        async with db.reading() as conn:
            return set((await conn.execute(select(inbox.c.event_id).where(
                inbox.c.consumer == consumer))).scalars())
    finally:
        await db.dispose()


async def _dead_letters(bootstrap: str, topic: str) -> dict[tuple[str, int, int], str]:
    """(consumer, partition, offset) of each dead letter of `topic` -> its reason."""
    found = {}
    for r in await read_topic(bootstrap, f"{topic}.dlq", timeout=60):
        where = (header(r.headers, "x-dlq-consumer"),
                 int(header(r.headers, "x-dlq-original-partition")),
                 int(header(r.headers, "x-dlq-original-offset")))
        found[where] = header(r.headers, "x-dlq-reason") or ""
    return found


def _message_id(raw: bytes, kind: str) -> str | None:
    try:
        doc = json.loads(raw)
        if kind == "command":
            return str(doc["command_id"])
        if kind == "external":
            return f"ext:{doc['source']}:{doc['event_id']}"
        return str(doc["event_id"])
    except Exception:  # noqa: BLE001 — not JSON or no id: it must be a dead letter
        return None


async def _account(bootstrap: str, ledger: Ledger, topic: str, svc, consumer: str,
                   kind: str, rejected: set[str]) -> tuple[list, dict[str, int]]:
    """Each hostile record's fate: a dead letter with a reason, a CommandRejected, or
    applied (its id in the consumer's inbox: accepted, or a no-op duplicate)."""
    dead = await _dead_letters(bootstrap, topic)
    applied = await _inbox(svc, consumer)
    missing, fates = [], {"refused-with-reason": 0, "accepted": 0}
    for partition, offset, raw in ledger.hostile.get(topic, []):
        reason = dead.get((consumer, partition, offset))
        if reason is not None:
            assert reason.strip() and not reason.startswith(("handler failed",
                                                             "projection failed")), reason
            fates["refused-with-reason"] += 1
            continue
        ident = _message_id(raw, kind)
        if ident in applied:
            fates["refused-with-reason" if ident in rejected else "accepted"] += 1
            continue
        missing.append((partition, offset, raw[:120]))
    return missing, fates


async def test_hostile_records_on_every_topic_of_a_live_deployment(stack, kafka_bootstrap):
    deployed = dict(zip(SERVICES, stack(*SERVICES)))
    prefix = deployed["submission"].prefix
    sub = deployed["submission"]
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": FUTURE}).status_code == 201
    for cmd in y2021.institution_commands()[:5]:
        assert send_http(sub.url, cmd, actor=y2021.ORG_REGISTRY).status_code == 201

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    ledger, valid = Ledger(producer), {s: [] for s in VALID}
    try:
        # -- commands topics: hostile records, valid commands in between ------------
        async with KafkaCommands(kafka_bootstrap, prefix) as kafka:
            for service, make in VALID.items():
                topic = f"{prefix}.{service}.commands"
                template = await message(*make("template"))
                records = sample(any_bytes(template, ("DropAllTables",), ("command",)),
                                 PER_COMMAND_TOPIC) + list(_named(template).values())
                kafka.topic = topic
                for n, raw in enumerate(records):
                    await ledger.send(topic, raw.replace(CMD_ID.encode(),
                                                         f"h-{uuid.uuid4()}".encode()))
                    if n % 8 == 0:
                        ident = f"ok-{service}-{n}"
                        command, actor = make(ident)
                        cid = await kafka.send(command, actor=actor, command_id=ident,
                                               key=ident)
                        valid[service].append(ident)
                        if n % 16 == 0:  # the same command id again: a no-op
                            await kafka.send(command, actor=actor, command_id=cid, key=ident)
                # a record just under the broker's limit, then a valid command behind it
                # on the same partition: it must be parked, not block the partition
                # (the broker takes a value of about 1,048,480 bytes; its dead letter,
                # with the x-dlq headers on top, would not fit whole)
                bare = encode({**template, "padding": ""}).replace(CMD_ID.encode(),
                                                                  b"near-limit")
                near = bare.replace(b'"padding":""',
                                    b'"padding":"' + b"p" * (1_048_440 - len(bare)) + b'"')
                await ledger.send(topic, near, key=b"same-partition")
                assert ledger.hostile[topic][-1][2] == near  # the broker took it
                command, actor = make(f"after-near-limit-{service}")
                await kafka.send(command, actor=actor, command_id=f"after-near-{service}",
                                 key="same-partition")
                valid[service].append(f"after-near-limit-{service}")

        # -- scoring's ingress topics ------------------------------------------------
        hr_ok = []
        for ingress, template in external_templates().items():
            topic = f"{prefix}.ingress.{ingress}"
            for raw in sample(any_bytes(template, (), ("payload",)), PER_INGRESS):
                await ledger.send(topic, raw.replace(CMD_ID.encode(),
                                                     f"h-{uuid.uuid4()}".encode()))
            fact = dict(external_templates()["hr"], event_id=f"hr-ok-{ingress}")
            await send_external(kafka_bootstrap, f"{prefix}.ingress.hr", [fact])
            hr_ok.append(fact["event_id"])

        # -- the submission events topic, read by scoring and by audit ---------------
        events_topic = f"{prefix}.submission.events"
        real = await wait_until(lambda: _published(kafka_bootstrap, prefix, 6), timeout=120)
        template = next(e for e in real if e.event_type == "submission.InstitutionRegistered")
        envelopes = [json.loads(e.to_json()) for e in real]
        for raw in sample(hostile_envelope(envelopes), PER_EVENTS):
            await ledger.send(events_topic, raw.replace(CMD_ID.encode(),
                                                        str(uuid.uuid4()).encode()))
        forged = stream_of("forged-stream", template)
        v1, v2, v3 = forged
        for env in (v2, v1, v1, fork(v1, kind="field_office"), v3, v2, v3):
            await ledger.send(events_topic, env.to_json().encode(),
                              key=env.stream_id.encode())

        # -- oversize: refused explicitly by the producer, and by the broker ----------
        await ledger.send(f"{prefix}.submission.commands", encode(
            {"padding": "x" * 2_000_000}))
        big = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap,
                               max_request_size=4 * 1024 * 1024)
        await big.start()
        try:
            ledger.producer, keep = big, ledger.producer
            await ledger.send(f"{prefix}.committee.commands", b"[" + b"0," * 1_000_000 + b"0]")
        finally:
            ledger.producer = keep
            await big.stop()
        assert len(ledger.refused_by_producer) == 2, ledger.refused_by_producer

        # -- an accepted event too large for the log must not stall the relay --------
        report = y2021.report_command("planning", __import__("random").Random(3))
        report["results"][0]["evidence_refs"] = ["r" * 15_000] * 100  # 1.5 MB of refs
        huge = send_http(sub.url, report, actor=y2021.submitter("planning"))
        assert huge.status_code < 500, huge.text[:500]
        assert send_http(sub.url, VALID["submission"]("after-huge-report")[0],
                         actor=OFFICER).status_code == 201
        valid["submission"].append("after-huge-report")
    finally:
        await producer.stop()

    # -- every valid command applied exactly once -------------------------------------
    for service, idents in valid.items():
        async def once(service=service, idents=idents):
            found = await relayed(kafka_bootstrap, prefix, service)
            counts = {i: 0 for i in idents}
            for e in found:
                ident = e.payload.get(KEYS[service])
                if ident in counts and not e.event_type.endswith("CommandRejected"):
                    counts[ident] += 1
            return counts if all(counts.values()) else None
        counts = await wait_until(once, timeout=300)
        assert set(counts.values()) == {1}, counts
    scoring = deployed["scoring"]
    await wait_until(lambda: _has(scoring, "external-facts",
                                  {f"ext:seoul-hr:{i}" for i in hr_ok}), timeout=300)

    # -- every hostile record accounted for -------------------------------------------
    checks = [(f"{prefix}.{s}.commands", deployed[s], "commands", "command")
              for s in VALID] + [
        (f"{prefix}.ingress.{i}", scoring, "external-facts", "external")
        for i in ("hr", "education")] + [
        (events_topic, scoring, "submission-facts", "event")]
    rejected = set()
    for service in VALID:
        rejected |= {e.payload["command_id"] for e in await relayed(kafka_bootstrap, prefix,
                                                                    service)
                     if e.event_type.endswith("CommandRejected")}
    for topic, svc, consumer, kind in checks:
        fates = await wait_until(lambda: _settled(kafka_bootstrap, ledger, topic, svc,
                                                  consumer, kind, rejected), timeout=300)
        for fate, n in fates.items():
            tally.record(f"live {topic.split('.', 1)[1]}", fate, n)
    await wait_until(lambda: _audit_settled(kafka_bootstrap, ledger, events_topic,
                                            deployed["audit"]), timeout=300)

    # -- the forged stream: applied once each, in order, by scoring ---------------------
    applied = await _inbox(scoring, "submission-facts")
    assert {v1.event_id, v2.event_id, v3.event_id} <= applied
    db = Database(scoring.database_url, backbone)
    async with db.reading() as conn:
        at = await conn.scalar(select(projection_streams.c.version).where(
            projection_streams.c.projection == "consumer:submission-facts",
            projection_streams.c.stream_id == v1.stream_id))
    await db.dispose()
    assert at == 3

    # -- nothing of a refused command stored; every service still ready ----------------
    for service in VALID:
        found = await relayed(kafka_bootstrap, prefix, service)
        refused = {e.payload["command_id"] for e in found
                   if e.event_type.endswith("CommandRejected")}
        assert not [e for e in found if e.causation_id in refused
                    and not e.event_type.endswith("CommandRejected")]
    for svc in deployed.values():
        answer = httpx.get(f"{svc.url}/health/ready", timeout=30)
        assert answer.status_code == 200, (svc.service, answer.text)


def _named(template: dict) -> dict[str, bytes]:
    version = str(template["schema_version"]).encode()
    raw = encode(template)
    return {
        "invalid utf-8": raw.replace(b'"command"', b'"comm\xffand"'),
        "nested 10,000 deep": encode({**template, "deep": nested(10_000)}),
        "1e309": raw.replace(b'"schema_version":' + version, b'"schema_version":1e309'),
        "2**70": raw.replace(b'"schema_version":' + version,
                             b'"schema_version":' + str(2 ** 70).encode()),
        "schema_version 99": encode({**template, "schema_version": 99}),
        "unknown command type": encode({**template, "command": {"command_type": "Drop"}}),
        "empty": b"",
    }


async def relayed(bootstrap: str, prefix: str, service: str) -> list[Envelope]:
    """The events the service's relay published (it names each in a header), not
    the hostile records this test wrote to the same topic."""
    records = await read_topic(bootstrap, f"{prefix}.{service}.events", timeout=60)
    return [Envelope.from_json(r.value) for r in records if header(r.headers, "event_id")]


async def _published(bootstrap, prefix, count) -> list[Envelope] | None:
    found = await published_events(bootstrap, prefix)
    return found if len(found) >= count else None


async def _has(svc, consumer: str, wanted: set[str]) -> bool:
    return wanted <= await _inbox(svc, consumer)


async def _settled(bootstrap, ledger, topic, svc, consumer, kind, rejected):
    missing, fates = await _account(bootstrap, ledger, topic, svc, consumer, kind, rejected)
    return None if missing else fates


async def _audit_settled(bootstrap, ledger, topic, audit) -> bool:
    """Audit's timeline: each hostile record parked with a reason, applied, or skipped
    as a duplicate of a version it already holds."""
    dead = await _dead_letters(bootstrap, topic)
    db = Database(audit.database_url, backbone, audit_tables.metadata)
    try:
        async with db.reading() as conn:
            rows = set((await conn.execute(select(audit_tables.timeline.c.event_id)))
                       .scalars())
            heads = dict((await conn.execute(select(audit_tables.heads.c.stream_id,
                                                    audit_tables.heads.c.version))).all())
    finally:
        await db.dispose()
    for partition, offset, raw in ledger.hostile.get(topic, []):
        if ("audit-timeline", partition, offset) in dead:
            continue
        try:
            e = json.loads(raw)
            if e["event_id"] in rows or heads.get(e["stream_id"], 0) >= e["stream_version"]:
                continue
        except Exception:  # noqa: BLE001
            pass
        return False
    return True

