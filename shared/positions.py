"""Where each stream stands for one reader (a projection, or a consumer's
`consumer:<name>`): the last version applied, kept in `projection_streams` in the
same transaction as the reader's effects. Read and written a batch at a time, in
driver SQL (driver_sql: these run for every batch a service takes)."""
from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from .driver_sql import driver
from .read_rows import upsert_rows
from .tables import projection_streams


async def stream_versions(conn: AsyncConnection, reader: str,
                          stream_ids: Collection[str]) -> dict[str, int]:
    """The last applied version of each of these streams (absent: none yet)."""
    if not stream_ids:
        return {}
    sql = await driver(conn)
    rows = await sql.fetch("SELECT stream_id, version FROM projection_streams "
                           f"WHERE projection = ? AND {sql.member('stream_id')}",
                           (reader, sql.listed(stream_ids)))
    return dict(rows)


async def save_stream_versions(conn: AsyncConnection, reader: str,
                               versions: Mapping[str, int]) -> None:
    """One upsert for every stream a batch moved."""
    if versions:
        await upsert_rows(conn, projection_streams, [
            {"projection": reader, "stream_id": s, "version": v} for s, v in versions.items()])
