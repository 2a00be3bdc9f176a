"""Where each stream stands for one reader (a projection, or a consumer's
`consumer:<name>`): the last version applied, kept in `projection_streams` in the
same transaction as the reader's effects. Read and written a batch at a time."""
from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import projection_streams

CHUNK = 500  # ids per IN (…): well under every driver's parameter limit


async def stream_versions(conn: AsyncConnection, reader: str,
                          stream_ids: Collection[str]) -> dict[str, int]:
    """The last applied version of each of these streams (absent: none yet)."""
    ids, found = sorted(stream_ids), {}
    for i in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            select(projection_streams.c.stream_id, projection_streams.c.version).where(
                projection_streams.c.projection == reader,
                projection_streams.c.stream_id.in_(ids[i:i + CHUNK])))
        found.update({r.stream_id: r.version for r in rows})
    return found


async def save_stream_versions(conn: AsyncConnection, reader: str,
                               versions: Mapping[str, int]) -> None:
    """One upsert for every stream a batch moved."""
    if not versions:
        return
    ins = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(projection_streams)
    await conn.execute(
        ins.on_conflict_do_update(index_elements=["projection", "stream_id"],
                                  set_={"version": ins.excluded.version}),
        [{"projection": reader, "stream_id": s, "version": v} for s, v in versions.items()])
