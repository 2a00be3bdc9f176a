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
from typing import Any

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

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
            await self.conn.execute(upsert_statement(self.conn.dialect.name, table),
                                    [rows[k] for k in keys])


def _key(table: Table, row: dict) -> Key:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _params(table: Table, key: Key) -> dict:
    return {f"k_{c.name}": v for c, v in zip(table.primary_key.columns, key)}


@functools.cache
def _by_key(table: Table):
    """Built once per table: a statement object reused is compiled once."""
    return select(table).where(and_(*(c == bindparam(f"k_{c.name}")
                                      for c in table.primary_key.columns)))


@functools.cache
def upsert_statement(dialect: str, table: Table):
    """Insert a whole row, or replace the one with its primary key (built once per
    table: making the statement costs more than running it). Whole rows only: an
    upsert's insert checks NOT NULL before the conflict."""
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    keys = [c.name for c in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: statement.excluded[c.name] for c in table.columns
              if c.name not in keys})
