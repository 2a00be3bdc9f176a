"""Store appends: ours (`shared.store.EventStore`) and the `eventsourcing` library's,
the same appends on the same database server, in the same run.

Both append `HeadcountRecorded`-shaped events to 100 streams (aggregates) with an
expected version each:
  single   one event per transaction (commit per event);
  batched  100 events per transaction = 10 streams x 10 events.
Ours also seals every event (SHA-256 over canonical JSON, chained to the stream's
previous event) and writes its outbox row in the same transaction; the library
checks the version by its unique constraint and writes its notification log.
SQLite: both WAL, synchronous=FULL (ours sets it; the library keeps SQLite's default,
FULL): each side's setting is read from its own connection and recorded.
PostgreSQL: a fresh database each, one server; synchronous_commit recorded the same way.

The raw-driver bound: the same rows (events + outbox, our schema) written with
`sqlite3` / psycopg alone: no sealing, no version check, no SQLAlchemy; per event a
transaction, or 100 rows per table per transaction with `executemany`.

Events (and, for the library, the aggregate method calls that make them) are built
outside the timed part on both sides.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

STREAMS = 100


def _headcount(k: int):
    from services.scoring.domain.events import HeadcountRecorded
    return HeadcountRecorded(institution_id=f"inst-{k % STREAMS:03d}", headcount=30 + k % 250,
                             as_of=date(2021, 3, 31), external_event_id=f"hr-{k}",
                             source_system="seoul-hr")


async def ours(url: str, single: int, batches: int) -> dict:
    """Appends as a service's unit of work makes them: each stream's head carried from
    the last write (as `UnitOfWork` carries it from the load), and a batch of streams
    in one `append_streams` (one insert for the events, one for the outbox)."""
    from shared.db import Database
    from shared.envelope import GENESIS_HASH, Actor
    from shared.store import EventStore, Metadata, StreamAppend
    from shared.tables import backbone

    db = Database(url, backbone)
    await db.create_tables()
    store = EventStore("bench", "bench.scoring.events")
    meta = Metadata(actor=Actor(id="seoul-hr", role="city_system"), correlation_id="bench")
    heads = {f"headcount-s{s:03d}": (0, GENESIS_HASH) for s in range(STREAMS)}
    streams = list(heads)
    events = [_headcount(k) for k in range(STREAMS)]

    def carried(written) -> None:
        for e in written:
            heads[e.stream_id] = (e.stream_version, e.hash)
    try:
        started = time.perf_counter()
        for k in range(single):
            stream = streams[k % STREAMS]
            version, head = heads[stream]
            async with db.transaction() as conn:
                carried(await store.append(conn, stream, version, [events[k % STREAMS]],
                                           meta, expected_head=head))
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for b in range(batches):
            chosen = [streams[(b * 10 + j) % STREAMS] for j in range(10)]
            async with db.transaction() as conn:
                carried(await store.append_streams(conn, [
                    StreamAppend(stream, heads[stream][0], events[j * 10:(j + 1) * 10],
                                 expected_head=heads[stream][1])
                    for j, stream in enumerate(chosen)], meta))
        batched_s = time.perf_counter() - started
        async with db.reading() as conn:
            durability = await _durability(conn.exec_driver_sql, db.is_sqlite)
    finally:
        await db.dispose()
    return {**_figures(single, single_s, batches * 100, batched_s),
            "durability": durability}


async def _durability(execute, sqlite: bool) -> str:
    if sqlite:
        mode = (await execute("PRAGMA journal_mode")).scalar()
        sync = (await execute("PRAGMA synchronous")).scalar()
        return f"journal_mode={mode}, synchronous={sync}"
    return f"synchronous_commit={(await execute('SHOW synchronous_commit')).scalar()}"


def _figures(single: int, single_s: float, batched: int, batched_s: float) -> dict:
    return {"single_events": single, "single_seconds": single_s,
            "single_events_per_s": single / single_s,
            "batched_events": batched, "batched_seconds": batched_s,
            "batched_events_per_s": batched / batched_s}


_PEER: tuple = ()


def _peer_classes():
    """The library's Aggregate and Application, defined once per process (it
    registers each class under its topic and refuses a second definition)."""
    global _PEER
    if not _PEER:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event

        class Institution(Aggregate):
            @event("Registered")
            def __init__(self, institution_id: str):
                self.institution_id, self.headcount = institution_id, None

            @event("HeadcountRecorded")
            def record_headcount(self, headcount: int, as_of: str, external_event_id: str,
                                 source_system: str) -> None:
                self.headcount = headcount

        class Scoring(Application):
            pass
        _PEER = (Institution, Scoring)
    return _PEER


def eventsourcing_peer(env: dict[str, str], single: int, batches: int) -> dict:
    """The same appends through eventsourcing's Application and Aggregate."""
    Institution, Scoring = _peer_classes()
    app = Scoring(env=env)
    aggregates = [Institution(f"inst-{s:03d}") for s in range(STREAMS)]
    app.save(*aggregates)  # streams exist before timing, as ours are created by use

    def record(agg, k):
        agg.record_headcount(headcount=30 + k % 250, as_of="2021-03-31",
                             external_event_id=f"hr-{k}", source_system="seoul-hr")
    try:
        single_s = 0.0
        for k in range(single):  # the event is made untimed, only the save is timed
            agg = aggregates[k % STREAMS]
            record(agg, k)
            started = time.perf_counter()
            app.save(agg)
            single_s += time.perf_counter() - started
        batched_s = 0.0
        for b in range(batches):
            chosen = [aggregates[(b * 10 + j) % STREAMS] for j in range(10)]
            for j, agg in enumerate(chosen):
                for i in range(10):
                    record(agg, b * 100 + j * 10 + i)
            started = time.perf_counter()
            app.save(*chosen)
            batched_s += time.perf_counter() - started
        durability = _peer_durability(app)
    finally:
        app.close()
    return {**_figures(single, single_s, batches * 100, batched_s),
            "durability": durability}


