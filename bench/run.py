"""`hyeopchi bench [--events 1000000] [--quick]`: every figure of issue 9, one run.

Starts its own Kafka broker and PostgreSQL server (or uses --bootstrap /
--postgres-url), generates its own events, and writes bench/results/latest.json,
latest.md (table) and latest.png (chart). One function per figure below; the heavy
measurements run in their own processes (bench/worker.py, the services) so their
peak memory is theirs.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
PG_SH = REPO / "deploy" / "postgres" / "pg.sh"

LATENCY_TARGET_RATE = 200.0  # events/s: the rate the p99 target is stated at
BELOW_CAPACITY = 0.5  # the latency run's rate, as a share of the pipeline's capacity
TARGETS = {  # for the benchmark, not for the timed tests
    "replay.events_per_s": ">= 50,000",
    "replay.vs_raw_consume": ">= 0.5",
    "replay.growth_ratio": "<= 11",
    "pipeline.events_per_s": ">= 5,000",
    "latency_ms.p99": "<= 50 at 200 events/s (measured at min(200, 0.5 x capacity))",
    "store.*.vs_eventsourcing": ">= 1.2 (single and batched, equal durability)",
    "store.*.vs_raw_driver": ">= 0.7 (single and batched)",
    "rss_mb.*": "<= 200",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(*args) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def _worker(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.worker", *args], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.worker {args[0]} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the figures

def generate(bootstrap: str, prefix: str, events: int) -> dict:
    from .generate import produce_events
    log(f"generating {events:,} sealed events under {prefix}")
    made = asyncio.run(produce_events(bootstrap, prefix, events))
    log(f"  {made['events']:,} events in {made['seconds']:.1f} s")
    return made


def replay(bootstrap: str, prefixes: list[str], workdir: Path,
           profile: Path | None = None) -> dict:
    """The auditors' replay of each deployment, one process: every projection from
    offset 0 into a fresh database, hash chains checked. Every projection must have
    applied events and written rows: one that replayed an empty or missing topic
    would make the figure flatter than the services' real work."""
    args = ["replay", bootstrap, str(workdir), *prefixes]
    result = _worker(args + (["--profile", str(profile)] if profile else []))
    for prefix in prefixes:
        r = result[prefix]
        log(f"  replay of {prefix}: {r['seconds']:.1f} s ({r['cpu_seconds']:.1f} CPU s); "
            + ", ".join(f"{name} {applied:,} applied, {r['rows'].get(name, 0):,} rows"
                        for name, applied in r["applied"].items()))
        idle = sorted(name for name, applied in r["applied"].items()
                      if not applied or not r["rows"].get(name))
        if idle:
            raise RuntimeError(f"replay of {prefix}: {', '.join(idle)} applied no events "
                               f"or wrote no rows ({r.get('skipped') or 'empty topics'})")
    log(f"  replay process peak RSS {result['rss_mb']:.0f} MB")
    return result


def raw_consume(bootstrap: str, topics: list[str]) -> dict:
    """A bare Python loop: read and json-decode the same topics, nothing else."""
    return _worker(["raw", bootstrap, *topics])


