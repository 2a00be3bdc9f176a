"""Database faults: PostgreSQL restarted mid-run under every service. The services
wait it out with backoff (consumers, projections, relays) and lose nothing."""
from __future__ import annotations

import asyncio
import random

import pytest

from scenarios.fleet import ALL
from scenarios.load import Workload
from scenarios.processes import script
from tests.conftest import PG_SH
from tests.faults.conftest import databases, record
from tests.faults.harness import assert_clean, retried, run_with_fault, until_progress

pytestmark = pytest.mark.integration
DATABASE_AWAY = ("database_unavailable_retrying", "projection_retry", "relay_retry",
                 "waiting_for")


async def test_postgres_restart_mid_run_loses_and_doubles_nothing(
        kafka_bootstrap, own_postgres, fleet_of, tmp_path, seed):
    fleet = fleet_of(kafka_bootstrap, databases(tmp_path, ALL, own_postgres["url"]))
    workload = Workload(20, seed=2023)
    rng = random.Random(seed)

    async def restart(_sending):
        await until_progress(fleet, "scoring", "external-facts", rng.uniform(0.2, 0.4),
                             sum(i.service == "scoring" for i in workload.inputs))
        await asyncio.to_thread(script, PG_SH, "restart", "--name", own_postgres["name"])
        return 1
    books, restarts = await run_with_fault(fleet, workload, rate=25.0, fault=restart)
    felt = retried(fleet, DATABASE_AWAY)
    print(f"seed {seed}: PostgreSQL restarted; {books.events} events; retries: {felt}")
    assert felt, "no service noticed the database going away"
    assert_clean(books)
    record("PostgreSQL restart (every service on it)", restarts, books, seed=seed)
