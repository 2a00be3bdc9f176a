"""Each service's real code in-process: its migrations, Kafka consumers (ReliableHandler
with a DLQ that collects), HTTP app (httpx.ASGITransport), and projections (fed the
service's own events through a stand-in for the Kafka consumer).

Nothing is mocked but the broker's transport: decoding, validation, handlers, the
event store, inbox, outbox and read models are the services' own, on a migrated
database. `Outcome` checks classify every input (accepted, refused with a reason,
duplicate no-op) and flag a crash or a partial write.
"""
from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import time
import sqlite3
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
from aiokafka import TopicPartition
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from scenarios.client import auth_headers
from shared import migrate
from shared.consumer import ReliableHandler
from shared.db import Database
from shared.deadletter import DeadLetters, Delivery, header
from shared.envelope import Envelope
from shared.projection import ProjectionRunner
from shared.tables import backbone, events
from shared.topics import events_topic

from . import tally

# What the broker (default message.max.bytes ≈ 1 MiB) and the relay's producer
# (max_request_size 1 MiB) carry: an accepted event must fit, with its headers.
PUBLISHABLE_BYTES = 1_000_000


class Sink:
    """DeadLetters' send: keeps what a consumer parked, in order."""

    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    async def __call__(self, topic, value, key, headers):
        self.sent.append((topic, value, key, list(headers)))


@dataclass
class Record:  # what aiokafka's ConsumerRecord offers the projection runner
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple = ()
    timestamp: int = 0
    timestamp_type: int = 0  # CreateTime, as on an events topic


class FeedConsumer:
    """Stands in for the projection's AIOKafkaConsumer: hands over queued records."""

    def __init__(self):
        self.queue: list[Record] = []

    async def getmany(self, timeout_ms=0, max_records=1000):
        batch, self.queue = self.queue[:max_records], self.queue[max_records:]
        by_tp: dict[TopicPartition, list[Record]] = {}
        for r in batch:
            by_tp.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return by_tp


@dataclass
class InProcess:
    name: str
    db: Database
    api: object
    client: httpx.AsyncClient
    consumers: dict[str, ReliableHandler]
    sinks: dict[str, Sink]
    runners: list[ProjectionRunner]
    projection_sink: Sink
    tables: list = field(default_factory=list)
    # One increasing counter for every record handed to this service's consumers and
    # projections (a projection skips offsets below those it has stored).
    offsets: itertools.count = field(default_factory=itertools.count)
    projected: int = 0  # events position fed to the projections so far
    peek: sqlite3.Connection | None = None  # the checks' own reader (SQLite)

    # -- state --------------------------------------------------------------------
    async def snapshot(self) -> dict[str, int]:
        """Row count of every table the service writes, and the last event position
        (`@head`), in one statement. On SQLite through a plain reader connection of
        the checks' own (each service connection is a new thread: too slow for
        thousands of looks)."""
        parts = ", ".join(f'(SELECT count(*) FROM "{t.name}") AS "{t.name}"'
                          for t in self.tables)
        sql = f'SELECT {parts}, (SELECT coalesce(max(position), 0) FROM events) AS "@head"'
        if self.peek is not None:
            cursor = self.peek.execute(sql)
            return dict(zip([c[0] for c in cursor.description], cursor.fetchone()))
        async with self.db.reading() as conn:
            return dict((await conn.execute(text(sql))).mappings().one())

    async def head(self) -> int:
        return (await self.snapshot())["@head"]

    async def events_after(self, position: int) -> list[Envelope]:
        if self.peek is not None:
            rows = self.peek.execute("SELECT body FROM events WHERE position > ? "
                                     "ORDER BY position", (position,)).fetchall()
            return [Envelope.from_json(r[0]) for r in rows]
        async with self.db.reading() as conn:
            rows = (await conn.execute(select(events.c.body).where(
                events.c.position > position).order_by(events.c.position))).all()
        return [Envelope.from_json(r.body) for r in rows]

    # -- HTTP ---------------------------------------------------------------------
    async def post(self, path: str, body, actor: dict, raw: bytes | None = None,
                   content_type: str | None = "application/json") -> httpx.Response:
        headers = dict(auth_headers(actor))
        if content_type:
            headers["content-type"] = content_type
        content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        return await self.client.post(path, content=content, headers=headers)

    async def command(self, path: str, body: dict, actor: dict) -> dict:
        """A valid command that must be accepted (setup and liveness checks)."""
        answer = await self.post(path, body, actor)
        assert answer.status_code == 201, (path, body, answer.status_code, answer.text)
        return answer.json()

    # -- Kafka ----------------------------------------------------------------------
    def delivery(self, topic: str, value: bytes | None, key: bytes | None = b"k",
                 headers: tuple = ()) -> Delivery:
        # As the broker hands it over: a commands topic stamps its own append time.
        return Delivery(topic, 0, next(self.offsets), key, value, headers,
                        int(time.time() * 1000), 1)

    # -- projections ----------------------------------------------------------------
    async def project(self, extra: list[Record] = ()) -> None:
        """Feed the service's new events (and `extra` records) to its projections."""
        fresh = []
        async with self.db.reading() as conn:
            rows = (await conn.execute(select(events.c.position, events.c.body,
                                              events.c.stream_id).where(
                events.c.position > self.projected).order_by(events.c.position))).all()
        for r in rows:
            fresh.append(Record(events_topic(self.name).name, 0, next(self.offsets),
                                r.stream_id.encode(), r.body.encode()))
            self.projected = r.position
        for runner in self.runners:
            await feed(runner, [*fresh, *extra])


