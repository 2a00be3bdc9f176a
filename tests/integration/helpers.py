"""Small helpers shared by integration tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from scenarios.processes import REPO, ServiceProcess, wait_until  # noqa: F401
from shared.kafka_io import read_topic  # noqa: F401  (re-exported for tests)


def run_module(module: str, *args: str, crash_at: str | None = None,
               timeout: float = 180) -> tuple[int, dict | None, str]:
    """Run `python -m module args` as a real process; return (exit code, JSON out, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "HYEOPCHI_CRASH_AT"}
    if crash_at:
        env["HYEOPCHI_CRASH_AT"] = crash_at
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    out = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return done.returncode, out, done.stderr
