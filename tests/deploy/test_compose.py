"""docker-compose.yml for real, under podman-compose: the stack up with the local
stand-ins for apache/kafka and postgres (deploy/containers/, built on the Debian base)
and the application image, SASL on, the JWKS mounted, Kafka published on the host.
Commands go in over HTTP with the development SSO's tokens; the events are read back
as an auditor does (`hyeopchi audit` against the published port) and through the audit
service's timeline; then the Kafka and PostgreSQL containers are recreated and every
event must still be there (same ids and hashes), the read models too, and the stack
still takes commands. `down -v` at the end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from scenarios.processes import KAFKA_SH
from scenarios.sso import dev_sso
from tests.conftest import free_port

from .conftest import BASE_IMAGE, podman
from .one_command import SERVICES, on_timeline, published, send_commands, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.containers]
REPO = Path(__file__).resolve().parents[2]
KAFKA_IMAGE = "localhost/hyeopchi-kafka:4.1.1"
POSTGRES_IMAGE = "localhost/hyeopchi-postgres:15"
PORT_VARIABLES = {"submission": "SUBMISSION_PORT", "scoring": "SCORING_PORT",
                  "committee": "COMMITTEE_PORT", "grants": "GRANTS_PORT",
                  "audit": "AUDIT_PORT"}
# What compose reads relative to the file: copied into a temporary tree with the
# generated secrets, so a run never touches deploy/compose-secrets/local/.
COMPOSE_INPUTS = ["docker-compose.yml", "deploy/postgres/init-databases.sql",
                  *(f"deploy/compose-secrets/{s}-database-url" for s in SERVICES)]


@pytest.fixture(scope="session")
def standin_images(container_engine) -> dict[str, str]:
    """The Kafka (Maven jars) and PostgreSQL (Debian package) stand-ins."""
    subprocess.run([str(KAFKA_SH), "fetch"], check=True, capture_output=True, timeout=900)
    for image, dockerfile in ((KAFKA_IMAGE, "kafka.Dockerfile"),
                              (POSTGRES_IMAGE, "postgres.Dockerfile")):
        podman("build", "--build-arg", f"BASE={BASE_IMAGE}", "-f",
               REPO / "deploy" / "containers" / dockerfile, "-t", image, REPO, cwd=REPO)
    return {"KAFKA_IMAGE": KAFKA_IMAGE, "POSTGRES_IMAGE": POSTGRES_IMAGE}


class Stack:
    def __init__(self, root: Path, project: str, env: dict[str, str]):
        self.root, self.project, self.env = root, project, env
        self.urls = {s: f"http://127.0.0.1:{env[PORT_VARIABLES[s]]}" for s in SERVICES}
        self.kafka = f"localhost:{env['KAFKA_EXTERNAL_PORT']}"
        self.secrets = root / "deploy" / "compose-secrets" / "local"

    def compose(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(["podman-compose", "-p", self.project, "-f",
                               str(self.root / "docker-compose.yml"), *args],
                              cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"podman-compose {' '.join(args)}: {done.returncode}\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def container_id(self, service: str) -> str:
        return podman("inspect", "--format", "{{.Id}}", self.container(service)).stdout.strip()

    def logs(self) -> str:
        found = []
        for service in ("kafka", "postgres", "kafka-setup", *SERVICES):
            done = podman("logs", "--tail", "25", self.container(service), check=False)
            found.append(f"--- {service}\n{(done.stdout + done.stderr)[-2500:]}")
        return "\n".join(found)

    def wait_ready(self, timeout: float = 240) -> None:
        try:
            for service in SERVICES:
                wait_ready(self.urls[service], f"{service} (compose)", timeout=timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from None

    def admin_env(self) -> dict[str, str]:
        """The Kafka client settings of an auditor's machine: the published port, the
        admin's PLAIN credentials (shared/kafka_io.py client_security)."""
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_USERNAME": "admin",
                "KAFKA_SASL_PASSWORD_FILE": str(self.secrets / "kafka" / "admin.password"),
                "TOPIC_PREFIX": "hyeopchi"}

    def audit(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools.cli", "audit", "--bootstrap", self.kafka, *args],
            cwd=REPO, env={**os.environ, **self.admin_env()}, capture_output=True,
            text=True, timeout=180)

    def exported(self) -> dict[str, str]:
        """Every event of every service as the auditor exports it: event id -> hash."""
        done = self.audit("export")
        assert done.returncode == 0, done.stderr[-3000:]
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        return {r["event_id"]: r["hash"] for r in rows}


