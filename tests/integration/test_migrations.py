"""Alembic migrations of every service, on PostgreSQL and on SQLite.

A migrated database must equal what the code declares (backbone + the service's own
tables): a table or column added to the models without a revision fails
`test_head_equals_the_models`, and the negative controls below show `check` sees it.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from shared import migrate
from shared.db import Database
from shared.envelope import Actor
from shared.store import EventStore, Metadata
from shared.tables import backbone
from tests.conftest import BACKENDS
from tests.support import ledger

pytestmark = pytest.mark.integration

SERVICES = ["audit", "committee", "grants", "scoring", "submission"]
POSTGRES = pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="corr-1")


def tables(url: str) -> set[str]:
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def sequences(url: str) -> list[str]:
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    try:
        return inspect(engine).get_sequence_names()
    finally:
        engine.dispose()


def expected_tables(service: str) -> set[str]:
    return {name for md in migrate.target_metadata(service) for name in md.tables}


def with_extra(service: str) -> tuple[list[MetaData], str]:
    """The service's models plus a column and a table no revision creates."""
    extra = MetaData()
    for md in migrate.target_metadata(service):
        for table in md.tables.values():
            table.to_metadata(extra)
    extra.tables["outbox"].append_column(Column("not_migrated", String(20)))
    Table("rm_not_migrated", extra, Column("id", String(20), primary_key=True))
    return [extra], "rm_not_migrated"


def head(service: str) -> str:
    (only,) = migrate.heads(service)  # one linear history per service
    return only


def test_every_service_has_one_linear_history():
    assert migrate.services() == SERVICES
    for service in SERVICES:
        assert head(service), service
        assert (migrate.versions_dir(service) / "0001_initial.py").exists()


@BACKENDS
@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_check_idempotent_downgrade(make_db_url, service):
    url = make_db_url()
    migrate.upgrade(url, service)
    assert migrate.current(url, service) == head(service)
    assert tables(url) == expected_tables(service) | {"alembic_version"}
    assert migrate.check(url, service) == []          # the head equals the models

    migrate.upgrade(url, service)                     # a second start changes nothing
    assert migrate.current(url, service) == head(service)
    assert migrate.check(url, service) == []

    migrate.downgrade(url, service, "base")
    assert tables(url) == {"alembic_version"}
    assert migrate.current(url, service) is None
    if url.startswith("postgresql"):
        assert sequences(url) == []                   # BIGSERIAL sequences went too


@BACKENDS
def test_check_reports_what_no_revision_creates(make_db_url):
    """Negative control: models ahead of the migrations, and a database ahead of both."""
    url = make_db_url()
    migrate.upgrade(url, "submission")
    metadatas, new_table = with_extra("submission")
    diff = migrate.check(url, "submission", metadatas)
    found = {(d[0], d[2], d[3].name) if d[0] == "add_column" else (d[0], d[1].name)
             for d in diff}
    assert found == {("add_column", "outbox", "not_migrated"), ("add_table", new_table)}

    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE rm_institutions ADD COLUMN stray VARCHAR(10)"))
    engine.dispose()
    diff = migrate.check(url, "submission")
    assert [(d[0], d[2], d[3].name) for d in diff] == [
        ("remove_column", "rm_institutions", "stray")]


@BACKENDS
async def test_a_create_all_database_is_adopted_only_when_equal(make_db_url):
    """Databases made before migrations (create_all) are stamped at head if they match."""
    url = make_db_url()
    db = Database(url, *migrate.target_metadata("grants"))
    await db.create_tables()
    await db.dispose()
    await asyncio.to_thread(migrate.upgrade, url, "grants")
    assert migrate.current(url, "grants") == head("grants")
    assert migrate.check(url, "grants") == []

    drifted = make_db_url()
    metadatas, _ = with_extra("grants")
    db = Database(drifted, *metadatas)
    await db.create_tables()
    await db.dispose()
    with pytest.raises(migrate.SchemaDrift, match="exist without an Alembic revision"):
        await asyncio.to_thread(migrate.upgrade, drifted, "grants")
    assert migrate.current(drifted, "grants") is None


@POSTGRES
def test_upgrade_waits_for_the_advisory_lock(make_db_url):
    url = make_db_url()
    holder = create_engine(migrate.sync_url(url), poolclass=NullPool)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(url, "scoring")
        except BaseException as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate.lock_key("scoring")})
        conn.commit()
        waiting = threading.Thread(target=run)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive() and migrate.current(url, "scoring") is None
        conn.execute(text("SELECT pg_advisory_unlock(:k)"),
                     {"k": migrate.lock_key("scoring")})
        conn.commit()
    holder.dispose()
    waiting.join(30)
    assert not waiting.is_alive() and errors == []
    assert migrate.current(url, "scoring") == head("scoring")


@POSTGRES
def test_concurrent_upgrades_both_succeed(make_db_url):
    url = make_db_url()
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            migrate.upgrade(url, "scoring")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert migrate.current(url, "scoring") == head("scoring")
    assert migrate.check(url, "scoring") == []


@POSTGRES
async def test_event_store_on_a_migrated_database(make_db_url):
    url = make_db_url()
    await asyncio.to_thread(migrate.upgrade, url, "submission")
    db = Database(url, backbone)                      # no create_all: migrations only
    store = EventStore("ledger", "hyeopchi.ledger.events")
    try:
        async with db.transaction() as conn:
            written = await store.append(conn, "acct-1", 0, [
                ledger.Deposited(amount=5, currency="KRW")], META)
        async with db.reading() as conn:
            stream = await store.read_stream(conn, "acct-1")
            queued = await store.pending_publications(conn)
            verified = await EventStore.verify(conn)
    finally:
        await db.dispose()
    assert stream == written and stream[0].payload["amount"] == 5
    assert stream[0].stream_version == 1 and queued == 1 and verified == 1


def test_cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    assert migrate.main(["audit", "check", "--database-url", url]) == 1
    assert migrate.main(["audit", "upgrade", "--database-url", url]) == 0
    assert migrate.main(["audit", "check", "--database-url", url]) == 0
    assert migrate.main(["audit", "current", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip().endswith(head("audit"))
    assert migrate.main(["audit", "downgrade", "base", "--database-url", url]) == 0
    assert tables(url) == {"alembic_version"}


def test_revision_finds_nothing_to_generate(postgres_admin_url):
    """`revision` autogenerates on a scratch database at head: nothing to write now."""
    before = sorted(migrate.versions_dir("committee").iterdir())
    assert migrate.revision("committee", "nothing", postgres_admin_url) is None
    assert sorted(migrate.versions_dir("committee").iterdir()) == before