def _peer_durability(app) -> str:
    """Read on the library's own connection (a PRAGMA is per connection)."""
    with app.recorder.datastore.transaction(commit=False) as cursor:
        if type(app.recorder.datastore).__module__.endswith("sqlite"):
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            return f"journal_mode={mode}, synchronous={cursor.fetchone()[0]}"
        cursor.execute("SHOW synchronous_commit")
        row = cursor.fetchone()  # the library's cursors return dict rows
        value = row["synchronous_commit"] if isinstance(row, dict) else row[0]
        return f"synchronous_commit={value}"


# ---------------------------------------------------------------- the raw-driver bound

def _raw_rows(count: int) -> list[tuple[tuple, tuple]]:
    """`count` (events row, outbox row) pairs shaped like ours: a sealed headcount
    event's body with its own ids (made untimed)."""
    body = json.dumps({"event_type": "scoring.HeadcountRecorded", "payload": {
        "institution_id": "inst-000", "headcount": 30, "as_of": "2021-03-31",
        "external_event_id": "hr-0", "source_system": "seoul-hr"},
        "actor": {"id": "seoul-hr", "role": "city_system", "kind": "system"},
        "correlation_id": "bench", "source": "bench", "prev_hash": "0" * 64,
        "occurred_at": "2026-11-24T00:00:00+00:00",
        "recorded_at": "2026-11-24T00:00:00+00:00"}, sort_keys=True)
    per_stream = [0] * STREAMS
    rows = []
    for k in range(count):
        event_id, stream = str(uuid.uuid4()), k % STREAMS
        per_stream[stream] += 1
        rows.append(((event_id, f"headcount-s{stream:03d}", per_stream[stream],
                      "scoring.HeadcountRecorded", 1, body, "f" * 64),
                     (event_id, "bench.scoring.events", None)))
    return rows


EVENTS_SQL = ("INSERT INTO events (event_id, stream_id, stream_version, event_type, "
              "schema_version, body, hash) VALUES ({})")
