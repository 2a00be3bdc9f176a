"""`hyeopchi soak`: the 2021 scenario scaled up, under faults, then the books.

Starts its own Kafka broker (and PostgreSQL server), every service as its own
process, and sends the scaled-up load (`scenarios/load.py`: about 100,000 events by
default) while it injects faults: kill -9 of a random service at random moments
(seeded; the seed is printed) with an immediate restart, a restart of the broker, a
restart of PostgreSQL, and second instances of submission, scoring and audit started
and stopped again (consumer-group rebalances, two projection runners and two outbox
relays on one database). Then it waits
until everything sent has settled, stops the services, and holds what was sent
against what was stored, published and followed (`scenarios/books.py`): lost and
doubled effects, refusals, per-stream order, hash chains, and every projection's live
checksum against `hyeopchi audit replay` into a fresh database.

Figures go to stdout and to .run/soak.json. State and logs: .run/soak/.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
PG_SH = REPO / "deploy" / "postgres" / "pg.sh"
RUN = REPO / ".run" / "soak"
OUT = REPO / ".run" / "soak.json"
EVENTS_PER_INSTITUTION = 47  # measured: 95,266 events stored for 2,000 institutions
TWICE = ("submission", "scoring", "audit")  # the services a rebalance runs twice


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=100_000,
                   help="about how many events the services record (default 100000)")
    p.add_argument("--institutions", type=int,
                   help="synthetic institutions (default: from --events)")
    p.add_argument("--kills", type=int, default=20, help="kill -9 count (default 20)")
    p.add_argument("--broker-restarts", type=int, default=1)
    p.add_argument("--postgres-restarts", type=int, default=1)
    p.add_argument("--rebalances", type=int, default=1,
                   help="times second instances of submission, scoring and audit join "
                        "and leave")
    p.add_argument("--database", choices=["postgresql", "sqlite", "mixed"],
                   default="mixed", help="mixed (default): scoring and audit on PostgreSQL, "
                   "the others on SQLite")
    p.add_argument("--rate", type=float, default=15.0,
                   help="input messages a second the outside world sends (default 15, "
                        "about what this machine's services apply)")
    p.add_argument("--seed", type=int, help="fault schedule seed (default: random, printed)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--keep", action="store_true", help="leave broker and PostgreSQL up")


def say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


def main(args) -> int:
    from scenarios.fleet import Fleet, free_port  # noqa: PLC0415 (keeps `hyeopchi` quick)
    from scenarios.processes import script  # noqa: PLC0415
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    institutions = args.institutions or math.ceil(args.events / EVENTS_PER_INSTITUTION)
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    os.environ["HYEOPCHI_RUN_DIR"] = str(RUN)  # kafka.sh and pg.sh keep their state here
    say(f"seed {seed}; {institutions} institutions; {args.kills} kills, "
        f"{args.broker_restarts} broker restarts, {args.postgres_restarts} PostgreSQL "
        f"restarts, {args.rebalances} rebalances; databases: {args.database}")
    broker = {"port": free_port(), "controller": free_port()}
    pg_port = free_port()
    bootstrap = script(KAFKA_SH, "start", "--name", "soak", "--port", broker["port"],
                       "--controller-port", broker["controller"], "--heap", "512m")
    fleet = None
    try:
        databases = _databases(args.database, pg_port)
        fleet = Fleet(bootstrap, "soak", databases, RUN / "logs")
        result = asyncio.run(run(args, seed, institutions, fleet, broker, pg_port))
    finally:
        if fleet:
            fleet.stop()
        if not args.keep:
            subprocess.run([str(KAFKA_SH), "wipe", "--name", "soak"], capture_output=True)
            subprocess.run([str(PG_SH), "wipe", "--name", "soak"], capture_output=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(table(result))
    say(f"figures written to {args.out}")
    return 0 if result["clean"] else 1


def _databases(kind: str, pg_port: int) -> dict[str, str]:
    from scenarios.fleet import ALL, create_database  # noqa: PLC0415
    from scenarios.processes import script  # noqa: PLC0415
    on_pg = {"postgresql": ALL, "sqlite": (), "mixed": ("scoring", "audit")}[kind]
    admin = script(PG_SH, "start", "--name", "soak", "--port", pg_port) if on_pg else None
    return {name: create_database(admin, f"soak_{name}") if name in on_pg
            else f"sqlite:///{RUN / f'{name}.db'}" for name in ALL}


async def run(args, seed: int, institutions: int, fleet, broker: dict,
              pg_port: int) -> dict:
    from scenarios.books import audit_books  # noqa: PLC0415
    from scenarios.fleet import kill_at_random  # noqa: PLC0415
    from scenarios.load import Workload, send  # noqa: PLC0415
    rng = random.Random(seed)
    workload = Workload(institutions, seed=2021)
    inputs = workload.everything()
    began = time.monotonic()
    fleet.start()
    say(f"services up: {', '.join(f'{n} {s.url}' for n, s in fleet.procs.items())}")
    await send(fleet.bootstrap, fleet.prefix, workload.prelude)
    await fleet.settled(workload.prelude, timeout=600, quiet=1)
    if "committee" in fleet.procs:
        await workload.deposit_personal_data(fleet.procs["committee"].url)
    sending = len(workload.inputs) / args.rate
    say(f"sending {len(workload.inputs)} inputs over about {sending / 60:.0f} min, "
        f"faults meanwhile")
    injected = {"kill -9 of a service": 0, "broker restart": 0,
                "PostgreSQL restart": 0, "second instance (rebalance)": 0}
    spacing = sending / max(1, args.kills)
    tasks = [asyncio.create_task(send(fleet.bootstrap, fleet.prefix, workload.inputs,
                                      rate=args.rate)),
             asyncio.create_task(kill_at_random(fleet, rng, args.kills,
                                                (0.5 * spacing, 1.5 * spacing), log=say))]
    on_pg = any(u.startswith("postgresql") for u in fleet.databases.values())
    other = _other_faults(args, fleet, broker, injected, sending, rng, on_pg)
    tasks.append(asyncio.create_task(other))
    watching = asyncio.create_task(_report_progress(fleet, inputs))
    try:
        sent, kills, _ = await asyncio.gather(*tasks)
    finally:
        watching.cancel()
    injected["kill -9 of a service"] = len(kills)
    say(f"all {sent} inputs sent and acknowledged; waiting for the services to settle")
    last = [0.0]

    def progress(state):
        if time.monotonic() - last[0] > 60:
            last[0] = time.monotonic()
            say(f"{state['events']} events stored; behind: {state['behind']}")
    settled = await fleet.settled(inputs, timeout=4 * 3600, progress=progress)
    if not settled["done"]:
        say(f"nothing moved for 10 minutes (behind: {settled['behind']}): reading the "
            "books as they stand")
    took = time.monotonic() - began
    fleet.stop()
    say(f"settled ({settled['events']} events); stopped the services; reading the books "
        f"and replaying the log")
    books = await audit_books(fleet.bootstrap, fleet.prefix, fleet.databases, inputs)
    if not books.clean():
        say("NOT CLEAN:\n" + books.explain())
    return {"seed": seed, "institutions": institutions, "database": args.database,
            "inputs": len(inputs), "minutes": round(took / 60, 1),
            "kills": [k.__dict__ for k in kills], "injected": injected,
            "books": books.summary(), "checksums": books.checksums, "clean": books.clean()}


async def _report_progress(fleet, inputs, every: float = 120.0) -> None:
    """Events stored so far, every two minutes while the load is sent."""
    expected = {}
    for i in inputs:
        expected[(i.service, i.consumer)] = expected.get((i.service, i.consumer), 0) + 1
    while True:
        await asyncio.sleep(every)
        try:
            state = await fleet._state(expected)
            say(f"{state['events']} events stored; behind: {state['behind']}")
        except Exception as error:  # a database restarting: next time
            say(f"progress unknown ({type(error).__name__})")


async def _other_faults(args, fleet, broker: dict, injected: dict, sending: float,
                        rng: random.Random, on_pg: bool) -> None:
    """Broker restarts, PostgreSQL restarts and rebalances at random moments of the
    sending window, one after the other."""
    plan = ["broker"] * args.broker_restarts + ["postgres"] * (args.postgres_restarts
                                                              if on_pg else 0) \
        + ["rebalance"] * args.rebalances
    from scenarios.processes import script  # noqa: PLC0415
    rng.shuffle(plan)
    slot = sending / (len(plan) + 1) if plan else 0
    for n, fault in enumerate(plan, start=1):
        await asyncio.sleep(max(0.0, slot * rng.uniform(0.6, 1.0)))
        if fault == "broker":
            say("restarting the broker")
            await asyncio.to_thread(script, KAFKA_SH, "stop", "--name", "soak")
            await asyncio.sleep(rng.uniform(2, 10))
            await asyncio.to_thread(script, KAFKA_SH, "start", "--name", "soak", "--port",
                                    broker["port"], "--controller-port",
                                    broker["controller"], "--heap", "512m")
            injected["broker restart"] += 1
        elif fault == "postgres":
            say("restarting PostgreSQL")
            await asyncio.to_thread(script, PG_SH, "restart", "--name", "soak")
            injected["PostgreSQL restart"] += 1
        else:
            say(f"starting second instances of {', '.join(TWICE)}")
            extra = [await asyncio.to_thread(fleet.second_instance, s) for s in TWICE]
            await asyncio.sleep(slot * rng.uniform(0.3, 0.6))
            codes = [await asyncio.to_thread(x.stop, 60) for x in extra]
            say(f"stopped the second instances (exit codes {codes})")
            if any(codes):
                raise RuntimeError(f"a second instance did not stop cleanly: {codes}")
            injected["second instance (rebalance)"] += len(extra)


def table(result: dict) -> str:
    b = result["books"]
    lines = ["| fault | injected | events processed | lost | doubled |",
             "| --- | --- | --- | --- | --- |"]
    for fault, n in result["injected"].items():
        if n:
            lines.append(f"| {fault} | {n} | {b['events']:,} | {b['lost']} | {b['doubled']} |")
    lines.append(f"\nseed {result['seed']}, {result['inputs']:,} inputs, {b['events']:,} "
                 f"events stored, {b['published']:,} published (+{b['republished']} "
                 f"republished copies), {b['followed_by_audit']:,} followed by audit; "
                 f"refused {b['refused']}, out of order {b['disorder']}; checksums equal: "
                 f"{b['checksums_equal']}; {result['minutes']} min")
    return "\n".join(lines)