async def feed(runner: ProjectionRunner, records: list[Record], attempts: int = 4) -> None:
    """Run records through a projection as its run loop would: a failed batch is
    rolled back and comes again (a record failing every time is then parked)."""
    for attempt in range(attempts):
        runner.consumer.queue = list(records)
        try:
            while runner.consumer.queue:
                await runner.step()
            await runner.release()  # what the run loop commits after HOLD_S
            return
        except Exception:
            if attempt == attempts - 1:
                raise


async def start(name: str, url: str) -> InProcess:
    spec = importlib.import_module(f"services.{name}.__main__").spec()
    await asyncio.to_thread(migrate.upgrade, url, spec.schema)
    db = Database(url, backbone, *spec.metadatas)
    host = SimpleNamespace(db=db, spec=spec, settings=None)
    api = spec.http(host)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                               base_url=f"http://{name}.test", timeout=120)
    sinks = {c.name: Sink() for c in spec.consumers}
    consumers = {c.name: ReliableHandler(c.name, db, c.decoder, c.apply(host),
                                         DeadLetters(c.name, sinks[c.name]))
                 for c in spec.consumers}
    projection_sink = Sink()
    runners = []
    for make in spec.projections:
        runner = ProjectionRunner(make(), db, "unused:9092",
                                  DeadLetters("projection", projection_sink))
        runner.consumer = FeedConsumer()
        runners.append(runner)
    tables = [t for md in db.metadatas for t in md.sorted_tables]
    peek = None
    if db.is_sqlite:
        peek = sqlite3.connect(make_url(url).database, isolation_level=None,
                               check_same_thread=False)
        peek.execute("PRAGMA busy_timeout=30000")
    return InProcess(name, db, api, client, consumers, sinks, runners, projection_sink,
                     tables, peek=peek)


async def stop(svc: InProcess) -> None:
    if svc.peek is not None:
        svc.peek.close()
    await svc.client.aclose()
    await svc.db.dispose()


# ---------------------------------------------------------------------- outcomes

class Crash(AssertionError):
    """An input that crashed a service or left a partial write."""


def dlq_reason(entry) -> str:
    return header(entry[3], "x-dlq-reason") or ""


CRASH_REASONS = ("handler failed", "database refused", "conflict persisted",
                 "projection failed")


