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
FULL — recorded in the result). PostgreSQL: a fresh database each, one server.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
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
    from shared.db import Database
    from shared.envelope import Actor
    from shared.store import EventStore, Metadata
    from shared.tables import backbone

    db = Database(url, backbone)
    await db.create_tables()
    store = EventStore("bench", "bench.scoring.events")
    meta = Metadata(actor=Actor(id="seoul-hr", role="city_system"), correlation_id="bench")
    versions = {f"headcount-s{s:03d}": 0 for s in range(STREAMS)}
    streams = list(versions)
    events = [_headcount(k) for k in range(STREAMS)]
    try:
        started = time.perf_counter()
        for k in range(single):
            stream = streams[k % STREAMS]
            async with db.transaction() as conn:
                await store.append(conn, stream, versions[stream], [events[k % STREAMS]], meta)
            versions[stream] += 1
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for b in range(batches):
            async with db.transaction() as conn:
                for j in range(10):
                    stream = streams[(b * 10 + j) % STREAMS]
                    await store.append(conn, stream, versions[stream],
                                       events[j * 10:(j + 1) * 10], meta)
                    versions[stream] += 10
        batched_s = time.perf_counter() - started
    finally:
        await db.dispose()
    return _figures(single, single_s, batches * 100, batched_s)


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
        started = time.perf_counter()
        for k in range(single):
            agg = aggregates[k % STREAMS]
            record(agg, k)
            app.save(agg)
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for b in range(batches):
            chosen = [aggregates[(b * 10 + j) % STREAMS] for j in range(10)]
            for j, agg in enumerate(chosen):
                for i in range(10):
                    record(agg, b * 100 + j * 10 + i)
            app.save(*chosen)
        batched_s = time.perf_counter() - started
    finally:
        app.close()
    return _figures(single, single_s, batches * 100, batched_s)


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
    with sqlite3.connect(peer_path) as c:
        peer_mode = c.execute("PRAGMA journal_mode").fetchone()[0]
        peer_sync = c.execute("PRAGMA synchronous").fetchone()[0]
    return {"ours": mine, "eventsourcing": peer,
            "settings": {"ours": "WAL, synchronous=FULL (2)",
                         "eventsourcing": f"{peer_mode}, synchronous={peer_sync} (default)"}}


def run_postgres(admin_url: str, single: int, batches: int) -> dict:
    mine_url, peer_url = _fresh_pg(admin_url), _fresh_pg(admin_url)
    try:
        mine = asyncio.run(ours(mine_url, single, batches))
        u = make_url(peer_url)
        peer = eventsourcing_peer({
            "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": u.database,
            "POSTGRES_HOST": u.host or "127.0.0.1", "POSTGRES_PORT": str(u.port or 5432),
            "POSTGRES_USER": u.username or "postgres", "POSTGRES_PASSWORD": u.password or "",
        }, single, batches)
    finally:
        for url in (mine_url, peer_url):
            _drop_pg(admin_url, url)
    return {"ours": mine, "eventsourcing": peer}
