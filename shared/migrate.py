"""Schema migrations with Alembic: the backbone's history and one per service.

A service's database holds the backbone tables (shared/tables.py) and the service's own.
The backbone's revisions live in shared/migrations/backbone/ (branch `backbone`); a
service's in services/<name>/adapters/migrations/versions/ (branch `<name>`), the first
of which depends on `backbone_0001`. Both run through shared/migrations/env.py; the
version table is Alembic's default `alembic_version` (one database per service), which
holds one head per branch not absorbed by a dependency.

A `Schema` says which service, where its revisions are and which tables it declares;
the service's spec carries it (`ServiceSpec.schema`), and shared imports no service.
The command line (`hyeopchi migrate SERVICE …`) is tools/migrations.py.

Concurrency: on PostgreSQL every change runs under a per-service advisory lock (a replica
starting beside another waits, then finds the schema at head); on SQLite the whole change
is one BEGIN IMMEDIATE transaction. SQLite migrates too: revisions are rendered in batch
mode, which copies a table where SQLite cannot ALTER it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .tables import backbone

log = logging.getLogger("hyeopchi.migrate")

ENVIRONMENT = Path(__file__).resolve().parent / "migrations"
BACKBONE_VERSIONS = ENVIRONMENT / "backbone"
SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
VERSION_TABLE = "alembic_version"
HEADS = "heads"  # every branch's head: the backbone's and the service's


class SchemaDrift(RuntimeError):
    """Tables exist without a recorded revision and differ from the models."""


@dataclass(frozen=True)
class Schema:
    """One service's database: its revisions and the tables it declares."""
    service: str
    versions: Path                       # services/<name>/adapters/migrations/versions
    metadatas: tuple[MetaData, ...] = ()  # the service's own tables

    @property
    def target(self) -> list[MetaData]:
        """What a migrated database must hold: the backbone plus the service's tables."""
        return [backbone, *self.metadatas]


# ---------------------------------------------------------------- urls, config

def sync_url(url: str) -> str:
    """Any sqlite/postgresql URL (plain or async driver) → the sync driver Alembic uses."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=SYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def alembic_config(schema: Schema, connection: Connection | None = None,
                   **attributes: Any) -> Config:
    """Alembic's Config built in code (no alembic.ini); env.py reads `attributes`."""
    def ini(value: object) -> str:  # configparser interpolates %
        return str(value).replace("%", "%%")
    cfg = Config()
    cfg.set_main_option("script_location", ini(ENVIRONMENT))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations",
                        ini(f"{BACKBONE_VERSIONS}{os.pathsep}{schema.versions}"))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    cfg.attributes.update(service=schema.service, connection=connection, **attributes)
    return cfg


def lock_key(service: str) -> int:
    """The service's advisory-lock key: a stable signed 64-bit number."""
    digest = hashlib.sha256(f"hyeopchi.migrate.{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# ---------------------------------------------------------------- connections

def _engine(database_url: str) -> Engine:
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling leaves DDL outside transactions; emit BEGIN
    # ourselves (as shared/db.py does) so a migration is all-or-nothing, and IMMEDIATE
    # so two migrators queue on busy_timeout instead of interleaving.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _connected(database_url: str) -> Iterator[Connection]:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def _migrating(database_url: str, service: str) -> Iterator[Connection]:
    """A connection holding the service's migration lock.

    PostgreSQL: a session advisory lock, taken before anything is read and released
    after Alembic committed (closing the connection releases it too, should the process
    die); Alembic runs its own transaction, all revisions in one. SQLite: one
    BEGIN IMMEDIATE transaction around everything (the database's write lock).
    """
    with _connected(database_url) as conn:
        if conn.dialect.name != "postgresql":
            with conn.begin():
                yield conn
            return
        key = {"key": lock_key(service)}
        conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
        conn.commit()
        try:
            yield conn
            if conn.in_transaction():
                conn.commit()
        finally:
            try:
                if conn.in_transaction():
                    conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                conn.commit()
            except Exception:  # noqa: BLE001 — closing the connection releases it anyway
                log.debug("advisory unlock failed", exc_info=True)


def _settle(conn: Connection) -> None:
    """On PostgreSQL end the transaction our own reads began, so that Alembic runs
    (and commits) its own; on SQLite everything stays inside the outer transaction."""
    if conn.dialect.name == "postgresql" and conn.in_transaction():
        conn.commit()


def _compare(conn: Connection, metadatas: Sequence[MetaData]) -> list:
    context = MigrationContext.configure(conn, opts={
        "compare_type": True, "compare_server_default": True,
        "target_metadata": list(metadatas)})
    return compare_metadata(context, list(metadatas))  # type: ignore[arg-type]


def _adopt_unversioned(conn: Connection, schema: Schema) -> None:
    """A database made by create_all (before migrations) has the tables but no version:
    stamp it at head when it equals the models, refuse when it does not."""
    present = set(inspect(conn).get_table_names())
    if VERSION_TABLE in present:
        return
    known = {name for md in schema.target for name in md.tables}
    if not present & known:
        return
    diff = _compare(conn, schema.target)
    if diff:
        raise SchemaDrift(
            f"{schema.service}: tables {sorted(present & known)} exist without an Alembic "
            f"revision and differ from the models: {diff}. Bring them to a revision by "
            f"hand, then `hyeopchi migrate {schema.service} stamp REV`.")
    _settle(conn)
    command.stamp(alembic_config(schema, conn), HEADS)
    log.warning("%s: unversioned schema equal to the models, stamped at head",
                schema.service)


# ---------------------------------------------------------------- operations

def upgrade(database_url: str, schema: Schema, revision: str = HEADS) -> None:
    """Bring the database to `revision` (safe from several replicas at once)."""
    with _migrating(database_url, schema.service) as conn:
        _adopt_unversioned(conn, schema)
        _settle(conn)
        command.upgrade(alembic_config(schema, conn), revision)


def downgrade(database_url: str, schema: Schema, revision: str = "-1") -> None:
    with _migrating(database_url, schema.service) as conn:
        command.downgrade(alembic_config(schema, conn), revision)


def stamp(database_url: str, schema: Schema, revision: str) -> None:
    with _migrating(database_url, schema.service) as conn:
        command.stamp(alembic_config(schema, conn), revision)


def current(database_url: str) -> str | None:
    """The revisions the database records (None: not migrated at all)."""
    with _connected(database_url) as conn:
        found = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(found)) if found else None


