"""`hyeopchi` (협치): one command for the whole project.

  hyeopchi run SERVICE           run one service in the foreground (env configures it)
  hyeopchi demo                  broker + services on SQLite, then the 2021 scenario
  hyeopchi soak [--events N] [--kills K]  the 2021 scenario scaled up under faults
                                 (kill -9, broker and PostgreSQL restarts, rebalance)
  hyeopchi test [PYTEST ARGS]    the whole test suite (starts its own broker and PostgreSQL)
  hyeopchi test --fast           the fast tier: unit, handler and contract tests
  hyeopchi kafka ARGS            deploy/kafka/kafka.sh (start, stop, cluster-start, …)
  hyeopchi postgres ARGS         deploy/postgres/pg.sh (start, stop, …)
  hyeopchi schemas DIR           write the JSON Schema of every event version of every service
  hyeopchi verify DATABASE_URL   check every hash chain in one service's event store
  hyeopchi audit COMMAND         auditors: replay, history, as-of, verify, export
  hyeopchi bench [--events N] [--quick]  benchmarks (own broker and PostgreSQL) into
                                 bench/results/latest.json, .md, .png
  hyeopchi contracts [--check]   write contracts/: AsyncAPI per service, event JSON Schemas
  hyeopchi config [--check]      write deploy/CONFIGURATION.md from the settings classes
  hyeopchi migrate SERVICE ACTION  schema migrations (Alembic): upgrade, downgrade,
                                 current, check, stamp, history, revision -m MSG
  hyeopchi dlq list|show|redrive  dead letters: why each record was parked; re-send it
  hyeopchi rotate-kek            re-wrap every person key under the active KEK (committee)

Services are found in the service registry (services/__init__.py) and loaded on
demand. This is a tool: it may import the services, the scenarios and the bench;
nothing in shared/ or services/ imports it.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import services

REPO = Path(__file__).resolve().parents[1]
SERVICES = sorted(services.NAMES)


def _service_module(name: str, part: str):
    if name not in SERVICES:
        sys.exit(f"hyeopchi: unknown service {name!r} (known: {', '.join(SERVICES)})")
    return importlib.import_module(f"services.{name}.{part}")


def cmd_run(args) -> int:
    _service_module(args.service, "__main__").main()
    return 0


# The fast tier: no broker, no database, no container — the pure domain, every
# handler on an in-memory unit of work, the backbone's units and the published
# contracts. Under three minutes on two cores; the full suite stays the default.
FAST_TIER = ("tests/unit", "tests/deploy/test_contracts.py", "tests/deploy/test_lock.py")


def cmd_test(args) -> int:
    os.chdir(REPO)
    pytest_args = list(args.pytest_args)
    if "--fast" in pytest_args:
        pytest_args.remove("--fast")
        pytest_args = [*FAST_TIER, *pytest_args]
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args])


def cmd_script(script: str, args) -> int:
    return subprocess.call([str(REPO / "deploy" / script), *args.script_args])


def cmd_schemas(args) -> int:
    out = Path(args.directory)
    for name in SERVICES:
        registry = _service_module(name, "domain.events").registry
        for key, schema in registry.json_schemas().items():
            target = out / name / f"{key}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
            print(target)
    return 0


def cmd_verify(args) -> int:
    from shared.store import verify_database
    ok, message = asyncio.run(verify_database(args.database_url))
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_bench(args) -> int:
    if str(REPO) not in sys.path:  # bench/ sits beside the installed packages
        sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    return importlib.import_module("bench.run").main(args.bench_args)


def cmd_audit(args) -> int:
    return importlib.import_module("services.audit.cli").main(args.audit_args)


def cmd_contracts(args) -> int:
    from .contracts import main as contracts_main
    return contracts_main(args.contracts_args)


def cmd_config(args) -> int:
    from .config_reference import main as config_main
    return config_main(args.config_args)


def cmd_migrate(args) -> int:
    from .migrations import main as migrate_main
    return migrate_main(args.migrate_args)


def cmd_demo(args) -> int:
    from scenarios.demo import main as demo
    return demo(args)


def cmd_soak(args) -> int:
    from scenarios.soak import main as soak
    return soak(args)


def cmd_rotate_kek(args) -> int:
    """Re-wrap every committee person key under the KEK file's active key."""
    from .migrations import database_url, schema
    keys = _service_module("committee", "app.keys")
    return keys.main(schema("committee"),
                     database_url=args.database_url or database_url("committee"),
                     batch_size=args.batch_size)


