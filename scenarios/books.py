"""The books of a load run: what was sent against what was stored, published, followed.

An *effect* is an event a service recorded because of an input. For every input the
load generator sent (and the broker acknowledged), from the stores, inboxes, topics
and the audit timeline:

- lost: an input not in its consumer's inbox, or fewer events of a type than it must
  cause; a stored event not on its topic; a published event the consumer downstream
  (scoring of submission and committee events, the audit timeline of every event)
  never applied;
- doubled: more events of a type than one input causes, or two stored events with the
  same cause, stream, type and indicator (one input recorded twice); a published event
  no store holds;
- refused: a `CommandRejected` or a dead-lettered record (the load sends none);
- disorder: a stream whose events do not follow the order their inputs were sent in
  (per topic and key), or a partition where a stream's events first appear out of
  version order;
- every projection's live checksum against `hyeopchi audit replay` of the log into
  a fresh database (the comparison of `scenarios/demo.py`), and every hash chain.

A redelivered or republished record is no effect: counted apart ("republished").
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, inspect, select

import services
from scenarios.load import SCORING, Input
from scenarios.processes import REPO
from shared.db import Database
from shared.kafka_io import existing_topics, read_topic
from shared.store import verify_database
from shared.tables import events, inbox, outbox

COMMAND_SERVICES = services.BUSINESS
FOLLOWED = {"submission-facts": "submission", "committee-facts": "committee"}  # scoring's


@dataclass
class Books:
    inputs: int = 0
    stored: dict[str, int] = field(default_factory=dict)      # events per service
    published: int = 0                                         # distinct event ids
    republished: int = 0                                       # extra copies in topics
    followed: int = 0                                          # audit timeline rows
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)
    chains: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, dict] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.stored.values())

    @property
    def checksums_equal(self) -> bool:
        return bool(self.checksums) and all(c["equal"] for c in self.checksums.values())

    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.refused or self.disorder) and \
            self.checksums_equal and all(v.startswith("ok") for v in self.chains.values())

    def summary(self) -> dict:
        return {"inputs": self.inputs, "events": self.events, "stored": self.stored,
                "published": self.published, "republished": self.republished,
                "followed_by_audit": self.followed, "lost": len(self.lost),
                "doubled": len(self.doubled), "refused": len(self.refused),
                "disorder": len(self.disorder),
                "checksums_equal": self.checksums_equal,
                "chains": self.chains,
                "examples": {k: getattr(self, k)[:5]
                             for k in ("lost", "doubled", "refused", "disorder")
                             if getattr(self, k)}}

    def explain(self) -> str:
        return json.dumps(self.summary() | {"checksums": self.checksums}, indent=1,
                          ensure_ascii=False)


@dataclass(frozen=True)
class Stored:
    event_id: str
    stream_id: str
    stream_version: int
    event_type: str
    causation_id: str | None
    indicator_id: str | None


async def read_store(url: str) -> tuple[list[Stored], dict[str, set[str]], int]:
    """A service database: its events, its inbox by consumer, its outbox backlog."""
    db = Database(url)
    try:
        async with db.reading() as conn:
            rows = (await conn.execute(select(events.c.body).order_by(events.c.position)))
            found = []
            for (body,) in rows:
                e = json.loads(body)
                found.append(Stored(e["event_id"], e["stream_id"], e["stream_version"],
                                    e["event_type"], e.get("causation_id"),
                                    (e.get("payload") or {}).get("indicator_id")))
            seen: dict[str, set[str]] = defaultdict(set)
            for consumer, event_id in await conn.execute(select(inbox.c.consumer,
                                                                inbox.c.event_id)):
                seen[consumer].add(event_id)
            pending = await conn.scalar(select(func.count()).select_from(outbox))
    finally:
        await db.dispose()
    return found, seen, pending


async def timeline_ids(url: str) -> set[str]:
    from services.audit.adapters.timeline import timeline  # noqa: PLC0415
    db = Database(url)
    try:
        async with db.reading() as conn:
            if not await conn.run_sync(lambda c: inspect(c).has_table(timeline.name)):
                return set()
            return set((await conn.execute(select(timeline.c.event_id))).scalars())
    finally:
        await db.dispose()


async def audit_books(bootstrap: str, prefix: str, databases: dict[str, str],
                      inputs: list[Input], replay: bool = True) -> Books:
    """Hold everything sent against everything kept. `databases`: service -> URL of
    the services that ran (stopped, so their read models are final)."""
    books = Books(inputs=len(inputs))
    stores, inboxes = {}, {}
    for service, url in databases.items():
        if service == "audit":
            continue
        stores[service], inboxes[service], pending = await read_store(url)
        books.stored[service] = len(stores[service])
        if pending:
            books.lost.append(f"{service}: {pending} events still in the outbox")
    _inputs(books, inputs, stores, inboxes)
    published = await _published(books, bootstrap, prefix, stores)
    for consumer, upstream in FOLLOWED.items():
        if SCORING in inboxes and upstream in published:
            missing = published[upstream] - inboxes[SCORING].get(consumer, set())
            books.lost += [f"scoring never applied {upstream} event {e}"
                           for e in sorted(missing)]
    if "audit" in databases:
        followed = await timeline_ids(databases["audit"])
        everything = set().union(*published.values()) if published else set()
        books.followed = len(followed)
        books.lost += [f"audit timeline lacks {e}" for e in sorted(everything - followed)]
        books.doubled += [f"audit timeline holds unknown {e}"
                          for e in sorted(followed - everything)]
    _same_cause(books, stores)
    _order(books, inputs, stores)
    await _dead_letters(books, bootstrap, prefix)
    for service, url in databases.items():
        ok, verdict = await verify_database(url)
        books.chains[service] = verdict
    if replay:
        books.checksums = await compare_checksums(bootstrap, prefix, databases)
    return books


def _inputs(books: Books, inputs: list[Input], stores, inboxes) -> None:
    by_cause: dict[str, dict[str, Counter]] = {}
    for service, stored in stores.items():
        index: dict[str, Counter] = defaultdict(Counter)
        for e in stored:
            if e.causation_id:
                index[e.causation_id][e.event_type] += 1
        by_cause[service] = index
    for i in inputs:
        if i.service not in stores:
            continue
        if i.input_id not in inboxes[i.service].get(i.consumer, set()):
            books.lost.append(f"{i.service} never applied {i.input_id}")
        caused = by_cause[i.service].get(i.causation, Counter())
        for event_type, n in i.causes.items():
            if caused[event_type] < n:
                books.lost.append(f"{i.input_id}: {caused[event_type]} {event_type}, "
                                  f"expected {n}")
            elif caused[event_type] > n:
                books.doubled.append(f"{i.input_id}: {caused[event_type]} {event_type}, "
                                     f"expected {n}")
        rejected = [t for t in caused if t.endswith(".CommandRejected")]
        books.refused += [f"{i.input_id}: {t}" for t in rejected]


async def _published(books: Books, bootstrap: str, prefix: str,
                     stores) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    present = await existing_topics(bootstrap)
    for service, stored in stores.items():
        topic = f"{prefix}.{service}.events"
        if topic not in present:
            continue
        records = await read_topic(bootstrap, topic, timeout=600)
        ids = [json.loads(r.value)["event_id"] for r in records]
        distinct = set(ids)
        found[service] = distinct
        books.published += len(distinct)
        books.republished += len(ids) - len(distinct)
        kept = {e.event_id for e in stored}
        books.lost += [f"{service} event {e} stored, never published"
                       for e in sorted(kept - distinct)]
        books.doubled += [f"{service} published {e}, which no store holds"
                          for e in sorted(distinct - kept)]
        books.disorder += _partition_order(topic, records)
    return found


def _partition_order(topic: str, records) -> list[str]:
    """Within a partition, the first copy of each event comes in stream-version order."""
    problems, last, seen = [], {}, set()
    for r in records:
        e = json.loads(r.value)
        if e["event_id"] in seen:
            continue  # a republished copy (the relay is at-least-once)
        seen.add(e["event_id"])
        where = (r.partition, e["stream_id"])
        if e["stream_version"] <= last.get(where, 0):
            problems.append(f"{topic}/{r.partition}: {e['stream_id']} v{e['stream_version']} "
                            f"after v{last[where]}")
        last[where] = max(last.get(where, 0), e["stream_version"])
    return problems


def _same_cause(books: Books, stores) -> None:
    for service, stored in stores.items():
        keys = Counter((e.causation_id, e.stream_id, e.event_type, e.indicator_id)
                       for e in stored if e.causation_id)
        books.doubled += [f"{service}: {n} × {t} on {s} from {c}"
                          + (f" ({ind})" if ind else "")
                          for (c, s, t, ind), n in keys.items() if n > 1]


def _order(books: Books, inputs: list[Input], stores) -> None:
    """Per stream: inputs of one topic and key recorded in the order they were sent."""
    sent: dict[str, tuple[str, int]] = {}
    counters: Counter = Counter()
    for i in inputs:
        lane = f"{i.topic}/{i.key}"
        sent[i.causation] = (lane, counters[lane])
        counters[lane] += 1
    for service, stored in stores.items():
        streams: dict[str, list[Stored]] = defaultdict(list)
        for e in stored:
            streams[e.stream_id].append(e)
        for stream_id, chain in streams.items():
            last: dict[str, int] = {}
            for e in sorted(chain, key=lambda x: x.stream_version):
                if e.causation_id not in sent:
                    continue
                lane, n = sent[e.causation_id]
                if n < last.get(lane, -1):
                    books.disorder.append(f"{service}: {stream_id} v{e.stream_version} from "
                                          f"{e.causation_id} (sent #{n} on {lane}) after "
                                          f"#{last[lane]}")
                last[lane] = max(n, last.get(lane, -1))


async def _dead_letters(books: Books, bootstrap: str, prefix: str) -> None:
    for topic in sorted(await existing_topics(bootstrap)):
        if topic.startswith(f"{prefix}.") and topic.endswith(".dlq"):
            parked = await read_topic(bootstrap, topic, timeout=120)
            books.refused += [f"{topic}: {dict(r.headers).get('x-dlq-reason', b'')[:200]!r}"
                              for r in parked]


async def compare_checksums(bootstrap: str, prefix: str,
                            databases: dict[str, str]) -> dict[str, dict]:
    """`hyeopchi audit replay` into a fresh database (the auditor's own tool, as a
    process), against each running service's live read models."""
    from services.audit.replay import projections  # noqa: PLC0415
    from shared.projection import checksum  # noqa: PLC0415
    into = Path(tempfile.mkdtemp(prefix="hyeopchi-replay-")) / "replay.db"
    env = {**os.environ, "TOPIC_PREFIX": prefix}
    done = subprocess.run([sys.executable, "-m", "tools.cli", "audit", "--bootstrap",
                           bootstrap, "--json", "replay", "--into", f"sqlite:///{into}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"audit replay failed: {done.stderr[-3000:]}")
    replayed = json.loads(done.stdout.strip().splitlines()[-1])
    result = {}
    for projection in projections():
        owner = next((s for s in databases if projection.name.startswith(s)), None)
        if owner is None:
            continue
        live = Database(databases[owner], projection.metadata)
        try:
            current, rows = await checksum(live, projection.metadata)
        finally:
            await live.dispose()
        again = replayed.get(projection.name, {})
        result[projection.name] = {"live": current, "replayed": again.get("checksum"),
                                   "rows": sum(rows.values()),
                                   "equal": current == again.get("checksum")}
    into.unlink(missing_ok=True)
    return result
