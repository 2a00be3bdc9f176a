"""Runs one service process: DB, relay, consumers, projections, HTTP — and stops cleanly.

Start order does not matter: a service started before the broker or the database
waits and retries, saying so in its log. SIGTERM stops intake, finishes and commits
in-flight work, flushes the outbox, leaves the consumer group, then exits.
"""
from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field

import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData, text

from . import logs
from .consumer import Apply, Decoder, ReliableHandler
from .db import Database
from .deadletter import DeadLetters
from .faststream_binding import broker_send, subscribe
from .http import EmbeddedServer, install_health
from .outbox import OutboxRelay
from .projection import Projection, ProjectionRunner
from .settings import ServiceSettings
from .tables import backbone
from .topics import Topic, ensure_topics

log = structlog.get_logger("runtime")


@dataclass
class ConsumerSpec:
    """A reliable consumer: which topics, which group, how to decode and apply."""

    name: str
    topics: tuple[str, ...]
    decoder: Decoder
    apply: Callable[["Service"], Apply]  # built once the service's DB exists


@dataclass
class ServiceSpec:
    name: str
    owns: list[Topic]                       # topics this service creates and writes
    metadatas: list[MetaData] = field(default_factory=list)
    consumers: list[ConsumerSpec] = field(default_factory=list)
    projections: list[Callable[[], Projection]] = field(default_factory=list)
    http: Callable[["Service"], FastAPI] | None = None


class Service:
    def __init__(self, spec: ServiceSpec, settings: ServiceSettings):
        self.spec, self.settings = spec, settings
        self.db = Database(settings.database(), backbone, *spec.metadatas)
        self.bootstrap = settings.kafka_bootstrap_servers
        self.broker = KafkaBroker(self.bootstrap, client_id=spec.name,
                                  logger=logs.library_logger("faststream"))
        self.relay = OutboxRelay(self.db, self.bootstrap, spec.name)
        self.runners: list[ProjectionRunner] = []
        self.handlers: list[ReliableHandler] = []
        self.stop_event = asyncio.Event()
        self.started = False

    async def start(self) -> None:
        # Consumed topics too: a service started before its producers still subscribes.
        consumed = [Topic(t, "consumed") for c in self.spec.consumers for t in c.topics]
        await _retry("broker", lambda: asyncio.to_thread(
            ensure_topics, self.bootstrap, [*self.spec.owns, *consumed]))
        await _retry("database", self.db.create_tables)
        for c in self.spec.consumers:
            handler = ReliableHandler(c.name, self.db, c.decoder, c.apply(self),
                                      DeadLetters(c.name, broker_send(self.broker)))
            subscribe(self.broker, handler, *c.topics, group_id=f"{self.spec.name}.{c.name}")
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

    async def ready(self) -> dict[str, bool]:
        checks = {"started": self.started, "database": False, "broker": False}
        try:
            async with self.db.reading() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception:
            pass
        try:
            checks["broker"] = await self.broker.ping(timeout=2.0)
        except Exception:
            pass
        return checks

    async def serve(self) -> None:
        """Run until SIGTERM/SIGINT, then shut down in order."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        await self.start()
        tasks = [asyncio.create_task(self.relay.run(self.stop_event))]
        tasks += [asyncio.create_task(r.run(self.stop_event)) for r in self.runners]
        server = self._http_server()
        if server:
            tasks.append(asyncio.create_task(server.serve()))
        log.info("service_started", projections=len(self.runners),
                 consumers=len(self.handlers))
        await self.stop_event.wait()
        log.info("service_stopping")
        if server:
            server.should_exit = True
        await self.broker.stop()          # in-flight handler finishes, group is left
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.relay.drain()          # flush what was appended meanwhile
        await self.relay.stop()
        for runner in self.runners:
            await runner.stop()
        await self.db.dispose()
        log.info("service_stopped")

    def _http_server(self) -> EmbeddedServer | None:
        if not self.spec.http:
            return None
        app = self.spec.http(self)
        install_health(app, self.ready)
        import uvicorn
        config = uvicorn.Config(app, host=self.settings.http_host,
                                port=self.settings.http_port, log_config=None,
                                access_log=False)
        return EmbeddedServer(config)


async def _retry(what: str, action, attempts: int = 120) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await action()
            return
        except Exception as error:
            if attempt == attempts:
                raise
            log.warning("waiting_for", what=what, attempt=attempt,
                        error=type(error).__name__)
            await asyncio.sleep(min(5.0, 0.2 * attempt))


def main(spec: ServiceSpec, settings: ServiceSettings) -> None:
    logs.configure(spec.name, settings.log_level)

    async def run() -> None:  # aiokafka clients must be made inside the loop
        await Service(spec, settings).serve()
    asyncio.run(run())


def command_service(name: str, handlers: Callable[[], Any], decode_command: Decoder,
                    apply_command: Callable[[Any], Apply], read_model: Any,
                    build_api: Callable[[Service, Any], FastAPI],
                    write_side: MetaData | None = None) -> ServiceSpec:
    """The shape of a service that takes commands (Kafka and HTTP) and keeps a read
    model: its events and commands topics, one command consumer, its projection."""
    from .topics import commands_topic, events_topic  # noqa: PLC0415
    commands = commands_topic(name)
    return ServiceSpec(
        name=name,
        owns=[events_topic(name), commands],
        metadatas=[m for m in (write_side, read_model.metadata) if m is not None],
        consumers=[ConsumerSpec(name="commands", topics=(commands.name,),
                                decoder=decode_command,
                                apply=lambda _svc: apply_command(handlers()))],
        projections=[read_model.PROJECTION],
        http=lambda svc: build_api(svc, handlers()),
    )