OUTBOX_SQL = "INSERT INTO outbox (event_id, topic, trace_context) VALUES ({})"


def _raw_timed(rows: list, single: int, transaction: Callable, insert: Callable) -> dict:
    started = time.perf_counter()
    for pair in rows[:single]:
        with transaction():
            insert([pair[0]], [pair[1]])
    single_s = time.perf_counter() - started
    batched = rows[single:]
    started = time.perf_counter()
    for at in range(0, len(batched), 100):
        chunk = batched[at:at + 100]
        with transaction():
            insert([p[0] for p in chunk], [p[1] for p in chunk])
    batched_s = time.perf_counter() - started
    return _figures(single, single_s, len(batched), batched_s)


def raw_sqlite(path: Path, single: int, batches: int) -> dict:
    _create_schema(f"sqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    rows = _raw_rows(single + batches * 100)

    @contextmanager
    def transaction():
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("COMMIT")

    def insert(event_rows, outbox_rows):
        conn.executemany(EVENTS_SQL.format(",".join("?" * 7)), event_rows)
        conn.executemany(OUTBOX_SQL.format("?,?,?"), outbox_rows)
    try:
        return {**_raw_timed(rows, single, transaction, insert),
                "durability": "journal_mode=wal, synchronous=2"}
    finally:
        conn.close()


def raw_postgres(url: str, single: int, batches: int) -> dict:
    import psycopg  # noqa: PLC0415
    _create_schema(url)
    rows = _raw_rows(single + batches * 100)
    u = make_url(url)
    with psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                         user=u.username or "postgres", password=u.password or "",
                         dbname=u.database) as conn:
        def insert(event_rows, outbox_rows):
            with conn.cursor() as cur:
                cur.executemany(EVENTS_SQL.format(",".join(["%s"] * 7)), event_rows)
                cur.executemany(OUTBOX_SQL.format("%s,%s,%s"), outbox_rows)
        durability = conn.execute("SHOW synchronous_commit").fetchone()[0]
        return {**_raw_timed(rows, single, conn.transaction, insert),
                "durability": f"synchronous_commit={durability}"}


def _create_schema(url: str) -> None:
    from shared.db import Database  # noqa: PLC0415
    from shared.tables import backbone  # noqa: PLC0415

    async def create() -> None:
        db = Database(url, backbone)
        await db.create_tables()
        await db.dispose()
    asyncio.run(create())


def _fresh_pg(admin_url: str) -> str:
    from scenarios.fleet import create_database  # noqa: PLC0415
    return create_database(admin_url, f"bench_{uuid.uuid4().hex[:10]}")


def _drop_pg(admin_url: str, url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" '
                          "WITH (FORCE)"))
    engine.dispose()


def run_sqlite(workdir: Path, single: int, batches: int) -> dict:
    ours_path, peer_path = workdir / "store-ours.db", workdir / "store-eventsourcing.db"
    mine = asyncio.run(ours(f"sqlite:///{ours_path}", single, batches))
    peer = eventsourcing_peer({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                               "SQLITE_DBNAME": str(peer_path)}, single, batches)
    raw = raw_sqlite(workdir / "store-raw.db", single, batches)
    return {"ours": mine, "eventsourcing": peer, "raw_driver": raw}


def run_postgres(admin_url: str, single: int, batches: int) -> dict:
    mine_url, peer_url, raw_url = (_fresh_pg(admin_url) for _ in range(3))
    try:
        mine = asyncio.run(ours(mine_url, single, batches))
        u = make_url(peer_url)
        peer = eventsourcing_peer({
            "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": u.database,
            "POSTGRES_HOST": u.host or "127.0.0.1", "POSTGRES_PORT": str(u.port or 5432),
            "POSTGRES_USER": u.username or "postgres", "POSTGRES_PASSWORD": u.password or "",
        }, single, batches)
        raw = raw_postgres(raw_url, single, batches)
    finally:
        for url in (mine_url, peer_url, raw_url):
            _drop_pg(admin_url, url)
    return {"ours": mine, "eventsourcing": peer, "raw_driver": raw}
