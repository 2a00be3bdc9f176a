"""`replay` and `as-of`: every service's projections rebuilt from the first offset.

The projections are each service's own code, loaded by name (the same code the live
service runs); the audit tool imports none of them statically.
"""
from __future__ import annotations

import importlib
import tempfile
from datetime import datetime
from pathlib import Path

from shared.db import Database
from shared.deadletter import DeadLetters
from shared.kafka_io import existing_topics
from shared.projection import Projection, rebuild
from shared.tables import backbone

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
                 progress=None) -> dict[str, dict]:
    """Rebuild every projection into a fresh database; counts and checksums by name."""
    url = into or f"sqlite:///{Path(tempfile.mkdtemp()) / 'replay.db'}"
    results = {}
    present = await existing_topics(bootstrap)
    for projection in projections():
        missing = [t for t in projection.topics if t not in present]
        if missing:  # that service has not run in this deployment
            results[projection.name] = {"skipped": f"no topic {', '.join(missing)}"}
            if progress:
                progress(projection.name)
            continue
        db = Database(url, backbone, projection.metadata)
        digest, counts, runner = await rebuild(projection, db, bootstrap,
                                               DeadLetters("audit-replay", _refuse), until)
        results[projection.name] = {"checksum": digest, "rows": counts,
                                    "applied": runner.applied, "database": url}
        await db.dispose()
        if progress:
            progress(projection.name)
    return results


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
