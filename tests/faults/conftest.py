"""Fault tests: real processes, real broker(s), real PostgreSQL, faults done to them.

Each test runs the scaled-down 2021 load (`scenarios/load.py`) through a deployment
of every service (`scenarios/fleet.py`), injects its fault, waits until everything
sent has settled, and holds the books (`scenarios/books.py`). The figures of every
fault test are printed at the end of the session and written to .run/faults.json.
`hyeopchi soak` runs the same at full size.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import uuid

import pytest

from scenarios.fleet import ALL, Fleet
from scenarios.processes import KAFKA_SH, REPO, script
from tests.conftest import PG_SH, free_port, fresh_postgres_db

FIGURES: list[dict] = []
RESULTS = REPO / ".run" / "faults.json"


def record(fault: str, injected: int, books, **more) -> None:
    """One row of the fault table: what was injected, what was processed, lost, doubled."""
    FIGURES.append({"fault": fault, "injected": injected, "events": books.events,
                    "inputs": books.inputs, "lost": len(books.lost),
                    "doubled": len(books.doubled), "republished": books.republished,
                    "checksums_equal": books.checksums_equal, **more})


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "faults injected this run")
    terminalreporter.write_line("| fault | injected | events processed | lost | doubled |")
    for f in FIGURES:
        terminalreporter.write_line(f"| {f['fault']} | {f['injected']} | {f['events']:,} | "
                                    f"{f['lost']} | {f['doubled']} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=1, ensure_ascii=False) + "\n")


@pytest.fixture
def seed() -> int:
    """The fault schedule's seed: HYEOPCHI_FAULT_SEED, else random; always printed."""
    value = int(os.environ.get("HYEOPCHI_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"fault seed {value} (rerun with HYEOPCHI_FAULT_SEED={value})")
    return value


@pytest.fixture
def fleet_of(tmp_path):
    """Factory of deployments (every service, its own database each); stopped after."""
    made: list[Fleet] = []

    def make(bootstrap: str, databases: dict[str, str], **env) -> Fleet:
        if os.environ.get("HYEOPCHI_FAULT_LOG_LEVEL"):  # WARNING unless asked
            env.setdefault("LOG_LEVEL", os.environ["HYEOPCHI_FAULT_LOG_LEVEL"])
        fleet = Fleet(bootstrap, f"f{uuid.uuid4().hex[:8]}", databases,
                      tmp_path / f"logs-{len(made)}", env=env)
        made.append(fleet)
        return fleet
    yield make
    for fleet in made:
        fleet.stop()


def databases(tmp_path, on_postgres: tuple[str, ...] = (), admin_url: str | None = None
              ) -> dict[str, str]:
    """A database per service: those named on PostgreSQL (`admin_url`'s server),
    the others SQLite files."""
    return {name: fresh_postgres_db(admin_url) if name in on_postgres
            else f"sqlite:///{tmp_path / f'{name}.db'}" for name in ALL}


@pytest.fixture
def own_broker():
    """A single-node broker of the test's own (so it may be restarted): a dict with
    the script arguments to start it again; wiped after."""
    name = f"faults-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    args = ["--name", name, "--port", str(free_port()), "--controller-port",
            str(free_port()), "--heap", "384m"]
    bootstrap = script(KAFKA_SH, "start", *args)
    try:
        yield {"bootstrap": bootstrap, "name": name, "args": args}
    finally:
        subprocess.run([str(KAFKA_SH), "wipe", "--name", name], capture_output=True)


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of the test's own (so it may be restarted); wiped after."""
    name = f"faults-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    url = script(PG_SH, "start", "--name", name, "--port", free_port())
    try:
        yield {"url": url, "name": name}
    finally:
        subprocess.run([str(PG_SH), "wipe", "--name", name], capture_output=True)
