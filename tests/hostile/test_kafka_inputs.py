"""Hostile records on every Kafka topic a service consumes, through its real consumer.

Command topics (submission, committee, grants), scoring's ingress topics (HR,
education) and the events topics other services follow (scoring reads submission
and committee events; audit reads every events topic). Each record is classified
(accepted / refused with a reason / duplicate no-op) and a crash, a dead letter
without a reason, a refusal that wrote more than its reason, a double apply or an
unpublishable event fails the test. Valid traffic is checked to flow afterwards.
"""
from __future__ import annotations

import json

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios import seeds
from scenarios.sso import dev_sso
from shared.topics import events_topic

from . import tally
from .harness import Crash, Record, feed, kafka_input
from .hostile import any_bytes, encode, hostile_envelope, nested
from .world import CMD_ID, external_templates, message, templates

FUZZ = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=list(HealthCheck))
COMMAND_SERVICES = ("submission", "committee", "grants")
ALL_TYPES = tuple(t.command_type for ts in templates().values() for t in ts)
KEYS = [b"k", None, b"", b"\xff\xfe", "서울".encode(), b"x" * 1000]
HEADERS = [(), (("x-dlq-reason", b"stale"),), (("traceparent", b"\xff\x00"),),
           (("", b""), ("k", b"v" * 5000))]


@pytest_asyncio.fixture(scope="module")
async def messages(world):
    """Each command template in the form the client sends on Kafka."""
    return {name: [await message(t.body, t.actor) for t in templates()[name]]
            for name in COMMAND_SERVICES}


def _ids(world, data, prefix: str) -> str:
    """A fresh id, or now and then one already used (a duplicate must be a no-op)."""
    used = world.__dict__.setdefault("used_ids", [])
    # Draws of fixed shape: what they pick may depend on the ids used so far, the
    # draws themselves must not (hypothesis replays them).
    reuse = data.draw(st.integers(0, 9), label="reuse") == 0
    back = data.draw(st.integers(1, 50), label="how far back")
    if reuse and used:
        return used[-min(back, len(used))]
    fresh = world.fresh_id(prefix)
    used.append(fresh)
    return fresh


@pytest.mark.parametrize("service", COMMAND_SERVICES)
@settings(max_examples=tally.examples(700), **FUZZ)
@given(data=st.data())
async def test_command_topic(world, messages, service, data):
    svc = world[service]
    template = data.draw(st.sampled_from(messages[service]), label="template")
    raw = data.draw(any_bytes(template, ALL_TYPES, ("command",)), label="record")
    raw = raw.replace(CMD_ID.encode(), _ids(world, data, "cmd").encode())
    delivery = svc.delivery(f"hyeopchi.{service}.commands", raw,
                            data.draw(st.sampled_from(KEYS)), data.draw(st.sampled_from(HEADERS)))
    await kafka_input(svc, "commands", f"kafka {service}.commands", delivery,
                      rejected_type=f"{service}.CommandRejected")


@pytest.mark.parametrize("ingress", ["hr", "education"])
@settings(max_examples=tally.examples(450), **FUZZ)
@given(data=st.data())
async def test_ingress_topic(world, ingress, data):
    scoring = world["scoring"]
    template = external_templates()[ingress]
    raw = data.draw(any_bytes(template, ("hr.HeadcountReported",
                                         "education.CourseCompleted"), ("payload",)),
                    label="record")
    raw = raw.replace(CMD_ID.encode(), _ids(world, data, "ext").encode())
    delivery = scoring.delivery(f"hyeopchi.ingress.{ingress}", raw,
                                data.draw(st.sampled_from(KEYS)))
    await kafka_input(scoring, "external-facts", f"kafka ingress.{ingress}", delivery)


# ------------------------------------------------- events topics other services read

class Followed:
    """The real envelopes of the followed topics, and what scoring applied of each
    stream (it is first given every event recorded so far, in order)."""

    def __init__(self, envelopes: dict[str, list[dict]]):
        self.envelopes = envelopes
        self.heads: dict[str, dict[str, int]] = {s: {} for s in envelopes}
        for s, found in envelopes.items():
            for e in found:
                self.heads[s][e["stream_id"]] = max(self.heads[s].get(e["stream_id"], 0),
                                                    e["stream_version"])

    def __repr__(self) -> str:
        return f"Followed({ {s: len(e) for s, e in self.envelopes.items()} })"


@pytest_asyncio.fixture(scope="module")
async def followed(world):
    for source in ("submission", "committee"):
        await world.feed_scoring(source)  # what the command tests recorded meanwhile
    return Followed({s: [json.loads(e.to_json()) for e in await world.envelopes(s)]
                     for s in ("submission", "committee")})


@pytest.mark.parametrize("source", ["submission", "committee"])
@settings(max_examples=tally.examples(450), **FUZZ)
@given(data=st.data())
async def test_events_topic_followed_by_scoring(world, followed, source, data):
    envelopes, heads = followed.envelopes, followed.heads
    scoring = world["scoring"]
    consumer = f"{source}-facts"
    raw = data.draw(hostile_envelope(envelopes[source]), label="record")
    raw = raw.replace(CMD_ID.encode(), _ids(world, data, "evt").encode())
    surface = f"kafka {source}.events -> scoring"
    outcome = await kafka_input(scoring, consumer, surface, scoring.delivery(
        events_topic(source).name, raw, b"stream"))
    if outcome == "accepted":  # applied: it must have been the stream's next event
        e = json.loads(raw)
        last = heads[source].get(e["stream_id"], 0)
        if e["stream_version"] != last + 1:
            tally.record(surface, "crash")
            raise Crash(f"{surface}: applied {e['stream_id']} v{e['stream_version']} "
                        f"after v{last} (a gap, a fork or a replay applied)")
        heads[source][e["stream_id"]] = e["stream_version"]