def heads(schema: Schema) -> list[str]:
    """The code's head of every branch: the backbone's and the service's."""
    return sorted(ScriptDirectory.from_config(alembic_config(schema)).get_heads())


def pending(database_url: str, schema: Schema) -> list[str]:
    """Revisions of the code the database has not run yet (empty: at head)."""
    scripts = ScriptDirectory.from_config(alembic_config(schema))
    recorded = (current(database_url) or "").split(",")
    done = _ancestry(scripts, [r for r in recorded if r])
    return sorted(s.revision for s in scripts.walk_revisions() if s.revision not in done)


def _ancestry(scripts: ScriptDirectory, revisions: Sequence[str]) -> set[str]:
    """The revisions and everything they build on, dependencies included: the version
    table records only heads, and a dependency a later head absorbed counts as run."""
    seen: set[str] = set()
    todo = list(revisions)
    while todo:
        script = scripts.get_revision(todo.pop())
        if script is None or script.revision in seen:
            continue
        seen.add(script.revision)
        todo += [*_tuple(script.down_revision), *_tuple(script.dependencies)]
    return seen


def _tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    return () if value is None else (value,) if isinstance(value, str) else tuple(value)


def check(database_url: str, schema: Schema,
          metadatas: Sequence[MetaData] | None = None) -> list:
    """Autogenerate's differences between the database and the models (empty = in sync).

    `metadatas` defaults to backbone + the service's own; tests pass others."""
    with _connected(database_url) as conn:
        return _compare(conn, list(metadatas) if metadatas is not None else schema.target)


def revision(schema: Schema, message: str, database_url: str) -> Path | None:
    """Write the service's next revision, autogenerated against a scratch database at
    head (on the PostgreSQL server of `database_url`, else a temporary SQLite file).
    Returns the new file, or None when the models need no change.

    Only the service's own tables are compared: a change to the backbone is a
    revision of branch `backbone`, written by hand in shared/migrations/backbone/."""
    schema.versions.mkdir(parents=True, exist_ok=True)
    for package in (schema.versions.parent, schema.versions):
        (package / "__init__.py").touch()
    if make_url(database_url).get_backend_name() != "postgresql":
        log.warning("autogenerating against SQLite: review types and defaults, or pass "
                    "--database-url postgresql://…")
    own = {name for md in schema.metadatas for name in md.tables}
    with _scratch_database(database_url, schema.service) as scratch:
        upgrade(scratch, schema)
        with _connected(scratch) as conn:
            cfg = alembic_config(schema, conn, target_metadata=list(schema.metadatas),
                                 only_tables=own, skip_empty=True)
            script = command.revision(cfg, message=message, autogenerate=True,
                                      head=f"{schema.service}@head",
                                      version_path=str(schema.versions),
                                      rev_id=_next_rev_id(cfg))
            if conn.in_transaction():
                conn.rollback()
    scripts = script if isinstance(script, list) else [script] if script else []
    return Path(scripts[0].path) if scripts else None


def _next_rev_id(cfg: Config) -> str:
    numbers = [int(s.revision) for s in ScriptDirectory.from_config(cfg).walk_revisions()
               if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


@contextmanager
def _scratch_database(url: str, service: str) -> Iterator[str]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        with tempfile.TemporaryDirectory(prefix=f"mig-{service}-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'scratch.db'}"
        return
    name = f"mig_scratch_{service}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(sync_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.dispose()