@pytest.fixture
def stack(container_engine, app_image, standin_images, tmp_path):
    from scenarios.dev_kek import dev_kek  # noqa: PLC0415
    sys.path.insert(0, str(REPO / "deploy" / "compose-secrets"))
    try:
        from generate import generate  # noqa: PLC0415
    finally:
        sys.path.remove(str(REPO / "deploy" / "compose-secrets"))
    root = tmp_path / "compose"
    for name in COMPOSE_INPUTS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, root / name)
    dev_kek()
    generate(root / "deploy" / "compose-secrets" / "local", jwks=dev_sso().jwks)
    project = f"hyc{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CONTAINERS_CONF": os.environ["CONTAINERS_CONF"],
           **standin_images, "HYEOPCHI_IMAGE": app_image,
           "KAFKA_EXTERNAL_PORT": str(free_port()),
           **{var: str(free_port()) for var in PORT_VARIABLES.values()}}
    env.pop("DOCKER_HOST", None)
    running = Stack(root, project, env)
    try:
        yield running
    finally:
        running.compose("down", "-v", timeout=300)
        podman("network", "rm", "-f", f"{project}_default", check=False)
        left = podman("ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                      "--format", "{{.Names}}").stdout.split()
        assert not left, f"containers left behind: {left}"


async def test_the_stack_keeps_every_event_when_kafka_and_postgres_are_recreated(
        stack, monkeypatch):
    started = time.monotonic()
    stack.compose("up", "-d")
    stack.wait_ready()
    up_s = time.monotonic() - started
    for name, value in stack.admin_env().items():  # this process reads Kafka as the auditor
        monkeypatch.setenv(name, value)

    sent = send_commands(stack.urls)
    found = await published(stack.kafka, "hyeopchi", sent)
    before = stack.exported()
    on_kafka = {e.event_id: e.hash for events in found.values() for e in events}
    assert on_kafka.items() <= before.items(), "the export must hold what the topics hold"
    timeline = await on_timeline(stack.urls["audit"], set(before))
    assert {r["event_id"] for r in timeline} == set(before)

    # Recreate the broker and the database: new containers, the same named volumes.
    old = {s: stack.container_id(s) for s in ("kafka", "postgres")}
    podman("stop", "-t", "60", stack.container("kafka"), stack.container("postgres"))
    stack.compose("up", "-d", "--force-recreate", "kafka", "postgres")
    assert all(stack.container_id(s) != old[s] for s in old), "not recreated"
    stack.wait_ready()

    after = stack.exported()
    changed = [i for i in before if i in after and after[i] != before[i]]
    assert after == before, f"lost: {sorted(set(before) - set(after))}; changed: {changed}"
    verified = stack.audit("verify")
    assert verified.returncode == 0, verified.stderr[-2000:]
    assert f"ok: {len(before)} events" in verified.stdout, verified.stdout
    timeline = await on_timeline(stack.urls["audit"], set(before))
    assert {r["event_id"] for r in timeline} == set(before), "the audit read model changed"

    # And the recreated stack still takes commands: new events beside the old ones.
    again = send_commands({s: stack.urls[s] for s in ("committee", "grants")})
    await published(stack.kafka, "hyeopchi", again)
    latest = stack.exported()
    assert before.items() <= latest.items() and len(latest) == len(before) + 2
    await on_timeline(stack.urls["audit"], set(latest))
    print(f"\ncompose: up and ready in {up_s:.0f} s, {len(before)} events kept across the "
          f"recreate, whole test {time.monotonic() - started:.0f} s")
