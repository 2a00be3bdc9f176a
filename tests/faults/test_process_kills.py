"""Process faults: kill -9 every service at random moments during the load, restart it.

Scaled down for CI (`hyeopchi soak` is the full size): at least 20 kills across the
five services while the 2021 load scaled to 40 institutions (about 2,000 events)
arrives. Scoring and audit run on PostgreSQL, the others on SQLite (each service has
its own database, as deployed). At the end nothing is lost or doubled, every stream
kept its order, and every read model equals a clean replay of the log.
"""
from __future__ import annotations

import random
from collections import Counter

import pytest

from scenarios.fleet import ALL, kill_at_random
from scenarios.load import Workload
from tests.faults.conftest import databases, record
from tests.faults.harness import assert_clean, run_with_fault

pytestmark = pytest.mark.integration
KILLS = 20


async def test_kill_9_at_random_moments_loses_and_doubles_nothing(
        kafka_bootstrap, postgres_admin_url, fleet_of, tmp_path, seed):
    fleet = fleet_of(kafka_bootstrap, databases(tmp_path, ("scoring", "audit"),
                                                postgres_admin_url))
    workload = Workload(40, seed=2021)
    rng = random.Random(seed)

    async def kills(_sending):
        return await kill_at_random(fleet, rng, KILLS, between=(1.5, 4.5), log=print)
    books, done = await run_with_fault(fleet, workload, rate=12.0, fault=kills)
    hit = Counter(k.service for k in done)
    print(f"seed {seed}: {len(done)} kills {dict(hit)}; {books.events} events; "
          f"{books.republished} republished copies")
    assert len(done) >= KILLS and set(hit) == set(ALL), hit
    assert books.events > 1500
    assert_clean(books)
    record("kill -9 of a service (random service, random moment)", len(done), books,
           seed=seed)
