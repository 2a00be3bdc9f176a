"""Deployments of real service processes for integration tests."""
import uuid

import pytest

from tests.conftest import free_port
from tests.integration.helpers import ServiceProcess


@pytest.fixture
def stack(make_db_url, kafka_bootstrap, tmp_path):
    """Start services as their own processes: one topic prefix, a database each."""
    running: list[ServiceProcess] = []

    def start(*services: str, prefix: str | None = None,
              env: dict | None = None) -> list[ServiceProcess]:
        prefix = prefix or f"t{uuid.uuid4().hex[:8]}"
        started = []
        for name in services:
            svc = ServiceProcess(name, database_url=make_db_url(), bootstrap=kafka_bootstrap,
                                 port=free_port(), topic_prefix=prefix,
                                 log_path=tmp_path / f"{prefix}-{name}.log",
                                 extra_env=env)
            svc.prefix, svc.database_url = prefix, svc.env["DATABASE_URL"]
            running.append(svc.start())
            started.append(svc)
        return started
    yield start
    for svc in running:
        svc.stop()
