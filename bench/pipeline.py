"""Pipeline throughput, end-to-end latency and services' memory, on real processes.

The path: the HR system's `hr.HeadcountReported` JSON on `<prefix>.ingress.hr` →
the scoring service (its own process, SQLite) records `scoring.HeadcountRecorded`
with the fact's id as correlation id → its outbox relay publishes it on
`<prefix>.scoring.events` → the audit service (its own process, SQLite) applies it
to its timeline projection. Two services and a projection.

Visibility is read from the audit service's database (a read-only SQLite connection
polling `audit_timeline` by rowid every `poll_s`), so the measurement adds no work to
the services. Time stamps on both sides are `time.time()` of this one process.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

import services as registry
from scenarios.processes import ServiceProcess

from .worker import vm_hwm_mb


def hr_fact(event_id: str, institution: str, headcount: int) -> bytes:
    return json.dumps({"event_id": event_id, "event_type": "hr.HeadcountReported",
                       "schema_version": 1, "occurred_at": "2021-03-31T09:00:00+09:00",
                       "source": "seoul-hr",
                       "payload": {"institution_id": institution, "headcount": headcount,
                                   "as_of": "2021-03-31"}}).encode()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class TimelineWatcher(threading.Thread):
    """Polls the audit timeline for new rows; records when each correlation id
    (= the external fact's id) first shows, by this process's clock."""

    def __init__(self, db_path: Path, poll_s: float = 0.002):
        super().__init__(daemon=True)
        self.db_path, self.poll_s = db_path, poll_s
        self.seen: dict[str, float] = {}
        self.recorded: dict[str, float] = {}  # when scoring recorded it (its clock, this host)
        self.halt = threading.Event()
        self.last_rowid = 0

    def run(self) -> None:
        conn = None
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                                           timeout=5)
                rows = conn.execute("SELECT rowid, correlation_id, recorded_at "
                                    "FROM audit_timeline "
                                    "WHERE rowid > ? ORDER BY rowid",
                                    (self.last_rowid,)).fetchall()
            except sqlite3.Error:
                rows = []  # not migrated yet, or locked for a moment
            now = time.time()
            for rowid, corr, recorded_at in rows:
                self.seen.setdefault(corr, now)
                self.recorded.setdefault(corr, _epoch(recorded_at))
                self.last_rowid = rowid
            time.sleep(self.poll_s)
        if conn:
            conn.close()

    def count(self, prefix: str) -> int:
        return sum(1 for k in list(self.seen) if k.startswith(prefix))


class Stack:
    """scoring + audit (and, for their memory, the other three services) as processes."""

    SERVICES = registry.NAMES

    def __init__(self, bootstrap: str, workdir: Path, ports, services=SERVICES):
        self.prefix = f"bench{uuid.uuid4().hex[:6]}"
        self.workdir, self.procs = workdir, {}
        for name in services:
            self.procs[name] = ServiceProcess(
                name, database_url=f"sqlite:///{workdir / (name + '.db')}",
                bootstrap=bootstrap, port=ports(), topic_prefix=self.prefix,
                log_path=workdir / f"{name}.log", extra_env={"LOG_LEVEL": "WARNING"})

    def start(self) -> None:
        for p in self.procs.values():  # launch all, then wait: they start in parallel
            p.launch()
        deadline = time.monotonic() + 180
        import httpx
        pending = set(self.procs)
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {proc.log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{proc.url}/health/ready", timeout=5).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready: {pending}")
            time.sleep(0.3)

    def settle(self, timeout: float = 120) -> float:
        """Wait until no service has a record left to apply (every consumer's and
        projection's lag 0 in /health/ready, twice in a row): after a burst, the
        projections off the measured path are still working through it. Returns the
        seconds it took."""
        import httpx
        started, quiet = time.monotonic(), 0
        while quiet < 2 and time.monotonic() - started < timeout:
            lags = []
            for p in self.procs.values():
                try:
                    lags += httpx.get(f"{p.url}/health/ready", timeout=5).json()["lag"].values()
                except (httpx.HTTPError, ValueError, KeyError):
                    lags.append(None)
            quiet = quiet + 1 if lags and all(n == 0 for n in lags) else 0
            time.sleep(0.5)
        return time.monotonic() - started

    def rss_mb(self) -> dict[str, float]:
        return {name: round(vm_hwm_mb(p.proc.pid), 1) for name, p in self.procs.items()
                if p.proc and p.proc.poll() is None}

    def stop(self) -> None:
        for p in self.procs.values():
            p.stop()


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                client_id="bench-hr-system")
    await producer.start()
    return producer


async def saturation(stack: Stack, bootstrap: str, watcher: TimelineWatcher,
                     count: int, timeout: float) -> dict:
    """A burst of `count` HR facts; the rate at which the timeline shows them."""
    topic, tag = f"{stack.prefix}.ingress.hr", f"sat-{uuid.uuid4().hex[:6]}-"
    producer = await _producer(bootstrap)
    scoring_db = stack.workdir / "scoring.db"
    samples = []
    try:
        started = time.time()
        futures = [await producer.send(topic, hr_fact(f"{tag}{k}", f"inst-{k % 1000:04d}",
                                                      30 + k % 250),
                                       key=f"inst-{k % 1000:04d}".encode())
                   for k in range(count)]
        await asyncio.gather(*futures)
        produced = time.time() - started
        # Until all show, or the time is up: then the rate is what showed so far.
        deadline = time.monotonic() + timeout
        while (seen := watcher.count(tag)) < count and time.monotonic() < deadline:
            samples.append((time.time() - started, seen, _count(scoring_db)))
            await asyncio.sleep(0.25)
        shown = [watcher.seen[f"{tag}{k}"] for k in range(count) if f"{tag}{k}" in watcher.seen]
        last = max(shown) if len(shown) == count else time.time()
    finally:
        await producer.stop()
    seconds = last - started
    recorded = [s for s in samples if s[2]]
    return {"events": len(shown), "sent": count, "complete": len(shown) == count,
            "seconds": seconds, "events_per_s": len(shown) / seconds,
            "produce_seconds": produced,
            "scoring_events_per_s": _rate(recorded, 2), "samples": samples[::4]}


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
            return c.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


def _rate(samples, index) -> float | None:
    if len(samples) < 2:
        return None
    (t0, *_a), (t1, *_b) = samples[0], samples[-1]
    return (samples[-1][index] - samples[0][index]) / (t1 - t0) if t1 > t0 else None


async def latency(stack: Stack, bootstrap: str, watcher: TimelineWatcher,
                  rate: float, seconds: float, drain_timeout: float = 120) -> dict:
    """HR facts at a fixed rate; each one's time from produce to the timeline."""
    topic, tag = f"{stack.prefix}.ingress.hr", f"lat-{uuid.uuid4().hex[:6]}-"
    producer = await _producer(bootstrap)
    sent: dict[str, float] = {}
    try:
        n, start = int(rate * seconds), time.time()
        for k in range(n):
            due = start + k / rate
            if (wait := due - time.time()) > 0:
                await asyncio.sleep(wait)
            event_id = f"{tag}{k}"
            sent[event_id] = time.time()
            await producer.send(topic, hr_fact(event_id, f"inst-{k % 1000:04d}", 50 + k % 200),
                                key=f"inst-{k % 1000:04d}".encode())
        await producer.flush()
        actual = n / (time.time() - start)
        # Wait for the queue to drain (at a rate the pipeline cannot keep, it grows);
        # what is still unseen at the end counts as seen then (a lower bound).
        deadline = time.monotonic() + drain_timeout
        while watcher.count(tag) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
    end = time.time()
    unseen = sum(1 for i in sent if i not in watcher.seen)
    lat = sorted((watcher.seen.get(i, end) - t) * 1000 for i, t in sent.items())

    # The two legs: produce → scoring recorded it (consume + the policy, before its
    # commit), and recorded → the timeline shows it (commit, relay, audit's consumer).
    legs = [((watcher.recorded[i] - t) * 1000, (watcher.seen[i] - watcher.recorded[i]) * 1000)
            for i, t in sent.items() if i in watcher.recorded]

    def pct(p: float, values=lat) -> float:
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
    split = {}
    for k, name in enumerate(("to_recorded", "recorded_to_timeline")):
        values = sorted(leg[k] for leg in legs)
        if values:
            split[name] = {"p50": pct(50, values), "p99": pct(99, values)}
    return {"legs_ms": split, "events": len(lat), "rate_per_s": rate, "achieved_rate_per_s": actual,
            "seconds": seconds, "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "max": lat[-1], "mean": statistics.fmean(lat), "unseen_at_end": unseen,
            "lower_bound": unseen > 0, "poll_interval_ms": watcher.poll_s * 1000}
