"""Alembic migrations of every service, on PostgreSQL and on SQLite.

A migrated database must equal what the code declares (backbone + the service's own
tables): a table or column added to the models without a revision fails
`test_upgrade_check_idempotent_downgrade`, and the negative controls below show `check`
sees it. The backbone tables have one history (shared/migrations/backbone) that every
service's builds on; databases migrated by the release before that split keep migrating
(`test_a_database_from_the_previous_release_keeps_migrating`).
"""
from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, text
from sqlalchemy.pool import NullPool

import services
from shared import migrate
from shared.db import Database
from shared.envelope import Actor
from shared.store import EventStore, Metadata
from shared.tables import backbone
from tests.conftest import BACKENDS
from tests.support import ledger
from tools import migrations

pytestmark = pytest.mark.integration

SERVICES = sorted(services.NAMES)
POSTGRES = pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)
META = Metadata(actor=Actor(id="officer-7", role="governance_officer", kind="person"),
                correlation_id="corr-1")
# Each service's first revision as the previous release shipped it (commit 7e00883),
# verbatim: it created the backbone tables and the service's in one revision `0001`.
RELEASED = Path(__file__).parent / "released_schema"


def schema(service: str) -> migrate.Schema:
    return migrations.schema(service)


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
    return {name for md in schema(service).target for name in md.tables}


def with_extra(service: str) -> tuple[list[MetaData], str]:
    """The service's models plus a column and a table no revision creates."""
    extra = MetaData()
    for md in schema(service).target:
        for table in md.tables.values():
            table.to_metadata(extra)
    extra.tables["outbox"].append_column(Column("not_migrated", String(20)))
    Table("rm_not_migrated", extra, Column("id", String(20), primary_key=True))
    return [extra], "rm_not_migrated"


def released_first_revision(url: str, service: str) -> None:
    """Migrate as the previous release did: its `0001`, alone in its history."""
    cfg = migrate.alembic_config(schema(service))
    cfg.set_main_option("version_locations", str(RELEASED / service))
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
    finally:
        engine.dispose()


def test_every_service_history_builds_on_the_one_backbone():
    assert sorted(p.name for p in RELEASED.iterdir()) == SERVICES
    for service in SERVICES:
        target = schema(service)
        assert target.service == service and (target.versions / "0001_initial.py").exists()
        heads = migrate.heads(target)
        assert "backbone_0001" in heads and len(heads) == 2, (service, heads)
        scripts = ScriptDirectory.from_config(migrate.alembic_config(target))
        assert scripts.get_revision("0001").dependencies == "backbone_0001"
        assert scripts.get_revision("backbone_0001").path.startswith(
            str(migrate.BACKBONE_VERSIONS))


@BACKENDS
@pytest.mark.parametrize("service", SERVICES)
def test_the_backbone_revision_makes_only_the_backbone(make_db_url, service):
    url = make_db_url()
    migrate.upgrade(url, schema(service), "backbone_0001")
    assert tables(url) == set(backbone.tables) | {"alembic_version"}
    assert migrate.pending(url, schema(service))          # the service's are still to run
    migrate.upgrade(url, schema(service))
    assert migrate.pending(url, schema(service)) == []
    assert migrate.check(url, schema(service)) == []


@BACKENDS
@pytest.mark.parametrize("service", SERVICES)
def test_a_database_from_the_previous_release_keeps_migrating(make_db_url, service):
    url = make_db_url()
    released_first_revision(url, service)
    assert tables(url) == expected_tables(service) - _later_tables(service) | {
        "alembic_version"}
    assert migrate.current(url) == "0001"
    assert migrate.pending(url, schema(service)) == _later_revisions(service)

    migrate.upgrade(url, schema(service))                 # what a start of this release does
    assert migrate.pending(url, schema(service)) == []
    assert tables(url) == expected_tables(service) | {"alembic_version"}
    assert migrate.check(url, schema(service)) == []

    migrate.downgrade(url, schema(service), "base")       # and it unwinds all the way
    assert tables(url) == {"alembic_version"} and migrate.current(url) is None


def _later_tables(service: str) -> set[str]:
    """Tables revisions after `0001` add (committee's person keys and deposits)."""
    return {"person_keys", "personal_deposits"} if service == "committee" else set()


def _later_revisions(service: str) -> list[str]:
    return ["0002", "0003", "0004"] if service == "committee" else []


@BACKENDS
@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_check_idempotent_downgrade(make_db_url, service):
    url = make_db_url()
    target = schema(service)
    assert {"backbone_0001", "0001"} <= set(migrate.pending(url, target))  # all to run
    migrate.upgrade(url, target)
    assert migrate.pending(url, target) == []
    assert tables(url) == expected_tables(service) | {"alembic_version"}
    assert migrate.check(url, target) == []           # the head equals the models

    migrate.upgrade(url, target)                      # a second start changes nothing
    assert migrate.pending(url, target) == [] and migrate.check(url, target) == []

    migrate.downgrade(url, target, "base")
    assert tables(url) == {"alembic_version"}
    assert migrate.current(url) is None
    if url.startswith("postgresql"):
        assert sequences(url) == []                   # BIGSERIAL sequences went too


