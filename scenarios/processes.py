"""Run services and the broker as real processes, as an operator would."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"


def script(*args) -> str:
    """Run a deploy script; return its one result line (stdout), fail with its stderr."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


class ServiceProcess:
    """A service started as its own OS process, the way an operator runs it."""

    def __init__(self, service: str, *, database_url: str, bootstrap: str, port: int,
                 topic_prefix: str, log_path: Path, extra_env: dict | None = None):
        from scenarios.dev_kek import dev_kek  # noqa: PLC0415
        from scenarios.sso import dev_sso  # noqa: PLC0415
        dev_sso()  # the services trust the development SSO's public key
        dev_kek()  # and the committee wraps person keys with a development KEK
        self.service, self.port, self.log_path = service, port, log_path
        self.env = {**{k: v for k, v in os.environ.items() if k != "HYEOPCHI_CRASH_AT"},
                    "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "HTTP_PORT": str(port), "TOPIC_PREFIX": topic_prefix,
                    **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def launch(self) -> "ServiceProcess":
        """Start the process without waiting for it to be ready."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.service}"],
                                     cwd=REPO, env=self.env, stdout=log, stderr=log)
        return self

    def start(self, timeout: float = 60.0) -> "ServiceProcess":
        self.launch()
        last = "no answer"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited {self.proc.returncode}: "
                                   f"{self.log_path.read_text()[-3000:]}")
            try:
                answer = httpx.get(f"{self.url}/health/ready", timeout=5)
                if answer.status_code == 200:
                    return self
                last = answer.text
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.service} not ready ({last}): "
                           f"{self.log_path.read_text()[-3000:]}")

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
