"""Runs one service process: DB, relay, consumers, projections, HTTP — and stops cleanly.

Start order does not matter: a service started before the broker or the database
waits and retries, saying so in its log. SIGTERM stops intake, finishes and commits
in-flight work, flushes the outbox, leaves the consumer group, then exits.
"""
from __future__ import annotations

import asyncio
import gc
import functools
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from dataclasses import dataclass, field

import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData

from . import logs, migrate, telemetry
from .consumer import Apply, BatchOf, Decoder, ReliableHandler
from .db import Database
from .deadletter import DeadLetters
from .faststream_binding import broker_send, subscribe
from .http import EmbeddedServer, install_health, install_metrics, install_start_gate
from .kafka_io import broker_security, group_lag
from .outbox import OutboxRelay
from .projection import Projection, ProjectionRunner
from .retry import STARTUP
from .settings import ServiceSettings
from .store import EventStore
from .tables import backbone
from .topics import Topic, ensure_topics, use_prefix

log = structlog.get_logger("runtime")


@dataclass
class ConsumerSpec:
    """A reliable consumer: which topics, which group, how to decode and apply."""

    name: str
    topics: tuple[str, ...]
    decoder: Decoder
    apply: Callable[["Service"], Apply]  # built once the service's DB exists
    # Effects of a whole fetched batch in one go (ReliableHandler's `batch`); None:
    # its records are applied one by one, still in one transaction.
    batch: Callable[["Service"], BatchOf] | None = None
    # What a record on its topics is, for the published contract (tools/contracts.py):
    # a pydantic model or type. None: told by a shared decoder (envelope_decoder's
    # registry, command_decoder's message model).
    message: Any = None


@dataclass
class ServiceSpec:
    name: str
    owns: list[Topic]                       # topics this service creates and writes
    migrations: Path                        # the service's Alembic revisions
    metadatas: list[MetaData] = field(default_factory=list)
    consumers: list[ConsumerSpec] = field(default_factory=list)
    projections: list[Callable[[], Projection]] = field(default_factory=list)
    http: Callable[["Service"], FastAPI] | None = None
    # Run once the schema is at head, before consumers, relay or commands start
    # (say, to bring stored data up to what the code expects); raising refuses to start.
    on_start: Callable[["Service"], Awaitable[None]] | None = None

    @property
    def schema(self) -> migrate.Schema:
        """Its database: the backbone and its own tables, reached by its revisions."""
        return migrate.Schema(self.name, self.migrations, tuple(self.metadatas))


