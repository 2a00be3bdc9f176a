"""The one Alembic environment of every service, driven by `shared.migrate`.

Not for the `alembic` command line: `shared.migrate` builds the Config in code and
hands over, in `config.attributes`, an open connection (already inside the locked
transaction), the service name and, for autogenerate, the target metadata and
the tables to compare (the service's own).
"""
from __future__ import annotations

from alembic import context

config = context.config
attributes = config.attributes


def _skip_empty(_context, _revision, directives) -> None:
    """`revision` with nothing to change writes no file."""
    script = directives[0]
    if all(ops.is_empty() for ops in script.upgrade_ops_list):
        directives[:] = []


def _only(tables: set[str] | None):
    """Autogenerate a service's revision over its own tables: the backbone's are
    another branch's (shared/migrations/backbone)."""
    if tables is None:
        return None
    return lambda name, kind, _parent: kind != "table" or name in tables


def run_migrations_online() -> None:
    connection = attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through shared.migrate (hyeopchi migrate …), "
                           "not the alembic command line")
    context.configure(
        connection=connection,
        target_metadata=attributes.get("target_metadata"),
        # Batch ops everywhere: a no-op wrapper on PostgreSQL, table copy-and-move on
        # SQLite, which cannot ALTER most things in place.
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
        include_name=_only(attributes.get("only_tables")),
        process_revision_directives=_skip_empty if attributes.get("skip_empty") else None,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
