"""`replay` and `as-of`: every service's projections rebuilt from the first offset.

The projections are each service's own code, loaded by name (the same code the live
service runs); the audit tool imports none of them statically.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from shared.db import Database
from shared.deadletter import DeadLetters
from shared.kafka_io import existing_topics
from shared.projection import Projection, rebuild
from shared.tables import backbone
from shared.topics import prefix, prefixed

from .log import SERVICES


def projections() -> list[Projection]:
    from .adapters.timeline import Timeline  # noqa: PLC0415
    found = []
    for service in SERVICES:
        spec = importlib.import_module(f"services.{service}.__main__").spec()
        found += [make() for make in spec.projections]
    return [*found, Timeline()]  # the audit service's own, without raising alerts


async def _refuse(*_args) -> None:
    raise RuntimeError("the log holds a record no projection can apply: run `verify`")


async def replay(bootstrap: str, into: str | None = None, until: datetime | None = None,
                 progress=None, workers: int | None = None) -> dict[str, dict]:
    """Rebuild every projection into a fresh database; counts and checksums by name.

    The projections are independent of one another, so each is rebuilt in its own
    process (`workers` at a time, default one per core): a replay is CPU-bound in
    Python, and one process uses one core. On SQLite each projection gets its own
    file beside `into` (one writer per file); on PostgreSQL they share `into`.
    `workers=1` rebuilds them one after another in this process."""
    url = into or f"sqlite:///{Path(tempfile.mkdtemp()) / 'replay.db'}"
    present = await existing_topics(bootstrap)
    todo, results = [], {}
    for projection in projections():
        missing = [t for t in projection.topics if t not in present]
        if missing:  # that service has not run in this deployment
            results[projection.name] = {"skipped": f"no topic {', '.join(missing)}"}
            if progress:
                progress(projection.name)
        else:
            todo.append(projection.name)
    workers = workers or min(os.cpu_count() or 1, len(todo) or 1)
    # The widest first (the audit timeline reads every topic), so it is not left last.
    widths = {p.name: len(p.topics) for p in projections()}
    todo.sort(key=lambda name: -widths[name])
    if workers == 1:
        for name in todo:
            results[name] = await _rebuild_named(bootstrap, url, name, until)
            if progress:
                progress(name)
        return results
    await Database(url, backbone).create_tables()  # once, before the writers race
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        jobs = {name: loop.run_in_executor(pool, _rebuild_in_process, bootstrap,
                                           _own_file(url, name), name, until, prefix())
                for name in todo}
        for name, job in jobs.items():
            results[name] = await job
            if progress:
                progress(name)
    return results


def _own_file(url: str, name: str) -> str:
    """SQLite: `…/replay.db` → `…/replay.<projection>.db`; other databases: as given."""
    if not url.startswith("sqlite"):
        return url
    head, _, path = url.partition(":///")
    file = Path(path)
    suffix = file.suffix or ".db"
    return f"{head}:///{file.with_name(f'{file.stem}.{name}{suffix}')}"


def _rebuild_in_process(bootstrap: str, url: str, name: str, until,
                        topic_prefix: str) -> dict:
    with prefixed(topic_prefix):  # a spawned process: the prefix this one reads
        return asyncio.run(_rebuild_named(bootstrap, url, name, until))


async def _rebuild_named(bootstrap: str, url: str, name: str, until) -> dict:
    [projection] = [p for p in projections() if p.name == name]
    db = Database(url, backbone, projection.metadata)
    try:
        digest, counts, runner = await rebuild(projection, db, bootstrap,
                                               DeadLetters("audit-replay", _refuse), until)
    finally:
        await db.dispose()
    return {"checksum": digest, "rows": counts, "applied": runner.applied, "database": url}


async def as_of(bootstrap: str, moment: datetime, projection_name: str, table: str,
                where: dict[str, str]) -> list[dict]:
    """The rows of one read-model table exactly as they stood at `moment`."""
    from sqlalchemy import select  # noqa: PLC0415
    [projection] = [p for p in projections() if p.name == projection_name]
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'as-of.db'}", backbone,
                  projection.metadata)
    await rebuild(projection, db, bootstrap, DeadLetters("audit-as-of", _refuse), moment)
    t = projection.metadata.tables[table]
    async with db.reading() as conn:
        rows = (await conn.execute(select(t).where(*[t.c[k] == v for k, v in where.items()])
                                   .order_by(*t.primary_key.columns))).mappings().all()
    await db.dispose()
    return [dict(r) for r in rows]


REPORTS = {
    # name: (projection, table, the filters it takes, in order)
    "scorecard": ("scoring-scorecards", "rm_scores", ["cycle_id", "institution_id"]),
    "report-status": ("submission-report-status", "rm_report_status", ["cycle_id"]),
    "meetings": ("committee-meetings", "rm_meetings", ["institution_id"]),
    "grant-decisions": ("grants-rounds", "rm_decisions", ["round_id"]),
}
