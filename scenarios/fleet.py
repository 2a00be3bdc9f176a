"""A deployment of every service as its own process, and the faults done to it.

Used by the fault tests (tests/faults/) and `hyeopchi soak`: start the services on
their databases, send the scaled-up load, kill -9 them at random moments (seeded),
restart them, add and remove a second instance, and wait until everything sent has
settled before the books are read (`scenarios/books.py`).
"""
from __future__ import annotations

import asyncio
import random
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import DBAPIError, OperationalError

import services
from scenarios.load import Input
from scenarios.processes import ServiceProcess
from shared.db import Database
from shared.tables import events, inbox, outbox

ALL = services.NAMES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Fleet:
    bootstrap: str
    prefix: str
    databases: dict[str, str]                 # service -> DATABASE_URL
    logs: Path
    env: dict = field(default_factory=dict)
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[ServiceProcess] = field(default_factory=list)  # second instances
    started_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        # READY_MAX_LAG=0: ready means every consumer and projection is caught up.
        self.env = {"READY_MAX_LAG": "0", "LOG_LEVEL": "WARNING", **self.env}
        for name, url in self.databases.items():
            self.procs[name] = self._process(name, url, self.logs / f"{name}.log")

    def _process(self, name: str, url: str, log: Path) -> ServiceProcess:
        return ServiceProcess(name, database_url=url, bootstrap=self.bootstrap,
                              port=free_port(), topic_prefix=self.prefix, log_path=log,
                              extra_env=self.env)

    def start(self, timeout: float = 180.0) -> "Fleet":
        for svc in self.procs.values():
            svc.launch()
        for name, svc in self.procs.items():
            _wait_live(svc, timeout)
            self.started_at[name] = time.monotonic()
        return self

    def kill9(self, name: str) -> None:
        """SIGKILL: no handler runs, nothing is flushed (like a lost node)."""
        svc = self.procs[name]
        svc.proc.kill()
        svc.proc.wait()

    def relaunch(self, name: str) -> None:
        self.procs[name].launch()
        self.started_at[name] = time.monotonic()

    def second_instance(self, name: str) -> ServiceProcess:
        """Another process of the same service: same database, same consumer groups."""
        svc = self._process(name, self.databases[name],
                            self.logs / f"{name}-{len(self.extra) + 2}.log")
        svc.launch()
        self.extra.append(svc)
        _wait_live(svc, 180)
        return svc

    def stop(self) -> None:
        for svc in [*self.extra, *self.procs.values()]:
            svc.stop(timeout=60)

    def pids(self) -> dict[str, int | None]:
        return {n: (s.proc.pid if s.proc else None) for n, s in self.procs.items()}

    def exits(self) -> dict[str, int | None]:
        """Services whose process ended on its own (not killed by us)."""
        return {n: s.proc.returncode for n, s in self.procs.items()
                if s.proc and s.proc.poll() is not None}

    async def settled(self, inputs: list[Input], timeout: float = 1800.0,
                      quiet: int = 3, progress=None, stall: float = 600.0) -> dict:
        """Wait until every input is applied, every outbox is empty, scoring applied
        every event it follows, the audit timeline holds every event, and every service
        reports ready with no lag — `quiet` polls in a row. When nothing moves for
        `stall` seconds it stops waiting and returns (`done` false): the books then
        say what is missing."""
        expected: dict[tuple[str, str], int] = {}
        for i in inputs:
            key = (i.service, i.consumer)
            expected[key] = expected.get(key, 0) + 1
        loop = asyncio.get_running_loop()
        deadline, streak, state = loop.time() + timeout, 0, {}
        seen, since = None, loop.time()
        while loop.time() < deadline:
            for name, code in self.exits().items():
                raise RuntimeError(f"{name} exited {code} on its own: "
                                   f"{self.procs[name].log_path.read_text()[-3000:]}")
            state = await self._state(expected)
            if progress:
                progress(state)
            streak = streak + 1 if state["done"] else 0
            if streak >= quiet:
                return state
            if (state["events"], state["behind"]) != seen:
                seen, since = (state["events"], state["behind"]), loop.time()
            elif loop.time() - since > stall:
                return state
            await asyncio.sleep(2.0)
        raise TimeoutError(f"not settled in {timeout}s: {state}")

    async def _state(self, expected: dict[tuple[str, str], int]) -> dict:
        counts: dict[str, dict] = {}
        for name, url in self.databases.items():
            try:
                counts[name] = await _counts(url)
            except (DBAPIError, OperationalError) as error:
                counts[name] = {"error": type(error).__name__}
        ok = all("error" not in c for c in counts.values())
        behind = {}
        if ok:
            for (service, consumer), n in expected.items():
                if service in counts:
                    got = counts[service]["inbox"].get(consumer, 0)
                    if got < n:
                        behind[f"{service}.{consumer}"] = n - got
            stored = {n: c["events"] for n, c in counts.items() if n != "audit"}
            if "scoring" in counts:
                for consumer, upstream in (("submission-facts", "submission"),
                                           ("committee-facts", "committee")):
                    if upstream in stored:
                        got = counts["scoring"]["inbox"].get(consumer, 0)
                        if got < stored[upstream]:
                            behind[f"scoring.{consumer}"] = stored[upstream] - got
            if "audit" in counts:
                lag = sum(stored.values()) - counts["audit"]["timeline"]
                if lag:
                    behind["audit.timeline"] = lag
            pending = sum(c["outbox"] for c in counts.values())
            if pending:
                behind["outboxes"] = pending
        ready = {n: _ready(s) for n, s in self.procs.items()}
        done = ok and not behind and all(ready.values())
        return {"done": done, "behind": behind, "ready": ready,
                "events": sum(c.get("events", 0) for c in counts.values())}


