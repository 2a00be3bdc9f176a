"""A batch's read-model rows in memory (shared/read_rows.py), on SQLite and PostgreSQL:
a stored row is read once however many events change it, an update of a row that does
not exist changes nothing (as SQL's UPDATE would), and the batch is written in one
statement per table, leaving exactly the rows event-by-event SQL would."""
from __future__ import annotations

import pytest
from sqlalchemy import (JSON, Column, Integer, MetaData, String, Table, insert,
                        select)

from shared.db import Database
from shared.read_rows import Rows
from tests.conftest import BACKENDS
from tests.support.statements import statements

pytestmark = pytest.mark.integration
md = MetaData()
seats = Table("t_seats", md,
              Column("hall", String(20), primary_key=True),
              Column("seat", Integer, primary_key=True),
              Column("holder", String(50)),
              Column("paid", Integer, nullable=False),
              Column("notes", JSON(none_as_null=True)))


@BACKENDS
async def test_a_batch_reads_each_row_once_and_writes_once_per_table(make_db_url):
    db = Database(make_db_url(), md)
    await db.create_tables()
    try:
        async with db.transaction() as conn:
            await conn.execute(insert(seats), [
                {"hall": "a", "seat": 1, "holder": "kim", "paid": 10, "notes": {"n": 1}},
                {"hall": "a", "seat": 2, "holder": None, "paid": 0, "notes": None}])
        with statements(db) as ran:
            async with db.transaction() as conn:
                rows = Rows(conn)
                for amount in (5, 7):  # two events on one stored row: one read
                    row = await rows.get(seats, "a", 1)
                    assert await rows.update(seats, "a", 1, paid=row["paid"] + amount)
                assert not await rows.update(seats, "b", 9, paid=1)  # no such row
                rows.insert(seats, hall="b", seat=1, paid=3)  # notes not given: NULL
                assert await rows.update(seats, "b", 1, holder="lee")  # new, not read
                await rows.flush()
        sql = [s for s, _ in ran]
        reads = [s for s in sql if s.startswith("SELECT")]
        writes = [s for s in sql if s.startswith("INSERT")]
        assert len(reads) == 2 and len(writes) == 1, sql  # (a, 1) and (b, 9) only
        async with db.reading() as conn:
            got = [tuple(r) for r in await conn.execute(
                select(seats).order_by(seats.c.hall, seats.c.seat))]
            nulls = (await conn.execute(select(seats.c.hall).where(
                seats.c.notes.is_(None)).order_by(seats.c.hall))).scalars().all()
        assert got == [("a", 1, "kim", 22, {"n": 1}), ("a", 2, None, 0, None),
                       ("b", 1, "lee", 3, None)]
        assert nulls == ["a", "b"]  # absent JSON is SQL NULL, as an INSERT leaves it
    finally:
        await db.dispose()
