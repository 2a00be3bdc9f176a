"""Rebalance: second instances of submission, scoring and audit join mid-run and are
stopped again. Their consumer groups split the partitions with the first instances;
their projection runners and outbox relays work beside the first ones on the same
databases. Nothing lost, nothing doubled, every stream keeps the order its inputs
were sent in (per topic and key), every read model equals a clean replay."""
from __future__ import annotations

import asyncio
import random
import re

import httpx
import pytest

from scenarios.load import Workload
from tests.faults.conftest import databases, record
from tests.faults.harness import assert_clean, run_with_fault, until_progress

pytestmark = pytest.mark.integration
TWICE = ("submission", "scoring", "audit")
WORK = re.compile(r'hyeopchi_(?:messages_consumed|projection_records)_total\{([^}]*)\} '
                  r'([0-9.e+]+)')


def _worked(url: str) -> dict[str, float]:
    """Messages each consumer applied and records each projection read, from /metrics."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    found = {}
    for labels, n in WORK.findall(text):
        label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if label.get("outcome") in ("applied", "read") and float(n):
            found[label.get("consumer") or label.get("projection")] = float(n)
    return found


async def test_second_instances_join_and_leave_mid_run(
        kafka_bootstrap, postgres_admin_url, fleet_of, tmp_path, seed):
    fleet = fleet_of(kafka_bootstrap, databases(tmp_path, TWICE, postgres_admin_url))
    workload = Workload(20, seed=2024)
    rng = random.Random(seed)
    commands = sum(i.service == "submission" for i in workload.inputs)

    async def rebalance(_sending):
        await until_progress(fleet, "submission", "commands", rng.uniform(0.1, 0.2), commands)
        seconds = [await asyncio.to_thread(fleet.second_instance, s) for s in TWICE]
        loop = asyncio.get_running_loop()
        deadline, worked = loop.time() + 300, {}
        while loop.time() < deadline:  # until each has taken partitions and worked
            await asyncio.sleep(1)
            worked = {s.service: _worked(s.url) for s in seconds}
            if all(worked.values()):
                break
        await asyncio.sleep(rng.uniform(5, 10))
        worked = {s.service: _worked(s.url) or worked[s.service] for s in seconds}
        codes = [await asyncio.to_thread(s.stop, 60) for s in seconds]
        return worked, codes
    books, (worked, codes) = await run_with_fault(fleet, workload, rate=8.0,
                                                  fault=rebalance)
    print(f"seed {seed}: second instances worked {worked}, stopped with {codes}; "
          f"{books.events} events")
    assert all(worked.values()), f"a second instance never worked: {worked}"
    assert codes == [0, 0, 0], "SIGTERM must stop a second instance within its grace"
    assert_clean(books)  # includes per-stream order and every projection's checksum
    record("second instances join and leave (rebalance)", len(TWICE), books, seed=seed,
           second_instances_worked=worked)