async def kafka_input(svc: InProcess, consumer: str, surface: str, delivery: Delivery,
                      rejected_type: str | None = None) -> str:
    """Hand one record to a consumer; classify it, record it, and check the state.

    Dead-lettered: exactly one DLQ entry with the original bytes and a reason that
    names bad input (not a crash), and nothing written. Applied as a refusal: one
    `rejected_type` event with a kind and words, nothing else written. Duplicate:
    nothing written. Accepted: every event it recorded fits the broker."""
    handler, sink = svc.consumers[consumer], svc.sinks[consumer]
    before, parked = await svc.snapshot(), len(sink.sent)
    head = before["@head"]
    try:
        outcome = await handler.handle(delivery)
    except Exception as error:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: handler raised {error!r} for {delivery.value[:300]!r}")
    after = await svc.snapshot()
    new = sink.sent[parked:]
    if outcome == "dead-lettered":
        reason = dlq_reason(new[0]) if len(new) == 1 else ""
        kept = new[0][1] if len(new) == 1 else None
        cut = len(new) == 1 and header(new[0][3], "x-dlq-truncated") is not None
        original = delivery.value or b""
        if len(new) != 1 or not reason or not (
                kept == original or (cut and original.startswith(kept))):
            tally.record(surface, "crash")
            raise Crash(f"{surface}: dead letter without the original or a reason: {new!r}")
        if reason.split(":")[0] in CRASH_REASONS:
            tally.record(surface, "crash")
            raise Crash(f"{surface}: a crash parked as a dead letter: {reason[:1500]}")
        if after != before:
            tally.record(surface, "partial-write")
            raise Crash(f"{surface}: dead-lettered but wrote {_diff(before, after)}")
        tally.record(surface, "refused-with-reason")
        tally.reason(surface, reason)
        return "dlq"
    if new:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: {outcome} and also dead-lettered {new!r}")
    if outcome == "duplicate":
        if after != before:
            tally.record(surface, "partial-write")
            raise Crash(f"{surface}: a duplicate wrote {_diff(before, after)}")
        tally.record(surface, "duplicate-no-op")
        return "duplicate"
    recorded = await svc.events_after(head)
    refusals = [e for e in recorded if e.event_type == rejected_type]
    if refusals:
        [e] = refusals
        changed = _diff(before, after)
        if len(recorded) != 1 or changed != {"events": 1, "outbox": 1, "inbox": 1,
                                             "@head": changed.get("@head")} \
                or not e.payload.get("detail") or not e.payload.get("refusal"):
            tally.record(surface, "partial-write")
            raise Crash(f"{surface}: a refusal wrote more than its reason: {changed}, "
                        f"{[x.event_type for x in recorded]}, {e.payload}")
        tally.record(surface, "refused-with-reason")
        tally.reason(surface, f"rejected {e.payload['refusal']}: {e.payload['detail']}")
        return "rejected"
    _publishable(surface, recorded)
    tally.record(surface, "accepted")
    return "accepted"


def _publishable(surface: str, recorded: list[Envelope]) -> None:
    """An accepted event must reach every reader: fit the broker, and hold no NUL
    character (PostgreSQL text cannot store one: its read models would park it)."""
    for e in recorded:
        size = len(e.to_json().encode())
        if size > PUBLISHABLE_BYTES:
            tally.record(surface, "crash")
            raise Crash(f"{surface}: accepted {e.event_type} of {size:,} bytes: the "
                        f"relay can never publish it (broker limit ~1 MiB)")
        if _has_nul(e.payload):
            tally.record(surface, "crash")
            raise Crash(f"{surface}: accepted {e.event_type} with a NUL character: "
                        f"PostgreSQL read models cannot store it")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def http_input(svc: InProcess, surface: str, method: str, path: str, *,
                     raw: bytes | None = None, actor: dict, params=None,
                     content_type: str | None = "application/json") -> httpx.Response:
    """One request: never a 5xx; a 4xx is a problem body with words and stores
    nothing; a 201 stored exactly the events it names, each publishable."""
    before = await svc.snapshot()
    head = before["@head"]
    try:
        if method == "POST":
            answer = await svc.post(path, None, actor, raw=raw, content_type=content_type)
        else:
            answer = await svc.client.get(path, params=params, headers=auth_headers(actor))
    except Exception as error:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: {method} {path} raised {error!r}")
    after = await svc.snapshot()
    status = answer.status_code
    if status >= 500:
        tally.record(surface, "crash")
        raise Crash(f"{surface}: {method} {path} answered {status}: {answer.text[:1500]} "
                    f"for {(raw or b'')[:300]!r} {params!r}")
    if status >= 400:
        body = _problem(answer)
        if body is None:
            tally.record(surface, "crash")
            raise Crash(f"{surface}: {method} {path} {status} without a problem body: "
                        f"{answer.headers.get('content-type')} {answer.text[:500]}")
        if after != before:
            tally.record(surface, "partial-write")
            raise Crash(f"{surface}: refused ({status}) but wrote {_diff(before, after)}")
        tally.record(surface, "refused-with-reason")
        tally.reason(surface, f"{status} {body['detail']}")
        return answer
    if method == "POST":
        recorded = await svc.events_after(head)
        named = [e["event_id"] for e in answer.json()["events"]]
        if [e.event_id for e in recorded] != named:
            tally.record(surface, "partial-write")
            raise Crash(f"{surface}: 201 named {named} but stored "
                        f"{[e.event_id for e in recorded]}")
        _publishable(surface, recorded)
    elif after != before:
        tally.record(surface, "partial-write")
        raise Crash(f"{surface}: a read wrote {_diff(before, after)}")
    tally.record(surface, "accepted")
    return answer


def _problem(answer: httpx.Response) -> dict | None:
    if answer.headers.get("content-type", "").split(";")[0] != "application/problem+json":
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    ok = isinstance(body, dict) and isinstance(body.get("detail"), str) and \
        body["detail"].strip() and body.get("status") == answer.status_code and \
        str(body.get("type", "")).startswith("urn:hyeopchi:problem:")
    return body if ok else None


def _diff(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}
