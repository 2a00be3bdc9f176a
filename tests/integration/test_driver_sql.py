"""The hot path's driver SQL (shared/driver_sql.py), on SQLite and PostgreSQL: it runs
in the transaction SQLAlchemy began (a rollback undoes it), one statement tests a
column against any number of values, and a driver's error arrives as SQLAlchemy's
own, without the statement's parameters."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError

from shared.db import Database
from shared.driver_sql import driver
from shared.reasons import reason
from tests.conftest import BACKENDS

pytestmark = pytest.mark.integration
md = MetaData()
names = Table("t_names", md, Column("name", String(40), primary_key=True),
              Column("n", Integer, nullable=False))
INSERT = "INSERT INTO t_names (name, n) VALUES (?, ?)"


async def fresh(url: str) -> Database:
    db = Database(url, md)
    await db.create_tables()
    return db


async def stored(db: Database) -> dict[str, int]:
    async with db.reading() as conn:
        return {r.name: r.n for r in await conn.execute(select(names))}


@BACKENDS
async def test_writes_belong_to_the_sqlalchemy_transaction(make_db_url):
    db = await fresh(make_db_url())
    try:
        async with db.transaction() as conn:
            await (await driver(conn)).executemany(INSERT, [("kept", 1)])
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                sql = await driver(conn)
                await sql.executemany(INSERT, [("undone", 2)])
                assert await sql.execute("UPDATE t_names SET n = n + 10 WHERE name = ?",
                                         ("kept",)) == 1
                # Core sees the driver's rows: one transaction, one connection.
                assert await conn.scalar(select(func.count()).select_from(names)) == 2
                raise RuntimeError("the unit of work fails")
        assert await stored(db) == {"kept": 1}
    finally:
        await db.dispose()


@BACKENDS
async def test_one_statement_tests_membership_of_any_number_of_values(make_db_url):
    db = await fresh(make_db_url())
    try:
        rows = [(f"name-{k:05d}", k) for k in range(3000)]  # past any IN (…) limit
        wanted = [f"name-{k:05d}" for k in range(0, 3000, 7)] + ["absent", "it's \"odd\""]
        async with db.transaction() as conn:
            sql = await driver(conn)
            await sql.executemany(INSERT, rows)
            found = await sql.fetch(f"SELECT name, n FROM t_names WHERE {sql.member('name')}",
                                    (sql.listed(wanted),))
            none = await sql.fetch(f"SELECT name FROM t_names WHERE {sql.member('name')}",
                                   (sql.listed([]),))
        assert sorted(found) == [(f"name-{k:05d}", k) for k in range(0, 3000, 7)]
        assert none == []
    finally:
        await db.dispose()


@BACKENDS
async def test_a_driver_error_is_sqlalchemys_and_quotes_no_parameter(make_db_url):
    db = await fresh(make_db_url())
    secret = "kim-minji-900101"
    try:
        async with db.transaction() as conn:
            await (await driver(conn)).executemany(INSERT, [(secret, 1)])
        with pytest.raises(IntegrityError) as refused:
            async with db.transaction() as conn:
                await (await driver(conn)).executemany(INSERT, [(secret, 2)])
        # PostgreSQL's own DETAIL line quotes the key, as it does for Core's errors:
        # the reason that travels (logs, dead letters) is cut from the first line.
        assert "[parameters:" not in str(refused.value)
        assert secret not in reason(refused.value)
        assert await stored(db) == {secret: 1}
    finally:
        await db.dispose()