def cmd_dlq(args) -> int:
    from .dlq_admin import main as dlq_main
    return dlq_main(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyeopchi", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one service")
    run.add_argument("service", choices=SERVICES)
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="the main job: broker, services, 2021 scenario")
    demo.add_argument("--keep-running", action="store_true",
                      help="leave broker and services up afterwards")
    demo.set_defaults(func=cmd_demo)
    soak = sub.add_parser("soak", help="the 2021 scenario scaled up under faults, "
                                       "then lost/doubled effects and replayed checksums")
    from scenarios.soak import add_arguments as soak_arguments  # noqa: PLC0415
    soak_arguments(soak)
    soak.set_defaults(func=cmd_soak)
    test = sub.add_parser("test", help="run the whole test suite (pytest arguments "
                                       "pass through; --fast: the fast tier only)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)
    for name, script in (("kafka", "kafka/kafka.sh"), ("postgres", "postgres/pg.sh")):
        s = sub.add_parser(name, help=f"deploy/{script}")
        s.add_argument("script_args", nargs=argparse.REMAINDER)
        s.set_defaults(func=lambda a, script=script: cmd_script(script, a))
    audit = sub.add_parser("audit", help="auditors: replay, history, as-of, verify, export")
    audit.add_argument("audit_args", nargs=argparse.REMAINDER)
    audit.set_defaults(func=cmd_audit)
    bench = sub.add_parser("bench", help="benchmarks into bench/results/")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    contracts = sub.add_parser("contracts", help="write (or --check) the published contracts")
    contracts.add_argument("contracts_args", nargs=argparse.REMAINDER)
    contracts.set_defaults(func=cmd_contracts)
    conf = sub.add_parser("config", help="write/check the configuration reference")
    conf.add_argument("config_args", nargs=argparse.REMAINDER)
    conf.set_defaults(func=cmd_config)
    mig = sub.add_parser("migrate", help="schema migrations of one service's database")
    mig.add_argument("migrate_args", nargs=argparse.REMAINDER)
    mig.set_defaults(func=cmd_migrate)
    schemas = sub.add_parser("schemas", help="export JSON Schema of every event version")
    schemas.add_argument("directory")
    schemas.set_defaults(func=cmd_schemas)
    verify = sub.add_parser("verify", help="check a service store's hash chains")
    verify.add_argument("database_url")
    verify.set_defaults(func=cmd_verify)
    rotate = sub.add_parser("rotate-kek", help="committee: re-wrap every person key "
                                               "under the KEK file's active key")
    rotate.add_argument("--database-url", default=None,
                        help="the committee database; default: the service's settings")
    rotate.add_argument("--batch-size", type=int, default=500,
                        help="person keys re-wrapped per transaction (default 500)")
    rotate.set_defaults(func=cmd_rotate_kek)
    from .dlq_admin import HELP as DLQ_HELP, add_arguments as dlq_arguments  # noqa: PLC0415
    dlq = sub.add_parser("dlq", help="dead letters: list, show, redrive",
                         description=DLQ_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    dlq_arguments(dlq)
    dlq.set_defaults(func=cmd_dlq)
    return p


PASSTHROUGH = {"test": "pytest_args", "kafka": "script_args", "postgres": "script_args",
               "audit": "audit_args", "bench": "bench_args", "migrate": "migrate_args",
               "config": "config_args", "contracts": "contracts_args"}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSTHROUGH:  # hand every later word to pytest or the script
        args = parser().parse_args(argv[:1])
        setattr(args, PASSTHROUGH[argv[0]], argv[1:])
    else:
        args = parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