@settings(max_examples=tally.examples(500), **FUZZ)
@given(data=st.data())
async def test_events_topics_followed_by_audit(world, followed, data):
    """The audit timeline (a projection over every events topic): a hostile record is
    applied, skipped as a duplicate, or parked with a reason; never a failed batch."""
    envelopes = followed.envelopes
    audit = world["audit"]
    [runner] = audit.runners
    source = data.draw(st.sampled_from(sorted(envelopes)))
    raw = data.draw(hostile_envelope(envelopes[source]), label="record")
    raw = raw.replace(CMD_ID.encode(), _ids(world, data, "evt").encode())
    surface = "kafka *.events -> audit"
    before = (runner.applied, runner.skipped, len(audit.projection_sink.sent))
    record = Record(events_topic(source).name, 0, next(audit.offsets), b"s", raw)
    try:
        await feed(runner, [record])
    except Exception as error:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: the projection failed on {raw[:300]!r}: {error!r}")
    parked = audit.projection_sink.sent[before[2]:]
    if parked:
        reasons = [dict((k, v.decode()) for k, v in p[3]).get("x-dlq-reason", "")
                   for p in parked]
        if len(parked) != 1 or not reasons[0] or reasons[0].startswith("projection failed"):
            tally.record(surface, "crash")
            raise Crash(f"{surface}: parked {reasons!r}")
        tally.record(surface, "refused-with-reason")
    elif runner.applied > before[0]:
        tally.record(surface, "accepted")
    elif runner.skipped > before[1]:
        tally.record(surface, "duplicate-no-op")
    else:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: record neither applied, skipped nor parked: {raw[:300]!r}")


# ---------------------------------------------------------------- named cases

def _named_commands(template: dict) -> dict[str, bytes]:
    doc = dict(template)
    return {
        "invalid utf-8": encode(doc).replace(b'"command_type"', b'"command\xff_type"'),
        "2 MB message": encode({**doc, "padding": "x" * 2_000_000}),
        "nested 10,000 deep": encode({**doc, "command": {**doc["command"],
                                                          "name_ko": nested(10_000)}}),
        "1e309": encode(doc).replace(b'"schema_version":' +
                                     str(doc["schema_version"]).encode(),
                                     b'"schema_version":1e309'),
        "2**70": encode(doc).replace(b'"schema_version":' +
                                     str(doc["schema_version"]).encode(),
                                     b'"schema_version":' + str(2 ** 70).encode()),
        "schema_version 99": encode({**doc, "schema_version": 99}),
        "unknown command type": encode({**doc, "command": {"command_type": "DropAllTables"}}),
        "empty": b"",
    }


async def test_named_hostile_records_and_duplicate_command_ids(world, messages):
    """The categories the issue names, on every command topic, then one valid
    command sent twice: the second delivery is a no-op, not a second effect."""
    for service in COMMAND_SERVICES:
        svc = world[service]
        template = next(m for m in messages[service]
                        if m["command"]["command_type"] in ("RegisterInstitution",
                                                            "EstablishCommittee",
                                                            "RegisterOrganisation"))
        for name, raw in _named_commands(template).items():
            raw = raw.replace(CMD_ID.encode(), world.fresh_id("named").encode())
            outcome = await kafka_input(svc, "commands", f"kafka {service}.commands",
                                        svc.delivery(f"hyeopchi.{service}.commands", raw),
                                        rejected_type=f"{service}.CommandRejected")
            assert outcome == "dlq", (service, name, outcome)
        fresh = world.fresh_id("twice")
        body = json.loads(encode(template).replace(CMD_ID.encode(), fresh.encode()))
        ident = {"submission": "institution_id", "committee": "committee_id",
                 "grants": "organisation_id"}[service]
        body["command"][ident] = fresh
        if service == "committee":  # a secretary's token names the committees they serve
            body["token"] = dev_sso().issue(seeds.secretary_for(fresh, fresh + "-b"))
        raw = json.dumps(body, ensure_ascii=False).encode()
        first = await kafka_input(svc, "commands", f"kafka {service}.commands",
                                  svc.delivery(f"hyeopchi.{service}.commands", raw),
                                  rejected_type=f"{service}.CommandRejected")
        again = await kafka_input(svc, "commands", f"kafka {service}.commands",
                                  svc.delivery(f"hyeopchi.{service}.commands", raw),
                                  rejected_type=f"{service}.CommandRejected")
        other = json.dumps({**body, "command": {**body["command"], ident: fresh + "-b"}})
        same_id = await kafka_input(svc, "commands", f"kafka {service}.commands",
                                    svc.delivery(f"hyeopchi.{service}.commands",
                                                 other.encode()),
                                    rejected_type=f"{service}.CommandRejected")
        assert (first, again, same_id) == ("accepted", "duplicate", "duplicate")


async def test_valid_traffic_still_flows_after_hostile_records(world):
    await world.still_serving()