def consumer_perf(bootstrap: str, topics: dict[str, int], together: bool = False) -> dict:
    """Kafka's own ConsumerPerformance tool on the same topics (the broker's limit):
    fetch time only (without the group join), summed over the topics (one tool run
    per topic; `together`: the runs at once, for a quick smoke run)."""
    total_msgs, total_ms, runs = 0, 0.0, []
    started = [subprocess.Popen(
        [str(KAFKA_SH), "tool", "org.apache.kafka.tools.ConsumerPerformance",
         "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(count),
         "--group", f"bench-perf-{uuid.uuid4().hex[:6]}", "--timeout", "60000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for topic, count in topics.items()] if together else []
    for i, (topic, count) in enumerate(topics.items()):
        proc = started[i] if together else subprocess.Popen(
            [str(KAFKA_SH), "tool", "org.apache.kafka.tools.ConsumerPerformance",
             "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(count),
             "--group", f"bench-perf-{uuid.uuid4().hex[:6]}", "--timeout", "60000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = proc.communicate()
        out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        lines = [l for l in out.stdout.splitlines() if l.strip()]
        if out.returncode != 0 or len(lines) < 2:
            raise RuntimeError(f"ConsumerPerformance failed: {out.stderr[-2000:]}")
        header = [h.strip() for h in lines[0].split(",")]
        values = dict(zip(header, [v.strip() for v in lines[-1].split(",")]))
        msgs = int(values["data.consumed.in.nMsg"])
        fetch_ms = float(values["fetch.time.ms"])
        runs.append({"topic": topic, "messages": msgs, "fetch_ms": fetch_ms,
                     "nMsg.sec": float(values["nMsg.sec"]),
                     "fetch.nMsg.sec": float(values["fetch.nMsg.sec"])})
        total_msgs += msgs
        total_ms += fetch_ms
    return {"events": total_msgs, "seconds": total_ms / 1000,
            "events_per_s": total_msgs / (total_ms / 1000), "runs": runs}


def pipeline_and_latency(bootstrap: str, workdir: Path, burst: int, rate: float,
                         seconds: float, services: tuple[str, ...]) -> dict:
    """Saturation burst (the pipeline's capacity), then a fixed-rate run below that
    capacity, on one stack; peak RSS of each service.

    The fixed rate is min(`rate`, BELOW_CAPACITY x capacity): above capacity a queue
    builds and the percentiles measure its age, not the path. The rate used, the
    capacity and whether the rate is the target's 200/s are recorded with the
    percentiles; the p99 target holds only at 200/s (judge)."""
    from .pipeline import Stack, TimelineWatcher, latency, saturation
    stack = Stack(bootstrap, workdir, free_port, services)
    log(f"starting services {', '.join(stack.procs)} (prefix {stack.prefix})")
    stack.start()
    watcher = TimelineWatcher(workdir / "audit.db")
    watcher.start()
    try:
        log(f"pipeline: a burst of {burst:,} HR facts")
        sat = asyncio.run(saturation(stack, bootstrap, watcher, burst,
                                     timeout=max(300, burst / 10)))
        capacity = sat["events_per_s"]
        if not sat["events"] or capacity <= 0:
            raise RuntimeError("pipeline: no HR fact reached the audit timeline")
        used = min(rate, BELOW_CAPACITY * capacity)
        log(f"  capacity {capacity:.1f} events/s; latency at {used:.1f}/s "
            f"(min({rate:.0f}, {BELOW_CAPACITY} x capacity)) for {seconds:.0f} s")
        # The burst's tail is still being applied off the measured path (the other
        # projections): the fixed-rate run starts once every service has caught up.
        settled = stack.settle()
        log(f"  every service caught up {settled:.1f} s after the burst")
        backlog = max(0.0, used - capacity) * seconds  # what will queue up
        lat = asyncio.run(latency(stack, bootstrap, watcher, used, seconds,
                                  drain_timeout=min(480, 60 + 1.5 * backlog
                                                    / max(capacity, 1))))
        lat |= {"requested_rate_per_s": rate, "capacity_events_per_s": capacity,
                "settled_after_burst_s": settled,
                "rate_vs_capacity": used / capacity,
                "rate_rule": f"min({rate:g}/s, {BELOW_CAPACITY:g} x pipeline capacity)",
                "target_rate_per_s": LATENCY_TARGET_RATE,
                "at_target_rate": used >= LATENCY_TARGET_RATE}
        log(f"  p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms at {used:.1f}/s"
            + ("" if lat["at_target_rate"] else
               f" (below the target's {LATENCY_TARGET_RATE:.0f}/s: the target is not met)"))
        rss = stack.rss_mb()
    finally:
        watcher.halt.set()
        stack.stop()
    return {"pipeline": sat, "latency": lat, "rss": rss}


def store_appends(workdir: Path, pg_admin: str, single: int, batches: int) -> dict:
    from .store import run_postgres, run_sqlite
    log(f"store appends: {single} single-event commits, {batches} x 100-event batches")
    return {"sqlite": run_sqlite(workdir, single, batches),
            "postgres": run_postgres(pg_admin, single, batches)}


# ------------------------------------------------------------------ the run

def run(args) -> dict:
    started = time.time()
    load_before = os.getloadavg()
    quick = args.quick
    events = args.events or (2000 if quick else 1_000_000)
    small = max(200, events // 10)
    sizes = dict(burst=args.burst or (100 if quick else 3_000),
                 latency_rate=args.latency_rate or (20.0 if quick else LATENCY_TARGET_RATE),
                 latency_s=args.latency_seconds or (3 if quick else 60),
                 single=30 if quick else 2000, batches=3 if quick else 100,
                 services=("scoring", "audit") if quick else
                 ("scoring", "audit", "submission", "committee", "grants"))
    cleanup, workdir = [], Path(tempfile.mkdtemp(prefix="hyeopchi-bench-"))
    name = f"bench-{os.getpid()}"
    try:
        bootstrap = args.bootstrap
        if not bootstrap:
            log("starting a Kafka broker (deploy/kafka/kafka.sh)")
            bootstrap = _script(KAFKA_SH, "start", "--name", name, "--port", free_port(),
                                "--controller-port", free_port(), "--heap", "1g")
            cleanup.append([str(KAFKA_SH), "wipe", "--name", name])
        pg_admin = args.postgres_url
        if not pg_admin:
            log("starting PostgreSQL (deploy/postgres/pg.sh)")
            pg_admin = _script(PG_SH, "start", "--name", name, "--port", free_port())
            cleanup.append([str(PG_SH), "wipe", "--name", name])
        run_id = uuid.uuid4().hex[:6]
        big, little = f"bench{run_id}l", f"bench{run_id}s"
        made_small = generate(bootstrap, little, small)
        made = generate(bootstrap, big, events)
        topics = made["by_topic"]

        log(f"replay of {made_small['events']:,} then {made['events']:,} events")
        replays = replay(bootstrap, [little, big], workdir)
        replay_small, replay_big = replays[little], {**replays[big],
                                                      "rss_mb": replays["rss_mb"]}
        log("bare Python consume of the same topics")
        raw = raw_consume(bootstrap, list(topics))
        log("Kafka ConsumerPerformance on the same topics")
        perf = consumer_perf(bootstrap, topics, together=quick)
        _checkpoint(Path(args.out), {"replay_big": replay_big, "replay_small": replay_small, "raw": raw,
                     "perf": perf, "made": made, "made_small": made_small})
        profile = None
        if args.profile:
            profile = RESULTS / "profile-replay.txt"
            log(f"profiling a replay of the small set into {profile}")
            (workdir / "profiled").mkdir()
            replay(bootstrap, [little], workdir / "profiled", profile)

        flow = pipeline_and_latency(bootstrap, workdir, sizes["burst"],
                                    sizes["latency_rate"], sizes["latency_s"],
                                    sizes["services"])
        stores = store_appends(workdir, pg_admin, sizes["single"], sizes["batches"])
    finally:
        for command in cleanup:
            subprocess.run(command, capture_output=True)
    return assemble(args, made, made_small, replay_big, replay_small, raw, perf, flow,
                    stores, sizes, started, load_before, profile)


def assemble(args, made, made_small, replay_big, replay_small, raw, perf, flow, stores,
             sizes, started, load_before, profile) -> dict:
    n = made["events"]
    replay_rate = n / replay_big["seconds"]
    raw_rate = raw["events"] / raw["seconds"]
    small_s, big_s = replay_small["seconds"], replay_big["seconds"]
    out = {
        "meta": {
            "command": "hyeopchi bench" + (" --quick" if args.quick else "")
                       + (f" --events {args.events}" if args.events else ""),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(),
                        "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                                           * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "kafka": "4.1.1 (deploy/kafka, one KRaft node, 1 GiB heap)",
            "eventsourcing": _version("eventsourcing"),
            "quick": bool(args.quick), "sizes": sizes,
            "event_mix": _event_mix(made),
            "profile": str(profile.relative_to(REPO)) if profile else None,
        },
        "replay": {
            "events": n, "seconds": big_s, "events_per_s": replay_rate,
            "raw_consume_events_per_s": raw_rate,
            "kafka_consumer_perf_events_per_s": perf["events_per_s"],
            "vs_raw_consume": replay_rate / raw_rate,
            "vs_kafka_consumer_perf": replay_rate / perf["events_per_s"],
            "growth_ratio": big_s / small_s,
            "growth": {"small_events": made_small["events"], "small_seconds": small_s,
                       "small_cpu_seconds": replay_small["cpu_seconds"],
                       "large_events": n, "large_seconds": big_s,
                       "size_ratio": n / made_small["events"]},
            "cpu_seconds": replay_big["cpu_seconds"],
            "events_per_cpu_s": n / replay_big["cpu_seconds"],
            "raw_consume_events_per_cpu_s": raw["events"] / raw["cpu_seconds"],
            "growth_ratio_cpu": replay_big["cpu_seconds"] / replay_small["cpu_seconds"],
            "projections_applied": replay_big["applied"],
            "read_model_rows": replay_big["rows"],
            "read_model_rows_by_table": replay_big.get("rows_by_table", {}),
            "generate_events_per_s": n / made["seconds"],
            "raw_consume": raw, "kafka_consumer_perf": perf,
        },
        "pipeline": {k: v for k, v in flow["pipeline"].items() if k != "samples"}
        | {"path": "ingress.hr → scoring (HeadcountRecorded, outbox relay) → "
                   "scoring.events → audit timeline projection",
           "samples_s_shown_recorded": flow["pipeline"]["samples"]},
        "latency_ms": flow["latency"],
        "store": {},
        "rss_mb": {**flow["rss"], "replay": round(replay_big["rss_mb"], 1)},
    }
    for backend, result in stores.items():
        mine, peer, raw = result["ours"], result["eventsourcing"], result["raw_driver"]
        out["store"][backend] = {
            "raw_driver_events_per_s": raw["single_events_per_s"],
            "raw_driver_batched_events_per_s": raw["batched_events_per_s"],
            "vs_raw_driver": mine["single_events_per_s"] / raw["single_events_per_s"],
            "batched_vs_raw_driver": mine["batched_events_per_s"]
                                     / raw["batched_events_per_s"],
            "events_per_s": mine["single_events_per_s"],
            "batched_events_per_s": mine["batched_events_per_s"],
            "eventsourcing_events_per_s": peer["single_events_per_s"],
            "eventsourcing_batched_events_per_s": peer["batched_events_per_s"],
            "vs_eventsourcing": mine["single_events_per_s"] / peer["single_events_per_s"],
            "batched_vs_eventsourcing": mine["batched_events_per_s"]
                                        / peer["batched_events_per_s"],
            "detail": result,
        }
    out["targets"] = judge(out)
    return out


def judge(r: dict) -> dict:
    rss_services = {k: v for k, v in r["rss_mb"].items()}
    checks = {
        "replay.events_per_s >= 50000": r["replay"]["events_per_s"] >= 50_000,
        "replay >= 0.5 x raw consume": r["replay"]["vs_raw_consume"] >= 0.5,
        "replay.growth_ratio <= 11": r["replay"]["growth_ratio"] <= 11,
        "pipeline.events_per_s >= 5000": r["pipeline"]["events_per_s"] >= 5000,
        # Only at the target's rate: a p99 measured below 200/s does not meet it.
        "latency_ms.p99 <= 50 at 200/s": r["latency_ms"]["p99"] <= 50
                                          and r["latency_ms"]["rate_per_s"]
                                          >= LATENCY_TARGET_RATE,
    }
    for backend, s in r["store"].items():
        for mode, prefix in (("single", ""), ("batched", "batched_")):
            checks[f"store.{backend} >= 1.2 x eventsourcing ({mode})"] = \
                s[f"{prefix}vs_eventsourcing"] >= 1.2
            checks[f"store.{backend} >= 0.7 x raw driver ({mode})"] = \
                s[f"{prefix}vs_raw_driver"] >= 0.7
    checks["every service <= 200 MB resident"] = all(v <= 200 for v in rss_services.values())
    return checks


def _event_mix(made: dict) -> dict:
    """What the replayed events are (bench/generate.py's docstring), as generated."""
    from .generate import EVENTS_PER_UNIT, ROUND_UNITS
    units, total = made["units"], made["events"]
    return {"unit": "one institution's 2021 (bench/generate.py)",
            "round_units": ROUND_UNITS, "units": units, "rounds": made["rounds"],
            "events_per_unit": EVENTS_PER_UNIT,
            "events_per_unit_made": {s: round(c / units, 2)
                                     for s, c in made["by_service"].items()},
            "share": {s: round(c / total, 3) for s, c in made["by_service"].items()}}


def _checkpoint(folder: Path, stage: dict) -> None:
    """What is measured so far, in case a later stage fails (<out>/partial.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "partial.json").write_text(json.dumps(stage, indent=1, default=str))


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyeopchi bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, help="events to replay (default 1,000,000; "
                                              "--quick: 2,000)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--bootstrap", help="use this Kafka broker instead of starting one")
    p.add_argument("--postgres-url", help="use this PostgreSQL (admin URL) instead of "
                                          "starting one")
    p.add_argument("--burst", type=int, help="HR facts in the saturation burst")
    p.add_argument("--latency-seconds", type=float, help="length of the fixed-rate run "
                                                         "(default 60; --quick: 3)")
    p.add_argument("--latency-rate", type=float,
                   help="events/s asked of the fixed-rate run (default 200; --quick: 20); "
                        "it runs at min(this, 0.5 x the pipeline's measured capacity)")
    p.add_argument("--profile", action="store_true",
                   help="also profile a replay (pyinstrument) into bench/results/")
    p.add_argument("--out", default=str(RESULTS), help="results folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .report import write
    result = run(args)
    paths = write(result, Path(args.out))
    log("wrote " + ", ".join(str(p) for p in paths))
    held = sum(result["targets"].values())
    log(f"targets held: {held} of {len(result['targets'])}")
    return 0
