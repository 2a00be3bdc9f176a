"""Plain SQL on a transaction's own driver connection: the hot path's few statements.

A Core statement through SQLAlchemy's async layer costs about 100 µs here (cache key,
compile lookup, a greenlet hop, result metadata), driver SQL through it 40 µs, and the
same SELECT on `sqlite3` itself 1 µs. The consumers, projections and relay run a
handful of fixed statements per batch; at a low rate each batch is one record, so
these costs were most of a service's loop. They run here, in the same transaction
(the same DBAPI connection SQLAlchemy began), with the statements written once in
`?` style. SQLAlchemy keeps the schema, migrations and every cold path.

`member(column)` is a set-membership test with one parameter (`listed(values)`):
`= ANY(%s)` on PostgreSQL, `IN (SELECT value FROM json_each(?))` on SQLite, so one
statement text serves any number of ids.
"""
from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

_DRIVER = "hyeopchi.driver_sql"

# Called with each statement's text and whether it is an executemany, before it runs:
# what SQLAlchemy's before_cursor_execute is to its own statements (tests count them).
WATCHERS: list[Callable[[str, bool], None]] = []


def _watched(sql: str, many: bool = False) -> str:
    for watcher in WATCHERS:
        watcher(sql, many)
    return sql


async def driver(conn: AsyncConnection) -> Driver:
    """The driver of this connection (kept with the pooled connection)."""
    found = conn.info.get(_DRIVER)
    if found is None:
        raw = (await conn.get_raw_connection()).driver_connection
        found = conn.info[_DRIVER] = (SQLiteDriver(raw._conn) if conn.dialect.name == "sqlite"
                                      else PostgresDriver(raw))
    return found


class Driver:
    """Statements in `?` style; `member(col)` tests a column against `listed(values)`.
    A driver's error is raised as SQLAlchemy's (IntegrityError, OperationalError, …),
    as the rest of the code meets it from Core, without the statement's parameters."""

    error: type[Exception] = Exception  # the driver's base error class

    async def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._translated(sql):
            return await self._fetch(_watched(sql), params)

    async def execute(self, sql: str, params: Sequence = ()) -> int:
        """Run one statement; return the rows it changed."""
        with self._translated(sql):
            return await self._execute(_watched(sql), params)

    async def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        await self.write_all([(sql, rows)])

    async def write_all(self, writes: Sequence[tuple[str, Sequence[Sequence]]]) -> None:
        """Several executemany at once: on PostgreSQL one pipeline, one round trip."""
        writes = [(_watched(sql, True), rows) for sql, rows in writes if rows]
        if writes:
            with self._translated(writes[0][0]):
                await self._write_all(writes)

    @contextmanager
    def _translated(self, sql: str):
        try:
            yield
        except self.error as failed:
            raise DBAPIError.instance(sql, None, failed, self.error,
                                      hide_parameters=True) from failed


class SQLiteDriver(Driver):
    """`sqlite3` itself: each call runs at once in the caller's thread (the database
    is a local file; see sqlite_inline for the lock waits)."""

    error = sqlite3.Error

    def __init__(self, raw):
        self.raw = raw

    async def _fetch(self, sql: str, params: Sequence) -> list[tuple]:
        return self.raw.execute(sql, params).fetchall()

    async def _execute(self, sql: str, params: Sequence) -> int:
        return self.raw.execute(sql, params).rowcount

    async def _write_all(self, writes) -> None:
        for sql, rows in writes:
            self.raw.executemany(sql, rows)

    @staticmethod
    def member(column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    @staticmethod
    def listed(values: Iterable[Any]) -> str:
        return json.dumps(list(values))


class PostgresDriver(Driver):
    """psycopg's async connection; writes go in one pipeline (no wait per statement)."""

    def __init__(self, raw):
        import psycopg  # noqa: PLC0415 — only where PostgreSQL is used
        self.raw, self.error = raw, psycopg.Error

    async def _fetch(self, sql: str, params: Sequence) -> list[tuple]:
        async with self.raw.cursor() as cur:
            await cur.execute(_pg(sql), params)
            return await cur.fetchall()

    async def _execute(self, sql: str, params: Sequence) -> int:
        async with self.raw.cursor() as cur:
            await cur.execute(_pg(sql), params)
            return cur.rowcount

    async def _write_all(self, writes) -> None:
        async with self.raw.cursor() as cur:
            if len(writes) == 1 and len(writes[0][1]) == 1:  # one row: no pipeline
                sql, [row] = writes[0]
                await cur.execute(_pg(sql), row)
                return
            async with self.raw.pipeline():
                for sql, rows in writes:
                    await cur.executemany(_pg(sql), rows)

    @staticmethod
    def member(column: str) -> str:
        return f"{column} = ANY(?)"

    @staticmethod
    def listed(values: Iterable[Any]) -> list:
        return list(values)


@functools.cache
def _pg(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (the statements here hold no literal ? or %)."""
    return sql.replace("?", "%s")


__all__ = ["Driver", "driver"]
