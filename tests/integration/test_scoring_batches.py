"""Scoring takes a fetched batch of city systems' facts as one unit of work
(adapters/intake.py `Reactions`), on SQLite and PostgreSQL: the streams its policies
read are loaded in one query, each fact is recorded on behalf of its own sender, and
every event is written in one insert. What it records is what taking the same facts
one by one records: the same facts kept, the same events per stream, the same scores,
each naming its own causes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from services.scoring.__main__ import application
from services.scoring.adapters import intake
from services.scoring.adapters.facts_store import SqlFacts, f_headcount, write_side
from services.scoring.app.scoring import SYSTEM
from services.scoring.domain.cycle import ScoringCycle, scoring_stream
from shared.consumer import ReliableHandler
from shared.db import Database
from shared.deadletter import DeadLetters, Delivery
from shared.envelope import Envelope
from shared.store import EventStore
from shared.tables import backbone, events, outbox
from tests.conftest import BACKENDS
from tests.support.statements import statements

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TOPIC = "hyeopchi.ingress.hr"
INSTITUTIONS = ["inst-a", "inst-b", "inst-c"]


def fact(n: int, institution: str, headcount: int) -> bytes:
    return json.dumps({"event_id": f"hr-{n}", "event_type": "hr.HeadcountReported",
                       "schema_version": 1, "occurred_at": "2021-03-31T09:00:00+09:00",
                       "source": f"seoul-hr-{n % 2}",
                       "payload": {"institution_id": institution, "headcount": headcount,
                                   "as_of": "2021-03-31"}}).encode()


# inst-a twice (its stream grows by two in one batch), inst-d never registered.
FACTS = [fact(1, "inst-a", 40), fact(2, "inst-b", 120), fact(3, "inst-a", 45),
         fact(4, "inst-c", 300), fact(5, "inst-d", 10)]


async def _refuse(*_):
    raise AssertionError("nothing here should be dead-lettered")


async def scoring_db(url: str) -> Database:
    """A scoring database with a 2021 cycle open and three institutions registered."""
    db = Database(url, backbone, write_side)
    await db.create_tables()
    app, facts = application(), SqlFacts()
    rulebook = json.loads((REPO / "services/submission/rulebooks/2021.json").read_text())
    async with db.transaction() as conn:
        uow = app.unit_of_work(conn, SYSTEM, "setup")
        await facts.set_cycle(uow, "2021", 2021, rulebook)
        cycle = await uow.get(ScoringCycle, scoring_stream("2021"))
        uow.record(cycle, cycle.open(2021, rulebook, "setup"))
        for institution in INSTITUTIONS:
            await facts.register_institution(uow, institution, "bureau")
        await uow.commit()
    return db


def traceparent(n: int) -> str:
    return f"00-{n:032x}-{n:016x}-01"


async def take(db: Database, batched: bool) -> list[str]:
    """Hand FACTS to scoring's external-facts consumer as one fetched batch; return the
    SQL it ran."""
    app = application()
    handler = ReliableHandler("external-facts", db, intake.decode_external,
                              intake.on_external_event(app), DeadLetters("x", _refuse),
                              batch=intake.external_events_batch(app) if batched else None)
    with statements(db) as ran:
        outcomes = await handler.handle_batch(
            [Delivery(TOPIC, 0, i, b"k", v, (("traceparent", traceparent(i + 1).encode()),))
             for i, v in enumerate(FACTS)])
    assert outcomes == ["applied"] * len(FACTS)
    return [s for s, _ in ran]


async def recorded(db: Database) -> dict:
    """What scoring keeps, in terms that do not depend on generated ids: each
    stream's events (type, actor, correlation, causation, payload with event ids
    replaced by (stream, version)), and the headcounts kept."""
    async with db.reading() as conn:
        stored = [e for _, e in [x async for x in EventStore.read_all(conn)]]
        heads = {r.institution_id: r.headcount
                 for r in await conn.execute(select(f_headcount))}
    where = {e.event_id: f"{e.stream_id}@{e.stream_version}" for e in stored}

    def plain(value):
        if isinstance(value, str):
            return where.get(value, value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    streams: dict[str, list] = {}
    for e in stored:
        streams.setdefault(e.stream_id, []).append(
            (e.stream_version, e.event_type, e.actor.id, e.correlation_id,
             plain(e.causation_id), plain(e.payload)))
    return {"streams": streams, "headcounts": heads}


@BACKENDS
async def test_a_batch_of_facts_is_one_read_and_one_write(make_db_url):
    db = await scoring_db(make_db_url())
    try:
        sql = await take(db, batched=True)
        reads = [s for s in sql if s.startswith("SELECT") and " FROM EVENTS" in s]
        writes = [s for s in sql if s.startswith("INSERT INTO EVENTS")]
        # One read for the batch's evidence logs (their heads only: a log's history
        # is never read), one for the cycle, one for the scorecards; one insert.
        assert len(reads) == 3 and len(writes) == 1, (reads, writes)
        bodies = [s for s in reads if s.startswith("SELECT BODY")]
        assert len(bodies) == 2 and not any("MAX(" in s for s in bodies), bodies
        kept = await recorded(db)
        # Each fact on behalf of its own sender, named as the cause of what it moved.
        evidence = kept["streams"]["headcount-inst-a"]
        assert [(v, actor, corr) for v, _, actor, corr, _, _ in evidence] == [
            (1, "seoul-hr-1", "hr-1"), (2, "seoul-hr-1", "hr-3")]
        assert kept["headcounts"] == {"inst-a": 45, "inst-b": 120, "inst-c": 300,
                                      "inst-d": 10}
    finally:
        await db.dispose()


@BACKENDS
async def test_a_batch_records_what_one_by_one_records(make_db_url):
    batched, single = await scoring_db(make_db_url()), await scoring_db(make_db_url())
    try:
        sql_batched, sql_single = await take(batched, True), await take(single, False)
        assert len(sql_batched) < len(sql_single)
        a, b = await recorded(batched), await recorded(single)
        assert a == b
        scored = [s for s in a["streams"] if s.startswith("scorecard-")]
        assert len(scored) == len(INSTITUTIONS)  # inst-d is not known to any cycle
    finally:
        await batched.dispose()
        await single.dispose()


@BACKENDS
async def test_each_recorded_event_continues_its_own_facts_trace(make_db_url):
    """Written together at the batch's end, each event is still published in the
    trace of the fact that caused it (the relay reads the outbox's trace context)."""
    db = await scoring_db(make_db_url())
    try:
        await take(db, batched=True)
        async with db.reading() as conn:
            rows = (await conn.execute(select(events.c.body, outbox.c.trace_context).join(
                outbox, outbox.c.event_id == events.c.event_id))).all()
        traced = {}
        for body, trace_context in rows:
            e = Envelope.from_json(body)
            if e.correlation_id.startswith("hr-"):
                traced[e.event_id] = (e.correlation_id, json.loads(trace_context))
        assert len(traced) >= len(FACTS)
        for fact_id, context in traced.values():
            n = int(fact_id.removeprefix("hr-"))
            assert context["traceparent"].split("-")[1] == f"{n:032x}", (fact_id, context)
    finally:
        await db.dispose()
