"""Hostile-input tests: the session tally of generated inputs is printed at the end."""
from __future__ import annotations

import json
import os

from tests.hostile import tally
from tests.integration.conftest import stack  # noqa: F401 — real service processes


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not tally.total():
        return
    terminalreporter.write_sep("=", f"hostile inputs generated this run: {tally.total()}")
    for line in tally.table():
        terminalreporter.write_line(line)
    if os.environ.get("HOSTILE_REASONS"):
        for surface, found in sorted(tally.reasons.items()):
            terminalreporter.write_line(f"-- {surface}")
            for why, n in found.most_common(25):
                terminalreporter.write_line(f"   {n:6} {why}")
    out = os.environ.get("HOSTILE_TALLY_JSON")
    if out:  # figures for the README table, when asked for
        with open(out, "w", encoding="utf-8") as f:
            json.dump({s: dict(c) for s, c in tally.rows()}, f, indent=1, sort_keys=True)


import pytest_asyncio  # noqa: E402


@pytest_asyncio.fixture(scope="session")
async def world(tmp_path_factory):
    """Every service in-process on its own migrated SQLite database, seeded. The
    files live in memory (/dev/shm) where there is one: the same SQLite, same
    pragmas, without waiting on the disk for each of thousands of commits."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.hostile import harness
    from tests.hostile.world import build
    shm = Path("/dev/shm")
    where = Path(tempfile.mkdtemp(prefix="hyeopchi-hostile-", dir=shm)) if shm.is_dir() \
        else tmp_path_factory.mktemp("hostile-world")
    built = await build(where)
    yield built
    for svc in built.services.values():
        await harness.stop(svc)
    if where.parent == shm:
        shutil.rmtree(where, ignore_errors=True)
