"""Events of another service arriving wrong: duplicate event ids, stream-version gaps,
reordering, a fork at an applied version. Scoring's consumer of submission events and
the audit timeline (a projection over every events topic) must apply each stream's
events once and in order: a duplicate is a no-op, a gap or a fork is parked with
the reason, nothing is applied twice — and the stream goes on once the missing
event arrives."""
from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from services.scoring.adapters import facts_store as facts
from shared.deadletter import header
from shared.envelope import GENESIS_HASH, Envelope, seal
from shared.topics import events_topic

from . import tally
from .harness import Record, feed

TOPIC = events_topic("submission").name
SURFACE = "kafka submission.events (ordered streams)"


def chain(template: Envelope, institution: str, payloads: list[tuple[str, dict]]
          ) -> list[Envelope]:
    """A well-formed stream of submission events about one institution."""
    out, prev = [], GENESIS_HASH
    for version, (event_type, payload) in enumerate(payloads, start=1):
        fields = json.loads(template.to_json())
        fields.pop("hash")
        fields.update(event_id=str(uuid.uuid4()), event_type=event_type, schema_version=1,
                      stream_id=f"institution-{institution}", stream_version=version,
                      payload=payload, prev_hash=prev, causation_id=None)
        if event_type == "submission.InstitutionRegistered":
            fields["schema_version"] = template.schema_version
        env = seal(fields)
        out.append(env)
        prev = env.hash
    return out


def fork(env: Envelope, **payload) -> Envelope:
    fields = json.loads(env.to_json())
    fields.pop("hash")
    fields.update(event_id=str(uuid.uuid4()), payload={**fields["payload"], **payload})
    return seal(fields)


def stream_of(institution: str, template: Envelope) -> list[Envelope]:
    return chain(template, institution, [
        ("submission.InstitutionRegistered", {**template.payload,
                                              "institution_id": institution}),
        ("submission.FieldOfficeTreatmentSet", {"institution_id": institution,
                                                "treated_as_field_office": True,
                                                "reason": "현업부서"}),
        ("submission.FieldOfficeTreatmentSet", {"institution_id": institution,
                                                "treated_as_field_office": False,
                                                "reason": "원복"})])


async def _template(world) -> Envelope:
    return next(e for e in await world.envelopes("submission")
                if e.event_type == "submission.InstitutionRegistered")


async def test_scoring_applies_each_stream_once_and_in_order(world):
    scoring = world["scoring"]
    handler, sink = scoring.consumers["submission-facts"], scoring.sinks["submission-facts"]
    institution = world.fresh_id("ordered")
    v1, v2, v3 = stream_of(institution, await _template(world))

    async def deliver(env: Envelope, raw: bytes | None = None) -> tuple[str, str | None]:
        parked = len(sink.sent)
        outcome = await handler.handle(scoring.delivery(TOPIC, raw or env.to_json().encode(),
                                                        env.stream_id.encode()))
        reason = header(sink.sent[-1][3], "x-dlq-reason") if len(sink.sent) > parked else None
        tally.record(SURFACE, {"applied": "accepted", "duplicate": "duplicate-no-op",
                               "dead-lettered": "refused-with-reason"}[outcome])
        return outcome, reason

    async def treated() -> bool | None:
        async with scoring.db.reading() as conn:
            return await conn.scalar(select(facts.f_institutions.c.treated_as_field_office)
                                     .where(facts.f_institutions.c.institution_id ==
                                            institution))

    assert (await deliver(v2))[0] == "dead-lettered"          # reordered: v2 before v1
    assert await treated() is None
    assert await deliver(v1) == ("applied", None)
    assert await deliver(v1) == ("duplicate", None)           # the same event id again
    outcome, why = await deliver(fork(v1, kind="field_office"))  # another event at v1
    assert outcome == "dead-lettered" and "already applied" in why
    outcome, why = await deliver(v3)                           # a gap: v2 missing
    assert outcome == "dead-lettered" and "v3 after v1" in why and "missing" in why
    assert await treated() is False
    assert await deliver(v2) == ("applied", None)              # the missing one arrives
    assert await treated() is True
    assert await deliver(v3) == ("applied", None)              # and the stream goes on
    assert await treated() is False
    assert await deliver(v3) == ("duplicate", None)
    outcome, why = await deliver(v2, v2.to_json().encode().replace(b"\xed\x98\x84",
                                                                   b"\xff"))
    assert outcome == "dead-lettered" and why.startswith("undecodable")
    future = seal({**json.loads(v3.to_json()), "event_id": str(uuid.uuid4()),
                   "stream_version": 4, "schema_version": 99, "prev_hash": v3.hash})
    outcome, why = await deliver(future)                       # unknown future version
    assert outcome == "dead-lettered" and "v99" in why


async def test_audit_timeline_skips_duplicates_and_parks_gaps(world):
    audit = world["audit"]
    [runner] = audit.runners
    institution = world.fresh_id("audited")
    v1, v2, v3 = stream_of(institution, await _template(world))

    async def project(*envs: Envelope) -> list[str]:
        before = (len(audit.projection_sink.sent), runner.applied, runner.skipped)
        await feed(runner, [Record(TOPIC, 0, next(audit.offsets), e.stream_id.encode(),
                                   e.to_json().encode()) for e in envs])
        found = [header(p[3], "x-dlq-reason") for p in audit.projection_sink.sent[before[0]:]]
        surface = "kafka *.events -> audit (ordered streams)"
        tally.record(surface, "refused-with-reason", len(found))
        tally.record(surface, "accepted", runner.applied - before[1])
        tally.record(surface, "duplicate-no-op", runner.skipped - before[2])
        return found

    async def timeline() -> list[int]:
        from services.audit.adapters.timeline import timeline as t  # noqa: PLC0415
        async with audit.db.reading() as conn:
            return sorted((await conn.execute(select(t.c.stream_version).where(
                t.c.stream_id == f"institution-{institution}"))).scalars())

    assert await project(v1, v1, v3) == [f"stream institution-{institution} gap: "
                                         "got v3 after v1"]
    assert await timeline() == [1]
    assert await project(v2, v3, v2) == []  # the gap filled; the repeat skipped
    assert await timeline() == [1, 2, 3]

    # A known event id at another stream position: not applied twice, an alert.
    from services.audit.adapters.timeline import alerts  # noqa: PLC0415
    copied = json.loads(v2.to_json())
    copied.pop("hash")
    copied.update(stream_id=f"institution-{institution}-copy", stream_version=1,
                  prev_hash=GENESIS_HASH)
    assert await project(seal(copied)) == []
    async with audit.db.reading() as conn:
        found = (await conn.execute(select(alerts.c.why))).scalars().all()
    assert any(v2.event_id in why and "already on record" in why for why in found)
    assert await timeline() == [1, 2, 3]