@BACKENDS
def test_check_reports_what_no_revision_creates(make_db_url):
    """Negative control: models ahead of the migrations, and a database ahead of both."""
    url = make_db_url()
    migrate.upgrade(url, schema("submission"))
    metadatas, new_table = with_extra("submission")
    diff = migrate.check(url, schema("submission"), metadatas)
    found = {(d[0], d[2], d[3].name) if d[0] == "add_column" else (d[0], d[1].name)
             for d in diff}
    assert found == {("add_column", "outbox", "not_migrated"), ("add_table", new_table)}

    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE rm_institutions ADD COLUMN stray VARCHAR(10)"))
    engine.dispose()
    diff = migrate.check(url, schema("submission"))
    assert [(d[0], d[2], d[3].name) for d in diff] == [
        ("remove_column", "rm_institutions", "stray")]


@BACKENDS
async def test_a_create_all_database_is_adopted_only_when_equal(make_db_url):
    """Databases made before migrations (create_all) are stamped at head if they match."""
    url = make_db_url()
    db = Database(url, *schema("grants").target)
    await db.create_tables()
    await db.dispose()
    await asyncio.to_thread(migrate.upgrade, url, schema("grants"))
    assert migrate.current(url) is not None
    assert migrate.pending(url, schema("grants")) == []
    assert migrate.check(url, schema("grants")) == []

    drifted = make_db_url()
    metadatas, _ = with_extra("grants")
    db = Database(drifted, *metadatas)
    await db.create_tables()
    await db.dispose()
    with pytest.raises(migrate.SchemaDrift, match="exist without an Alembic revision"):
        await asyncio.to_thread(migrate.upgrade, drifted, schema("grants"))
    assert migrate.current(drifted) is None


@POSTGRES
def test_upgrade_waits_for_the_advisory_lock(make_db_url):
    url = make_db_url()
    holder = create_engine(migrate.sync_url(url), poolclass=NullPool)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(url, schema("scoring"))
        except BaseException as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate.lock_key("scoring")})
        conn.commit()
        waiting = threading.Thread(target=run)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive() and migrate.current(url) is None
        conn.execute(text("SELECT pg_advisory_unlock(:k)"),
                     {"k": migrate.lock_key("scoring")})
        conn.commit()
    holder.dispose()
    waiting.join(30)
    assert not waiting.is_alive() and errors == []
    assert migrate.pending(url, schema("scoring")) == []


@POSTGRES
def test_concurrent_upgrades_both_succeed(make_db_url):
    url = make_db_url()
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            migrate.upgrade(url, schema("scoring"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert migrate.pending(url, schema("scoring")) == []
    assert migrate.check(url, schema("scoring")) == []


@POSTGRES
async def test_event_store_on_a_migrated_database(make_db_url):
    url = make_db_url()
    await asyncio.to_thread(migrate.upgrade, url, schema("submission"))
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
    assert migrations.main(["audit", "check", "--database-url", url]) == 1
    assert "2 revision(s) to run" in capsys.readouterr().out
    assert migrations.main(["audit", "upgrade", "--database-url", url]) == 0
    assert migrations.main(["audit", "check", "--database-url", url]) == 0
    assert migrations.main(["audit", "current", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip().endswith("0001")
    assert migrations.main(["audit", "downgrade", "base", "--database-url", url]) == 0
    assert tables(url) == {"alembic_version"}


def test_revision_finds_nothing_to_generate(postgres_admin_url):
    """`revision` autogenerates on a scratch database at head: nothing to write now."""
    before = sorted(schema("committee").versions.iterdir())
    assert migrate.revision(schema("committee"), "nothing", postgres_admin_url) is None
    assert sorted(schema("committee").versions.iterdir()) == before


def test_revision_writes_the_service_change_on_the_service_branch(tmp_path):
    """A table added to the service's models: the next revision, on the service's
    branch and in its folder, holds that table and nothing of the backbone's."""
    versions = tmp_path / "versions"
    shutil.copytree(schema("grants").versions, versions)
    extra = MetaData()
    Table("rm_not_migrated", extra, Column("id", String(20), primary_key=True))
    changed = migrate.Schema("grants", versions, (*schema("grants").metadatas, extra))
    written = migrate.revision(changed, "add a table", f"sqlite:///{tmp_path / 'g.db'}")
    assert written is not None and written.parent == versions
    source = written.read_text()
    assert "down_revision: str | Sequence[str] | None = '0001'" in source
    assert "op.create_table('rm_not_migrated'" in source
    assert "'events'" not in source and "'outbox'" not in source
    assert written.name.startswith("0002_")
