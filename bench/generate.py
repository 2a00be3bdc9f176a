"""Realistic sealed events of the services' real types, fast, on a real broker.

Each "institution unit" is 14 events in 5 streams, the shapes the 2021 scenario makes:
  submission: institution-<id>  InstitutionRegistered (v2)
              report-2021-<id>  ReportSubmitted, IndicatorMarkedNotApplicable
  scoring:    headcount-<id>    HeadcountRecorded
              learning-<id>     CourseCompletionRecorded x 4
              scorecard-2021-<id> ScoreComputed x 6 (one per indicator)
Payloads are dumped once per type from the real pydantic models and then varied by
id; envelopes are sealed the way `shared.envelope.seal` does (canonical JSON, SHA-256
chained per stream) but from plain dicts, which is ~10x faster. `check_sample`
proves the shortcut: sampled records equal `seal(...).to_json()` byte for byte, are
sealed, chain, and decode with the services' registries.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from aiokafka import AIOKafkaProducer

from shared.envelope import GENESIS_HASH, Envelope, canonical_json, seal
from shared.ids import new_id
from shared.topics import Topic, ensure_topics

EVENTS_PER_UNIT = 14
INDICATORS = ["committee-openness", "committee-meetings", "governance-process",
              "governance-education", "governance-case", "governance-leadership"]
BASE_TIME = datetime(2021, 3, 31, 0, 0, tzinfo=timezone.utc)


def _templates() -> dict[str, dict]:
    """One JSON-mode payload per event type, from the services' own models."""
    from scenarios import y2021
    from services.scoring.domain import events as sc
    from services.submission.domain import events as su

    rng = random.Random(9)
    report = y2021.report_command("planning", rng)
    while len(report["results"]) < 4:
        report = y2021.report_command("planning", rng)
    return {
        "registered": su.InstitutionRegistered(
            institution_id="X", name_ko="벤치마크 기관", kind="bureau",
            division_count=4).model_dump(mode="json"),
        "submitted": su.ReportSubmitted(
            cycle_id="2021", institution_id="X", submission_id="X",
            rulebook_ref="governance-capability/2021/v1",
            results=report["results"]).model_dump(mode="json"),
        "not_applicable": su.IndicatorMarkedNotApplicable(
            cycle_id="2021", institution_id="X", indicator_id="committee-openness",
            reason="해당 위원회 없음 (no committee of this kind)").model_dump(mode="json"),
        "headcount": sc.HeadcountRecorded(
            institution_id="X", headcount=120, as_of=date(2021, 3, 31),
            external_event_id="X", source_system="seoul-hr").model_dump(mode="json"),
        "completion": sc.CourseCompletionRecorded(
            institution_id="X", course_id="governance-and-citizens", learner_ref="X",
            completed_on=date(2020, 11, 1), external_event_id="X",
            source_system="seoul-mooc").model_dump(mode="json"),
        "score": sc.ScoreComputed(
            cycle_id="2021", institution_id="X", indicator_id="committee-openness",
            points=Decimal("12.5"), max_points=20, source="measured", weight=Decimal("1"),
            measure={"open_call_share": "0.35"}, inputs=["X"],
            explanation="공모 위원 비율 35% → 12.5점", rulebook_ref="governance-capability/2021/v1",
            ).model_dump(mode="json"),
    }


SYSTEM = {"id": "scoring-service", "role": "system", "kind": "system"}
SUBMITTER = {"id": "submitter-bench", "role": "institution_submitter", "kind": "person"}
REGISTRY = {"id": "seoul-org-registry", "role": "city_system", "kind": "system"}


