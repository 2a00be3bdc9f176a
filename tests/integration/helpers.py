"""Small helpers shared by integration tests."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from shared.kafka_io import partitions_of

REPO = Path(__file__).resolve().parents[2]


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


async def read_topic(bootstrap: str, topic: str, timeout: float = 10.0) -> list:
    """Every record of a topic from offset 0 to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = await partitions_of(bootstrap, [topic])
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any([await consumer.position(tp) < end[tp] for tp in parts]):
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
