"""Schema migrations with Alembic: one history per service, one shared environment.

A service's database holds the backbone tables (shared/tables.py) and the service's own
(`spec().metadatas` in services/<name>/__main__.py). Its revisions live in
services/<name>/adapters/migrations/versions/ and all run through shared/migrations/env.py;
the version table is Alembic's default `alembic_version` (one database per service).

  hyeopchi migrate SERVICE upgrade [REV]       to REV, default head
  hyeopchi migrate SERVICE downgrade [REV]     to REV, default -1 (one step); `base` = empty
  hyeopchi migrate SERVICE current             the database's revision
  hyeopchi migrate SERVICE check               exit 1 unless at head and equal to the models
  hyeopchi migrate SERVICE stamp REV           record REV without running anything
  hyeopchi migrate SERVICE history             the service's revisions
  hyeopchi migrate SERVICE revision -m MSG     autogenerate the next revision file against a
                                               scratch database brought to head (created next
                                               to --database-url on PostgreSQL, else SQLite)
Every command takes --database-url URL; without it the service's own settings decide
(DATABASE_URL_FILE, DATABASE_URL, else the SQLite file .run/<service>.db).

Concurrency: on PostgreSQL every change runs under a per-service advisory lock (a replica
starting beside another waits, then finds the schema at head); on SQLite the whole change
is one BEGIN IMMEDIATE transaction. SQLite migrates too: revisions are rendered in batch
mode, which copies a table where SQLite cannot ALTER it.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import logging
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
VERSION_TABLE = "alembic_version"


class SchemaDrift(RuntimeError):
    """Tables exist without a recorded revision and differ from the models."""


# ---------------------------------------------------------------- services, urls, config

def services() -> list[str]:
    """Service packages under services/ (loaded by name: shared imports none of them)."""
    spec = importlib.util.find_spec("services")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return sorted({p.name for root in roots for p in root.iterdir()
                   if (p / "__main__.py").exists()})


def _service_main(service: str):
    if service not in services():
        raise ValueError(f"unknown service {service!r} (known: {', '.join(services())})")
    return importlib.import_module(f"services.{service}.__main__")


def target_metadata(service: str) -> list[MetaData]:
    """What a migrated database must hold: the backbone plus the service's tables."""
    return [backbone, *_service_main(service).spec().metadatas]


def service_database_url(service: str) -> str:
    """The URL the service itself would use (its Settings, from the environment)."""
    return _service_main(service).Settings().database()


def versions_dir(service: str) -> Path:
    if service not in services():
        raise ValueError(f"unknown service {service!r} (known: {', '.join(services())})")
    spec = importlib.util.find_spec(f"services.{service}")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "adapters" / "migrations" / "versions"


def sync_url(url: str) -> str:
    """Any sqlite/postgresql URL (plain or async driver) → the sync driver Alembic uses."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=SYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def alembic_config(service: str, connection: Connection | None = None,
                   **attributes: Any) -> Config:
    """Alembic's Config built in code (no alembic.ini); env.py reads `attributes`."""
    def ini(value: object) -> str:  # configparser interpolates %
        return str(value).replace("%", "%%")
    cfg = Config()
    cfg.set_main_option("script_location", ini(ENVIRONMENT))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", ini(versions_dir(service)))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    cfg.attributes.update(service=service, connection=connection, **attributes)
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


def _adopt_unversioned(conn: Connection, service: str,
                       metadatas: Sequence[MetaData] | None) -> None:
    """A database made by create_all (before migrations) has the tables but no version:
    stamp it at head when it equals the models, refuse when it does not."""
    present = set(inspect(conn).get_table_names())
    if VERSION_TABLE in present:
        return
    metadatas = list(metadatas) if metadatas is not None else target_metadata(service)
    known = {name for md in metadatas for name in md.tables}
    if not present & known:
        return
    diff = _compare(conn, metadatas)
    if diff:
        raise SchemaDrift(
            f"{service}: tables {sorted(present & known)} exist without an Alembic "
            f"revision and differ from the models: {diff}. Bring them to a revision by "
            f"hand, then `hyeopchi migrate {service} stamp REV`.")
    _settle(conn)
    command.stamp(alembic_config(service, conn), "head")
    log.warning("%s: unversioned schema equal to the models, stamped at head", service)


# ---------------------------------------------------------------- operations

def upgrade(database_url: str, service: str, revision: str = "head", *,
            metadatas: Sequence[MetaData] | None = None) -> None:
    """Bring the database to `revision` (safe from several replicas at once).

    `metadatas` (backbone + the service's) is only read to adopt a database that
    create_all made before migrations existed; by default it is loaded by name.
    """
    with _migrating(database_url, service) as conn:
        _adopt_unversioned(conn, service, metadatas)
        _settle(conn)
        command.upgrade(alembic_config(service, conn), revision)


