"""The plain wheel, as an operator installs it: built from the project, installed into a
fresh virtual environment with the pinned dependencies, and every service started from
it (outside the repository, so nothing is imported from the working tree) against the
real broker: each answers /health/ready, takes its command (or event), and
publishes or projects the result (tests/deploy/one_command.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from scenarios.dev_kek import dev_kek
from scenarios.sso import dev_sso
from tests.conftest import free_port

from .one_command import SERVICES, on_timeline, published, send_commands, wait_ready

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel and the hash-locked runtime dependencies only."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(work / "dist"), str(REPO)], check=True, cwd=work)
    [wheel] = (work / "dist").glob("hyeopchi-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(REPO / "requirements" / "runtime.lock")],
                   check=True, cwd=work)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, cwd=work)
    return venv


def test_the_wheel_carries_its_rule_and_policy_files(installed):
    site = next((installed / "lib").glob("python3.*/site-packages"))
    for service in SERVICES:
        assert (site / "services" / service / "adapters" / "access.json").is_file(), service
    assert (site / "services" / "submission" / "rulebooks" / "2021.json").is_file()
    assert not (site / "tests").exists() and not (site / "bench").exists()


async def test_every_service_starts_from_the_installed_wheel_and_does_its_work(
        installed, kafka_bootstrap, tmp_path):
    prefix = f"w{uuid.uuid4().hex[:8]}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
           "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": prefix,
           "AUTH_JWKS_FILE": str(dev_sso().jwks),
           "PERSONAL_DATA_KEK_FILE": str(dev_kek())}
    running = []
    try:
        for service in SERVICES:
            port = free_port()
            log = tmp_path / f"{service}.log"
            proc = subprocess.Popen(
                [str(installed / "bin" / "hyeopchi"), "run", service],
                cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                env={**env, "HTTP_PORT": str(port),
                     "DATABASE_URL": f"sqlite:///{tmp_path / service}.db"})
            running.append((service, proc, f"http://127.0.0.1:{port}", log))
        for service, proc, url, log in running:
            wait_ready(url, f"{service} (wheel)",
                       alive=lambda p=proc, g=log: _gone(p, g))
        urls = {service: url for service, _, url, _ in running}
        sent = send_commands(urls)
        found = await published(kafka_bootstrap, prefix, sent)
        ids = {e.event_id for events in found.values() for e in events}
        rows = await on_timeline(urls["audit"], ids)
        assert {r["service"] for r in rows if r["event_id"] in ids} == set(sent.expected)
    finally:
        for _, proc, _, _ in running:
            proc.terminate()
        for _, proc, _, _ in running:
            proc.wait(30)
    for service, proc, _, log in running:  # SIGTERM is a clean stop
        assert proc.returncode == 0, (service, log.read_text()[-2000:])


def _gone(proc, log: Path) -> str | None:
    if proc.poll() is None:
        return None
    return f"exit {proc.returncode}: {log.read_text()[-3000:]}"