async def _counts(url: str) -> dict:
    from services.audit.adapters.timeline import timeline  # noqa: PLC0415
    db = Database(url)
    try:
        async with db.reading() as conn:
            if not await conn.run_sync(lambda c: inspect(c).has_table("events")):
                return {"error": "not migrated"}
            n = await conn.scalar(select(func.count()).select_from(events))
            rows = await conn.execute(select(inbox.c.consumer, func.count())
                                      .group_by(inbox.c.consumer))
            pending = await conn.scalar(select(func.count()).select_from(outbox))
            followed = await conn.scalar(select(func.count()).select_from(timeline)) \
                if await conn.run_sync(lambda c: inspect(c).has_table(timeline.name)) else 0
            return {"events": n, "inbox": dict(rows.all()), "outbox": pending,
                    "timeline": followed}
    finally:
        await db.dispose()


def _ready(svc: ServiceProcess) -> bool:
    try:
        return httpx.get(f"{svc.url}/health/ready", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_live(svc: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            raise RuntimeError(f"{svc.service} exited {svc.proc.returncode}: "
                               f"{svc.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{svc.url}/health/live", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{svc.service} not live in {timeout}s")


@dataclass
class Kill:
    at: float        # seconds into the run
    service: str
    pid: int


async def kill_at_random(fleet: Fleet, rng: random.Random, kills: int,
                         between: tuple[float, float] = (2.0, 8.0),
                         services: tuple[str, ...] | None = None,
                         min_uptime: float = 1.0, log=None) -> list[Kill]:
    """kill -9 a random service at random moments, `kills` times, restarting each at
    once (its start-up may itself be hit by the next kill). Every service is hit at
    least once when `kills` >= the number of services."""
    names = list(services or fleet.procs)
    order = rng.sample(names, len(names)) if kills >= len(names) else []
    done: list[Kill] = []
    began = time.monotonic()
    while len(done) < kills:
        await asyncio.sleep(rng.uniform(*between))
        first = order.pop() if order else None
        candidates = [n for n in names
                      if time.monotonic() - fleet.started_at.get(n, 0) >= min_uptime]
        name = first if first else (rng.choice(candidates) if candidates else None)
        if name is None:
            continue
        pid = fleet.procs[name].proc.pid
        await asyncio.to_thread(fleet.kill9, name)
        done.append(Kill(round(time.monotonic() - began, 1), name, pid))
        if log:
            log(f"kill -9 {name} (pid {pid}) at {done[-1].at}s [{len(done)}/{kills}]")
        await asyncio.to_thread(fleet.relaunch, name)
    return done


async def applied(url: str, consumer: str) -> int:
    """Inputs one consumer has applied (0 while its database is not migrated)."""
    db = Database(url)
    try:
        async with db.reading() as conn:
            return await conn.scalar(select(func.count()).select_from(inbox).where(
                inbox.c.consumer == consumer)) or 0
    except (DBAPIError, OperationalError):
        return 0
    finally:
        await db.dispose()


def create_database(admin_url: str, name: str) -> str:
    """A fresh PostgreSQL database on the server of `admin_url`; its URL."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
