"""The rows one batch of events changes in a read model, worked on in memory and
written once: the read side's unit of work.

A handler inserts a row, or changes one by its primary key (`update`: only if it
exists, like SQL's UPDATE … WHERE). A row the batch has not seen is read the first
time it is asked for (one SELECT by key); after that every event of the batch works
on the same dict. `flush` writes each changed row once, whole, in one executemany per
table (an upsert: insert, or replace the row with that key). So a meeting's four
events in one batch cost one read, four dict updates and a share of one statement,
not four round trips through SQL.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .driver_sql import driver

Key = tuple[Any, ...]


class Rows:
    def __init__(self, conn: AsyncConnection):
        self.conn = conn
        self._rows: dict[Table, dict[Key, dict | None]] = {}  # None: known absent
        self._dirty: dict[Table, dict[Key, None]] = {}

    def insert(self, table: Table, **values: Any) -> None:
        """A new row (columns not given are NULL); replaces one with the same key."""
        row = {c.name: values.get(c.name) for c in table.columns}
        key = _key(table, row)
        self._rows.setdefault(table, {})[key] = row
        self._dirty.setdefault(table, {})[key] = None

    async def get(self, table: Table, *key: Any) -> dict | None:
        """The row with this primary key (as changed so far in this batch), or None."""
        seen = self._rows.setdefault(table, {})
        if key not in seen:
            found = (await self.conn.execute(_by_key(table), _params(table, key))).first()
            seen[key] = dict(found._mapping) if found else None
        return seen[key]

    async def update(self, table: Table, *key: Any, **values: Any) -> bool:
        """Change the row with this key, if there is one; say whether there was."""
        row = await self.get(table, *key)
        if row is None:
            return False
        row.update(values)
        self._dirty.setdefault(table, {})[key] = None
        return True

    async def flush(self) -> None:
        """Write every changed row, whole: one statement per table."""
        dirty, self._dirty = self._dirty, {}
        for table, keys in dirty.items():
            rows = self._rows[table]
            await upsert_rows(self.conn, table, [rows[k] for k in keys])


async def upsert_rows(conn: AsyncConnection, table: Table, rows: list[dict]) -> None:
    """Insert whole rows, or replace those with their primary keys: one executemany
    of driver SQL (shared.driver_sql), each value converted as Core would bind it."""
    up = _driver_upsert(conn.dialect, table)
    await (await driver(conn)).executemany(up.sql, [
        tuple(bind(row[c]) if bind else row[c] for c, bind in zip(up.columns, up.binds))
        for row in rows])


class _Upsert(NamedTuple):
    sql: str
    columns: tuple[str, ...]
    binds: tuple  # per column: the type's bind processor (JSON → text, …) or None


@functools.cache
def _driver_upsert(dialect, table: Table) -> _Upsert:
    quote = dialect.identifier_preparer.quote
    keys = [c.name for c in table.primary_key.columns]
    columns = tuple(c.name for c in table.columns)
    rest = [c for c in columns if c not in keys]
    action = ("DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in rest)
              if rest else "DO NOTHING")
    sql = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
           f"({', '.join(map(quote, columns))}) VALUES ({', '.join('?' for _ in columns)}) "
           f"ON CONFLICT ({', '.join(map(quote, keys))}) {action}")
    return _Upsert(sql, columns, tuple(c.type.dialect_impl(dialect).bind_processor(dialect)
                                       for c in table.columns))


def _key(table: Table, row: dict) -> Key:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _params(table: Table, key: Key) -> dict:
    return {f"k_{c.name}": v for c, v in zip(table.primary_key.columns, key)}


@functools.cache
def _by_key(table: Table):
    """Built once per table: a statement object reused is compiled once."""
    return select(table).where(and_(*(c == bindparam(f"k_{c.name}")
                                      for c in table.primary_key.columns)))