def downgrade(database_url: str, service: str, revision: str = "-1") -> None:
    with _migrating(database_url, service) as conn:
        command.downgrade(alembic_config(service, conn), revision)


def stamp(database_url: str, service: str, revision: str) -> None:
    with _migrating(database_url, service) as conn:
        command.stamp(alembic_config(service, conn), revision)


def current(database_url: str, service: str) -> str | None:
    """The database's revision (None: not migrated at all)."""
    with _connected(database_url) as conn:
        found = MigrationContext.configure(conn).get_current_heads()
    return ",".join(found) if found else None


def heads(service: str) -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(service)).get_heads())


def check(database_url: str, service: str,
          metadatas: Sequence[MetaData] | None = None) -> list:
    """Autogenerate's differences between the database and the models (empty = in sync).

    `metadatas` defaults to backbone + the service's own; tests pass others."""
    metadatas = list(metadatas) if metadatas is not None else target_metadata(service)
    with _connected(database_url) as conn:
        return _compare(conn, metadatas)


def revision(service: str, message: str, database_url: str | None = None) -> Path | None:
    """Write the next revision of `service`, autogenerated against a scratch database at
    head (on the PostgreSQL server of `database_url`, else a temporary SQLite file).
    Returns the new file, or None when the models need no change."""
    url = database_url or service_database_url(service)
    versions = versions_dir(service)
    versions.mkdir(parents=True, exist_ok=True)
    for package in (versions.parent, versions):
        (package / "__init__.py").touch()
    if make_url(url).get_backend_name() != "postgresql":
        log.warning("autogenerating against SQLite: review types and defaults, or pass "
                    "--database-url postgresql://…")
    with _scratch_database(url, service) as scratch:
        upgrade(scratch, service)
        with _connected(scratch) as conn:
            cfg = alembic_config(service, conn, target_metadata=target_metadata(service),
                                 skip_empty=True)
            script = command.revision(cfg, message=message, autogenerate=True,
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


# ---------------------------------------------------------------- command line

def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS,
                        help="default: the service's DATABASE_URL(_FILE) or .run/SERVICE.db")
    p = argparse.ArgumentParser(prog="hyeopchi migrate", parents=[common],
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("service", choices=services())
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", parents=[common], help="to REVISION (default head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", parents=[common], help="to REVISION (default -1)")
    down.add_argument("revision", nargs="?", default="-1")
    sub.add_parser("current", parents=[common], help="the database's revision")
    sub.add_parser("check", parents=[common], help="exit 1 unless at head and in sync")
    st = sub.add_parser("stamp", parents=[common], help="record REVISION, run nothing")
    st.add_argument("revision")
    sub.add_parser("history", parents=[common], help="the service's revisions")
    rev = sub.add_parser("revision", parents=[common], help="autogenerate the next revision")
    rev.add_argument("-m", "--message", required=True)
    return p


def _cli_logging() -> None:
    """Say which revisions ran and what autogenerate found; not Alembic's chatter."""
    if logging.getLogger().handlers:
        return
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    chatter = ("Context impl", "Will assume")
    for name in ("hyeopchi.migrate", "alembic.runtime.migration",
                 "alembic.autogenerate.compare"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.migration").addFilter(
        lambda record: not record.getMessage().startswith(chatter))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    _cli_logging()
    service = args.service
    given = getattr(args, "database_url", None)

    def url() -> str:
        return given or service_database_url(service)

    if args.action == "upgrade":
        upgrade(url(), service, args.revision)
        print(f"{service}: at {current(url(), service)}")
    elif args.action == "downgrade":
        downgrade(url(), service, args.revision)
        print(f"{service}: at {current(url(), service) or 'base'}")
    elif args.action == "stamp":
        stamp(url(), service, args.revision)
        print(f"{service}: stamped {args.revision}")
    elif args.action == "current":
        print(current(url(), service) or "base (not migrated)")
    elif args.action == "history":
        command.history(alembic_config(service))
    elif args.action == "check":
        at, head = current(url(), service), heads(service)
        diff = check(url(), service)
        for item in diff:
            print(f"  {item}")
        in_sync = not diff and at is not None and at.split(",") == head
        print(f"{service}: database at {at or 'base'}, code head {','.join(head) or '-'}; "
              + ("in sync" if in_sync else f"{len(diff)} difference(s)"))
        return 0 if in_sync else 1
    elif args.action == "revision":
        path = revision(service, args.message, given)
        print(path if path else f"{service}: no changes, no revision written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
