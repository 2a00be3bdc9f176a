"""Small helpers shared by integration tests."""
from __future__ import annotations

import asyncio
import time
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


class ServiceProcess:
    """A service started as its own OS process, the way an operator runs it."""

    def __init__(self, service: str, *, database_url: str, bootstrap: str, port: int,
                 topic_prefix: str, log_path: Path, extra_env: dict | None = None):
        self.service, self.port, self.log_path = service, port, log_path
        self.env = {**{k: v for k, v in os.environ.items() if k != "HYEOPCHI_CRASH_AT"},
                    "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "HTTP_PORT": str(port), "TOPIC_PREFIX": topic_prefix,
                    **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 60.0) -> "ServiceProcess":
        import httpx
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.service}"],
                                     cwd=REPO, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited {self.proc.returncode}: "
                                   f"{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.service} not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


async def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll an async predicate until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met in {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)
