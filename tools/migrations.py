"""`hyeopchi migrate SERVICE …`: a service's schema migrations by name (shared/migrate.py).

  hyeopchi migrate SERVICE upgrade [REV]       to REV, default heads (every branch)
  hyeopchi migrate SERVICE downgrade [REV]     to REV, default -1 (one step); `base` = empty
  hyeopchi migrate SERVICE current             the revisions the database records
  hyeopchi migrate SERVICE check               exit 1 unless at head and equal to the models
  hyeopchi migrate SERVICE stamp REV           record REV without running anything
  hyeopchi migrate SERVICE history             the backbone's and the service's revisions
  hyeopchi migrate SERVICE revision -m MSG     autogenerate the service's next revision
                                               against a scratch database brought to head
                                               (created next to --database-url on
                                               PostgreSQL, else SQLite)
Every command takes --database-url URL; without it the service's own settings decide
(DATABASE_URL_FILE, DATABASE_URL, else the SQLite file .run/<service>.db).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from alembic import command

import services
from shared import migrate


def schema(service: str) -> migrate.Schema:
    """The service's schema, from its spec in the registry."""
    return services.spec(service).schema


def database_url(service: str) -> str:
    """The URL the service itself would use (its Settings, from the environment)."""
    return services.settings_class(service)().database()


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS,
                        help="default: the service's DATABASE_URL(_FILE) or .run/SERVICE.db")
    p = argparse.ArgumentParser(prog="hyeopchi migrate", parents=[common],
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("service", choices=services.NAMES)
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", parents=[common], help="to REVISION (default heads)")
    up.add_argument("revision", nargs="?", default=migrate.HEADS)
    down = sub.add_parser("downgrade", parents=[common], help="to REVISION (default -1)")
    down.add_argument("revision", nargs="?", default="-1")
    sub.add_parser("current", parents=[common], help="the database's revisions")
    sub.add_parser("check", parents=[common], help="exit 1 unless at head and in sync")
    st = sub.add_parser("stamp", parents=[common], help="record REVISION, run nothing")
    st.add_argument("revision")
    sub.add_parser("history", parents=[common], help="the revisions, backbone's included")
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


def _check(url: str, target: migrate.Schema) -> int:
    diff = migrate.check(url, target)
    for item in diff:
        print(f"  {item}")
    behind = migrate.pending(url, target)
    at = migrate.current(url) or "base"
    in_sync = not diff and not behind
    print(f"{target.service}: database at {at}, code heads {','.join(migrate.heads(target))}; "
          + ("in sync" if in_sync else
             f"{len(diff)} difference(s), {len(behind)} revision(s) to run"))
    return 0 if in_sync else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    _cli_logging()
    service, target = args.service, schema(args.service)
    url = getattr(args, "database_url", None) or database_url(service)
    if args.action == "upgrade":
        migrate.upgrade(url, target, args.revision)
        print(f"{service}: at {migrate.current(url)}")
    elif args.action == "downgrade":
        migrate.downgrade(url, target, args.revision)
        print(f"{service}: at {migrate.current(url) or 'base'}")
    elif args.action == "stamp":
        migrate.stamp(url, target, args.revision)
        print(f"{service}: stamped {args.revision}")
    elif args.action == "current":
        print(migrate.current(url) or "base (not migrated)")
    elif args.action == "history":
        command.history(migrate.alembic_config(target))
    elif args.action == "check":
        return _check(url, target)
    elif args.action == "revision":
        path = migrate.revision(target, args.message, url)
        print(path if path else f"{service}: no changes, no revision written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