class Sealer:
    """Seals envelopes stream by stream, keeping each stream's head hash."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str]] = {}

    def seal(self, stream_id: str, event_type: str, schema_version: int, payload: dict,
             at: str, actor: dict, source: str, correlation_id: str,
             causation_id: str | None = None) -> tuple[bytes, str]:
        version, prev = self.heads.get(stream_id, (0, GENESIS_HASH))
        fields = {"event_id": new_id(), "event_type": event_type,
                  "schema_version": schema_version, "stream_id": stream_id,
                  "stream_version": version + 1, "occurred_at": at, "recorded_at": at,
                  "actor": actor, "causation_id": causation_id,
                  "correlation_id": correlation_id, "source": source,
                  "payload": payload, "prev_hash": prev}
        digest = hashlib.sha256(canonical_json(fields).encode()).hexdigest()
        fields["hash"] = digest
        self.heads[stream_id] = (version + 1, digest)
        return canonical_json(fields).encode(), fields["event_id"]


def unit_events(sealer: Sealer, t: dict[str, dict], n: int, run: str
                ) -> list[tuple[str, str, bytes]]:
    """The 14 records of institution unit n: (service, stream id, sealed body)."""
    inst = f"{run}-{n:07d}"
    at = (BASE_TIME + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    corr = f"bench-{run}-{n}"
    out = []

    def add(service, stream, event_type, version, payload, actor, cause=None):
        body, event_id = sealer.seal(stream, event_type, version, payload, at, actor,
                                     service, corr, cause)
        out.append((service, stream, body))
        return event_id

    add("submission", f"institution-{inst}", "submission.InstitutionRegistered", 2,
        {**t["registered"], "institution_id": inst}, REGISTRY)
    report = f"report-2021-{inst}"
    cause = add("submission", report, "submission.ReportSubmitted", 1,
                {**t["submitted"], "institution_id": inst, "submission_id": f"2021-{inst}-0"},
                SUBMITTER)
    add("submission", report, "submission.IndicatorMarkedNotApplicable", 1,
        {**t["not_applicable"], "institution_id": inst}, SUBMITTER, cause)
    hc = add("scoring", f"headcount-{inst}", "scoring.HeadcountRecorded", 1,
             {**t["headcount"], "institution_id": inst, "headcount": 30 + n % 270,
              "external_event_id": f"hr-{inst}"}, SYSTEM)
    for k in range(4):
        add("scoring", f"learning-{inst}", "scoring.CourseCompletionRecorded", 1,
            {**t["completion"], "institution_id": inst, "learner_ref": f"L{k:04d}",
             "external_event_id": f"edu-{inst}-{k}"}, SYSTEM)
    for indicator in INDICATORS:
        add("scoring", f"scorecard-2021-{inst}", "scoring.ScoreComputed", 1,
            {**t["score"], "institution_id": inst, "indicator_id": indicator,
             "inputs": [cause, hc]}, SYSTEM, cause)
    return out


def check_sample(records: list[tuple[str, str, bytes]]) -> int:
    """The shortcut equals the real sealing: same bytes as `seal().to_json()`, sealed,
    chained, decodable by the owning service's registry. Returns records checked."""
    from services.scoring.domain.events import registry as scoring
    from services.submission.domain.events import registry as submission
    registries = {"submission": submission, "scoring": scoring}
    heads: dict[str, str] = {}
    for service, stream, body in records:
        env = Envelope.from_json(body)
        again = seal(env.model_dump(exclude={"hash"}))
        assert again.to_json().encode() == body, f"{stream}: not canonical as sealed"
        assert env.is_sealed() and env.prev_hash == heads.get(stream, GENESIS_HASH)
        registries[service].decode(env.event_type, env.schema_version, env.payload)
        heads[stream] = env.hash
    return len(records)


def topics_for(prefix: str) -> dict[str, str]:
    return {s: f"{prefix}.{s}.events" for s in ("submission", "scoring", "committee",
                                                 "grants")}


async def produce_events(bootstrap: str, prefix: str, events: int,
                         progress=None) -> dict:
    """Create the four event topics of `prefix` and fill submission's and scoring's
    with at least `events` sealed events; returns counts and timings."""
    names = topics_for(prefix)
    ensure_topics(bootstrap, [Topic(n, "bench") for n in names.values()])
    templates, sealer = _templates(), Sealer()
    units = -(-events // EVENTS_PER_UNIT)
    check_sample([r for n in range(3) for r in unit_events(Sealer(), templates, n, "chk")])
    # Idempotent: a retry (say, right after the topics were made) never doubles or
    # reorders a record, so each stream's chain arrives whole and in order.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=1 << 20, client_id="bench-generator")
    await producer.start()
    started, counts, sample = time.perf_counter(), {"submission": 0, "scoring": 0}, []
    try:
        pending = []
        for n in range(units):
            records = unit_events(sealer, templates, n, prefix)
            if n < 2:
                sample += records
            for service, stream, body in records:
                pending.append(await producer.send(names[service], body,
                                                   key=stream.encode()))
                counts[service] += 1
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress(sum(counts.values()))
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    check_sample(sample)
    return {"events": sum(counts.values()), "by_topic": {names[s]: c for s, c in
                                                          counts.items()},
            "units": units, "seconds": time.perf_counter() - started}


def _main() -> None:  # python -m bench.generate BOOTSTRAP PREFIX EVENTS
    import sys
    result = asyncio.run(produce_events(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print(json.dumps(result))


if __name__ == "__main__":
    _main()
