"""Real infrastructure for the tests: a Kafka broker and a PostgreSQL server.

Kafka: KAFKA_BOOTSTRAP_SERVERS if set; else testcontainers' Kafka module where a
Docker engine answers; else the jar broker from deploy/kafka (this machine's path).
PostgreSQL: TEST_POSTGRES_URL if set; else deploy/postgres/pg.sh. Never in-memory.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scenarios.processes import KAFKA_SH, REPO, script
from shared.topics import Topic, ensure_topics

PG_SH = REPO / "deploy" / "postgres" / "pg.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap():
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    if _docker_engine():
        from testcontainers.kafka import KafkaContainer
        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    name = f"pytest-{os.getpid()}"
    boot = script(KAFKA_SH, "start", "--name", name, "--port", free_port(),
                   "--controller-port", free_port(), "--heap", "512m")
    try:
        yield boot
    finally:
        subprocess.run([str(KAFKA_SH), "wipe", "--name", name], capture_output=True)


@pytest.fixture(scope="session")
def postgres_admin_url():
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    name = f"pytest-{os.getpid()}"
    url = script(PG_SH, "start", "--name", name, "--port", free_port())
    try:
        yield url
    finally:
        subprocess.run([str(PG_SH), "wipe", "--name", name], capture_output=True)


def fresh_postgres_db(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def make_db_url(request, tmp_path):
    """Factory of fresh, empty database URLs on the backend under test."""
    backend = getattr(request, "param", "sqlite")
    counter = iter(range(1000))

    def make() -> str:
        if backend == "postgresql":
            return fresh_postgres_db(request.getfixturevalue("postgres_admin_url"))
        return f"sqlite:///{tmp_path / f'db{next(counter)}.sqlite'}"
    return make


BACKENDS = pytest.mark.parametrize("make_db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def make_topic(kafka_bootstrap):
    """Factory of fresh topics (with their DLQ), unique to the test."""
    def make(partitions: int = 3) -> str:
        name = f"hyeopchi.test-{uuid.uuid4().hex[:10]}.events"
        ensure_topics(kafka_bootstrap, [Topic(name, "test", partitions)])
        return name
    return make
