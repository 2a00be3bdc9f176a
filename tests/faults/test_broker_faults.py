"""Broker faults: the single-node broker restarted mid-run; one node of a three-node
cluster (replication factor 3, min.insync.replicas=2, acks=all) killed mid-run and
brought back. No acknowledged event is lost, none doubled."""
from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from scenarios.load import Workload
from scenarios.processes import KAFKA_SH, script
from shared.kafka_io import read_topic
from shared.topics import Topic, ensure_topics
from tests.conftest import free_port
from tests.faults.conftest import databases, record
from tests.faults.harness import assert_clean, retried, run_with_fault, until_progress

pytestmark = pytest.mark.integration
BROKER_AWAY = ("Connect call failed", "KafkaConnectionError", "relay_retry",
               "projection_retry")  # what a service logs while its broker is away


async def test_broker_restart_mid_run_loses_and_doubles_nothing(own_broker, fleet_of,
                                                                 tmp_path, seed):
    """Every service keeps running while its only broker stops (SIGTERM, as an
    operator restarts it) and starts again on the same data a few seconds later."""
    fleet = fleet_of(own_broker["bootstrap"], databases(tmp_path))
    workload = Workload(20, seed=2022)
    rng = random.Random(seed)

    async def restart(_sending):
        await until_progress(fleet, "scoring", "external-facts", 0.25,
                             sum(i.service == "scoring" for i in workload.inputs))
        await asyncio.to_thread(script, KAFKA_SH, "stop", "--name", own_broker["name"])
        await asyncio.sleep(rng.uniform(3, 8))
        await asyncio.to_thread(script, KAFKA_SH, "start", *own_broker["args"])
        return 1
    books, restarts = await run_with_fault(fleet, workload, rate=25.0, fault=restart)
    felt = retried(fleet, BROKER_AWAY)
    print(f"seed {seed}: broker restarted; {books.events} events; retries logged: {felt}")
    assert felt, "no service noticed the broker going away: the fault came too late"
    assert_clean(books)
    record("broker restart (single node)", restarts, books, seed=seed)


@pytest.fixture(scope="module")
def cluster():
    """Three brokers on loopback (kafka.sh: default.replication.factor=3,
    min.insync.replicas=2, offsets topic replicated 3 times); wiped after."""
    name = f"faults-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    base = _free_block()
    env = {**os.environ, "KAFKA_EXTRA_CONFIG": "unclean.leader.election.enable=false"}
    done = subprocess.run([str(KAFKA_SH), "cluster-start", "--name", name, "--base-port",
                           str(base), "--heap", "384m"], capture_output=True, text=True,
                          env=env)
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        yield {"bootstrap": done.stdout.strip().splitlines()[-1], "name": name}
    finally:
        subprocess.run([str(KAFKA_SH), "cluster-wipe", "--name", name], capture_output=True)


def _free_block() -> int:
    """A base port with base..base+2 and base+100..base+102 free (kafka.sh's layout)."""
    import socket  # noqa: PLC0415
    for _ in range(50):
        base = random.randrange(20000, 60000)
        try:
            for port in (*range(base, base + 3), *range(base + 100, base + 103)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


async def test_cluster_node_killed_and_back_loses_no_acknowledged_event(cluster, seed):
    """A producer with acks=all and idempotence writes numbered records while one of
    the three nodes is killed (SIGKILL) and started again; every record the cluster
    acknowledged is read back exactly once."""
    bootstrap, rng = cluster["bootstrap"], random.Random(seed)
    topic = f"faults.cluster-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(ensure_topics, bootstrap, [Topic(topic, "cluster test", 6)],
                            3, 2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5,
                                request_timeout_ms=30000, retry_backoff_ms=200)
    await producer.start()
    acknowledged, failed, total = set(), [], 6000
    victim = rng.randint(1, 3)

    async def produce():
        pending = []
        for n in range(total):
            pending.append((n, await producer.send(topic, json.dumps({"n": n}).encode(),
                                                   key=str(n % 50).encode())))
            if len(pending) >= 100:
                await _settle(pending, acknowledged, failed)
                await asyncio.sleep(0.05)
        await _settle(pending, acknowledged, failed)

    async def node_fault():
        while len(acknowledged) < total // 4:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(script, KAFKA_SH, "node-kill", cluster["name"], victim)
        at_kill = len(acknowledged)
        await asyncio.sleep(rng.uniform(3, 8))
        await asyncio.to_thread(script, KAFKA_SH, "node-start", cluster["name"], victim)
        return at_kill
    try:
        _, at_kill = await asyncio.gather(produce(), node_fault())
    finally:
        await producer.stop()
    records = await read_topic(bootstrap, topic, timeout=120)
    seen = [json.loads(r.value)["n"] for r in records]
    lost = acknowledged - set(seen)
    doubled = len(seen) - len(set(seen))
    print(f"seed {seed}: node {victim} killed after {at_kill} acks; "
          f"{len(acknowledged)} acknowledged, {len(failed)} failed, {len(seen)} read back")
    assert at_kill < total, "the node was killed after the run"
    assert not lost, f"{len(lost)} acknowledged records lost: {sorted(lost)[:20]}"
    assert doubled == 0, f"{doubled} records doubled"
    assert len(acknowledged) + len(failed) == total
    FIGURE.update(fault=f"3-node cluster: one node killed and restarted (RF 3, "
                        f"min.insync.replicas 2, acks=all)", injected=1,
                  events=len(acknowledged), lost=len(lost), doubled=doubled)
    from tests.faults.conftest import FIGURES  # noqa: PLC0415
    FIGURES.append(dict(FIGURE, inputs=total, failed=len(failed), seed=seed))


FIGURE: dict = {}


async def _settle(pending, acknowledged, failed):
    for n, future in pending:
        try:
            await future
            acknowledged.add(n)
        except Exception as error:  # not acknowledged: allowed to be missing, not doubled
            failed.append((n, type(error).__name__))
    pending.clear()


async def test_service_through_a_cluster_node_kill_loses_and_doubles_nothing(
        cluster, fleet_of, tmp_path, seed):
    """Submission (and the audit service following it) on the three-node cluster: its
    topics take the cluster's replication (3, min.insync.replicas 2), and one node is
    killed while commands arrive and events are published, then started again."""
    rng = random.Random(seed)
    workload = Workload(30, seed=2025)
    workload.prelude = [i for i in workload.prelude if i.service == "submission"]
    workload.inputs = [i for i in workload.inputs if i.service == "submission"]
    dbs = databases(tmp_path)
    fleet = fleet_of(cluster["bootstrap"], {s: dbs[s] for s in ("submission", "audit")})
    victim = rng.randint(1, 3)

    async def node_fault(_sending):
        await until_progress(fleet, "submission", "commands", rng.uniform(0.2, 0.4),
                             len(workload.inputs))
        await asyncio.to_thread(script, KAFKA_SH, "node-kill", cluster["name"], victim)
        await asyncio.sleep(rng.uniform(3, 8))
        await asyncio.to_thread(script, KAFKA_SH, "node-start", cluster["name"], victim)
        return 1
    books, kills = await run_with_fault(fleet, workload, rate=10.0, fault=node_fault)
    print(f"seed {seed}: node {victim} killed and restarted under submission; "
          f"{books.events} events")
    assert_clean(books)
    record("3-node cluster: one node killed and restarted under a service", kills, books,
           seed=seed)