class Service:
    def __init__(self, spec: ServiceSpec, settings: ServiceSettings):
        self.spec, self.settings = spec, settings
        self.db = Database(settings.database(), backbone, *spec.metadatas,
                           background_checkpoints=True)
        self.bootstrap = settings.kafka_bootstrap_servers
        # A list: FastStream takes a string as one host, "h1:p1,h2:p2" included.
        self.broker = KafkaBroker(self.bootstrap.split(","), client_id=spec.name,
                                  security=broker_security(),
                                  logger=logs.library_logger("faststream"),
                                  middlewares=_middlewares(spec.name),
                                  # on stop, wait for the handler in flight to commit
                                  graceful_timeout=settings.shutdown_grace_s / 2)
        self.relay = OutboxRelay(self.db, self.bootstrap, spec.name)
        self.runners: list[ProjectionRunner] = []
        self.handlers: list[ReliableHandler] = []
        self.subscribers: dict[str, Any] = {}  # consumer name → FastStream subscriber
        self.stop_event = asyncio.Event()
        self.started = False

    async def start(self) -> None:
        # Consumed topics too: a service started before its producers still subscribes.
        consumed = [Topic(t, "consumed") for c in self.spec.consumers for t in c.topics]
        await _retry("broker", lambda: asyncio.to_thread(
            ensure_topics, self.bootstrap, [*self.spec.owns, *consumed]))
        await _retry("database", lambda: asyncio.to_thread(
            migrate.upgrade, self.db.url, self.spec.schema),
            fatal=(migrate.SchemaDrift,))
        if self.spec.on_start:
            await self.spec.on_start(self)
        for c in self.spec.consumers:
            handler = ReliableHandler(c.name, self.db, c.decoder, c.apply(self),
                                      DeadLetters(c.name, broker_send(self.broker)),
                                      batch=c.batch(self) if c.batch else None)
            self.subscribers[c.name] = subscribe(
                self.broker, handler, *c.topics, group_id=f"{self.spec.name}.{c.name}",
                batch_records=self.settings.consumer_batch_records)
            self.handlers.append(handler)
        await self.relay.start()
        await self.broker.start()
        for make in self.spec.projections:
            projection = make()
            runner = ProjectionRunner(projection, self.db, self.bootstrap,
                                      DeadLetters(projection.name, broker_send(self.broker)))
            await _retry(f"projection {runner.p.name}", runner.start)
            self.runners.append(runner)
        self.started = True

    async def lags(self) -> dict[str, int | None]:
        """Records behind per consumer and projection (None: no partitions assigned
        yet); also sets the lag gauges."""
        names = [*self.subscribers, *(f"projection:{r.p.name}" for r in self.runners)]
        lags = await asyncio.gather(
            *(group_lag(s.consumer) for s in self.subscribers.values()),
            *(r.uncommitted() for r in self.runners))
        found = dict(zip(names, lags))
        for name, lag in found.items():
            if lag is not None:
                telemetry.LAG.labels(name).set(lag)
        return found

    async def ready(self) -> tuple[dict[str, bool], dict[str, int | None]]:
        """Ready = started, database answers, broker answers, and every consumer and
        projection holds its partitions and is at most READY_MAX_LAG behind."""
        checks = {"started": self.started, "database": await self.db.reachable(),
                  "broker": False}
        try:  # bounded: a probe must answer even while the broker is away
            checks["broker"], lags = await asyncio.wait_for(self._broker_checks(), 3.0)
        except Exception:
            lags = {name: None for name in self.subscribers} | {
                f"projection:{r.p.name}": None for r in self.runners}
        bound = self.settings.ready_max_lag
        checks |= {f"caught_up:{name}": lag is not None and lag <= bound
                   for name, lag in lags.items()}
        return checks, lags

    async def _broker_checks(self) -> tuple[bool, dict[str, int | None]]:
        return await self.broker.ping(timeout=2.0), await self.lags()

    async def watch(self, stop: asyncio.Event, every: float = 5.0) -> None:
        """Keep the lag and outbox gauges current between scrapes."""
        while not stop.is_set():
            try:
                await self.lags()
                async with self.db.reading() as conn:
                    telemetry.OUTBOX_BACKLOG.set(await EventStore.pending_publications(conn))
            except Exception as error:  # a gauge may go stale; the service goes on
                log.debug("watch_failed", error=type(error).__name__)
            await _pause(stop, every)

    async def serve(self) -> None:
        """Run until SIGTERM/SIGINT, then shut down in order."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        # HTTP first: live at once, not ready (and no commands) until started.
        server = self._http_server()
        tasks = [asyncio.create_task(server.serve())] if server else []
        watcher = None
        if await self._start_unless_stopped():
            _freeze_heap()
            watcher = asyncio.create_task(self.watch(self.stop_event))
            tasks += [asyncio.create_task(self.relay.run(self.stop_event))]
            tasks += [asyncio.create_task(r.run(self.stop_event)) for r in self.runners]
            log.info("service_started", projections=len(self.runners),
                     consumers=len(self.handlers))
            await self.stop_event.wait()
        if watcher:  # gauges only, nothing to finish; a lag query caught in flight
            watcher.cancel()  # would wait forever on the consumers the shutdown closes
        grace = self.settings.shutdown_grace_s
        log.info("service_stopping", grace_s=grace)
        try:
            await asyncio.wait_for(self._shut_down(server, tasks), grace)
        except TimeoutError:  # nothing acknowledged is lost: offsets follow commits
            log.error("shutdown_over_grace", grace_s=grace)
            raise SystemExit(1)
        log.info("service_stopped", published_on_exit=self.relay.published)

    async def _start_unless_stopped(self) -> bool:
        starting = asyncio.create_task(self.start())
        stopping = asyncio.create_task(self.stop_event.wait())
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            stopping.cancel()
            starting.result()  # a start that gave up raises here
            return True
        starting.cancel()  # SIGTERM while still waiting for the broker or database
        log.info("stopped_before_started")
        return False

    async def _shut_down(self, server, tasks) -> None:
        if server:
            server.should_exit = True     # stop taking HTTP commands; finish in-flight
        await self.broker.stop()          # in-flight handler finishes, group is left
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.relay.drain()          # flush what was appended meanwhile
        await self.relay.stop()
        for runner in self.runners:
            await runner.stop()
        await self.db.dispose()

    def _http_server(self) -> EmbeddedServer | None:
        if not self.spec.http:
            return None
        app = self.spec.http(self)
        install_health(app, self.ready)
        install_metrics(app)
        install_start_gate(app, lambda: self.started)
        import uvicorn
        config = uvicorn.Config(app, host=self.settings.http_host,
                                port=self.settings.http_port, log_config=None,
                                access_log=False)
        return EmbeddedServer(config)


def _freeze_heap() -> None:
    """Keep what start-up built (modules, schemas, clients: most of the heap) out of
    the collector's full passes: each took about 100 ms of a service's loop, a stall
    every few seconds under load and the tail of the latency."""
    gc.collect()
    gc.freeze()


async def _retry(what: str, action, attempts: int = 120,
                 fatal: tuple[type[Exception], ...] = ()) -> None:
    """Retry while what it needs is away; a `fatal` error (say, a schema that does
    not match the code) is raised at once: waiting would not mend it."""
    for attempt in range(1, attempts + 1):
        try:
            await action()
            return
        except fatal:
            raise
        except Exception as error:
            if attempt == attempts:
                raise
            log.warning("waiting_for", what=what, attempt=attempt,
                        error=type(error).__name__)
            await STARTUP.wait(attempt)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


_MIDDLEWARES: list = []


def _middlewares(service: str) -> list:
    """FastStream's Prometheus and OpenTelemetry middlewares, made once per process
    (Prometheus refuses to register the same metric twice)."""
    if not _MIDDLEWARES:
        from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
        from faststream.kafka.prometheus import KafkaPrometheusMiddleware
        from prometheus_client import REGISTRY
        _MIDDLEWARES.extend([KafkaTelemetryMiddleware(),
                             KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service)])
    return _MIDDLEWARES


def main(make_spec: Callable[[], ServiceSpec], settings: ServiceSettings) -> None:
    """Run the service `make_spec()` describes. Its topic names carry the settings'
    prefix: the spec is made only once the prefix is set."""
    use_prefix(settings.topic_prefix)
    spec = make_spec()
    logs.configure(spec.name, settings.log_level)
    tracing = telemetry.configure_tracing(spec.name, settings.traces_exporter)

    async def run() -> None:  # aiokafka clients must be made inside the loop
        await Service(spec, settings).serve()
    try:
        asyncio.run(run())
    finally:  # once every span of the shutdown has ended: flush what is still batched
        telemetry.shutdown_tracing(tracing)


def command_service(name: str, *, application: Callable[[], Any], decode_command: Decoder,
                    rejected: type, refusals: tuple[type[Exception], ...], read_model: Any,
                    build_api: Callable[[Service, Any], FastAPI], migrations: Path,
                    write_side: MetaData | None = None) -> ServiceSpec:
    """The shape of a service that takes commands (Kafka and HTTP) and keeps a read
    model: its events and commands topics, one command consumer, its projection.
    `application()` makes the service's shared.application.Application; both edges
    dispatch through it (Kafka: refusals become `rejected` events)."""
    from .commands import command_applier  # noqa: PLC0415
    from .topics import commands_topic, events_topic  # noqa: PLC0415
    commands = commands_topic(name)
    application = functools.cache(application)  # one per process: both edges share it
    return ServiceSpec(
        name=name,
        owns=[events_topic(name), commands],
        migrations=migrations,
        metadatas=[m for m in (write_side, read_model.metadata) if m is not None],
        consumers=[ConsumerSpec(name="commands", topics=(commands.name,),
                                decoder=decode_command,
                                apply=lambda _svc: command_applier(
                                    application(), rejected, refusals))],
        projections=[read_model.PROJECTION],
        http=lambda svc: build_api(svc, application()),
    )
