"""Measurements that run in their own process, so their memory is theirs alone.

  python -m bench.worker replay BOOTSTRAP WORKDIR PREFIX... [--profile FILE]
      the auditors' replay (services/audit/replay.py) of each deployment (topic
      prefix): every projection from offset 0 into a fresh SQLite database in
      WORKDIR, hash chains checked.
  python -m bench.worker raw BOOTSTRAP TOPIC...
      a bare aiokafka loop reading the topics from offset 0 and json-decoding each
      value, nothing else: the Python-side limit of any replay.
Prints one JSON line: seconds, counts, and the process's peak RSS (VmHWM, MB).
"""
from __future__ import annotations

import asyncio
import json
import resource
import sys
import time


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished children (the replay's
    per-projection processes)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                 resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


async def replay(bootstrap: str, workdir: str, prefixes: list[str],
                 workers: int | None = None) -> dict:
    """Replay each deployment (topic prefix) in turn into its own fresh database."""
    from services.audit.replay import replay as audit_replay
    from shared.topics import prefixed
    out = {}
    for prefix in prefixes:
        into = f"sqlite:///{workdir}/replay-{prefix}.db"
        cpu, started = _cpu_with_children(), time.perf_counter()
        with prefixed(prefix):  # the projections name their topics when made
            results = await audit_replay(bootstrap, into, workers=workers)
        seconds, cpu = time.perf_counter() - started, _cpu_with_children() - cpu
        out[prefix] = {
            "seconds": seconds, "cpu_seconds": cpu,
            "applied": {name: r.get("applied", 0) for name, r in results.items()},
            "checksums": {n: r.get("checksum") for n, r in results.items()},
            "rows": {n: sum(r["rows"].values()) for n, r in results.items() if "rows" in r},
            "rows_by_table": {n: r["rows"] for n, r in results.items() if "rows" in r},
            "skipped": {n: r["skipped"] for n, r in results.items() if "skipped" in r}}
    return out


async def raw(bootstrap: str, topics: list[str]) -> dict:
    from aiokafka import AIOKafkaConsumer
    from shared.kafka_io import partitions_of

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        parts = await partitions_of(bootstrap, topics)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        total_wanted = sum(end.values())
        loads, count, nbytes = json.loads, 0, 0
        started, cpu = time.perf_counter(), time.process_time()
        while count < total_wanted:
            for batch in (await consumer.getmany(timeout_ms=500,
                                                 max_records=10000)).values():
                for record in batch:
                    loads(record.value)
                    nbytes += len(record.value)
                count += sum(len(b) for b in [batch])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await consumer.stop()
    return {"seconds": seconds, "cpu_seconds": cpu, "events": count, "bytes": nbytes}


def main(argv: list[str]) -> None:
    what, bootstrap, *rest = argv
    profile = None
    if "--profile" in rest:
        i = rest.index("--profile")
        profile, rest = rest[i + 1], rest[:i] + rest[i + 2:]
    # Profiled: one process, so the profile sees every projection's work.
    job = (replay(bootstrap, rest[0], rest[1:], workers=1 if profile else None)
           if what == "replay" else raw(bootstrap, rest))
    if profile:
        from pyinstrument import Profiler
        profiler = Profiler(async_mode="enabled", interval=0.005)
        profiler.start()
        result = asyncio.run(job)
        profiler.stop()
        with open(profile, "w") as out:
            out.write(profiler.output_text(unicode=True, color=False, show_all=False))
    else:
        result = asyncio.run(job)
    # The peak of this process or of its largest child (a per-projection rebuild).
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["rss_mb"] = max(vm_hwm_mb(), children_peak)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["process_cpu_seconds"] = usage.ru_utime + usage.ru_stime  # setup included
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
