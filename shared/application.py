"""The application layer every service shares (응용 계층): repository, unit of work,
handler table and one dispatch.

A command comes from HTTP, from Kafka, or as another service's event; each edge
opens a transaction and hands the command to `Application.dispatch`, which
authorizes the caller, finds the command's handler and runs it against a
`UnitOfWork`. A fact from elsewhere goes to `Application.react` and the policy for
its type, `policy(event, uow)`: the same shape. Every handler has one shape,
`handler(command, uow) -> None`: it loads aggregates through the unit of work, asks
them for new events, and records `(aggregate, events)`. Nothing is written until
`commit`, which appends every stream's events together with the version it was
loaded at (a concurrent writer makes the append fail, and the edge decides again). One unit of work may carry many
commands or facts: later handlers see the events earlier ones recorded.

Modelled on the `eventsourcing` library's Application/Repository/save and Cosmic
Python's handlers table and unit of work.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from .aggregate import Aggregate
from .auth import Policy, Principal, acting
from .envelope import GENESIS_HASH, Actor, Envelope
from .registry import DomainEvent, EventRegistry
from .retry import CONFLICT
from .store import ConcurrencyError, Metadata, StreamAppend

A = TypeVar("A", bound=Aggregate)
Handler = Callable[[Any, "UnitOfWork"], Awaitable[None]]
Reaction = Callable[[Any, "UnitOfWork"], Awaitable[None]]  # a policy: a fact → effects
CONFLICT_ATTEMPTS = 6  # a command losing a race on its stream is decided again


class Events(Protocol):
    """Where a unit of work reads and appends streams: the SQL event store, or an
    in-memory one in handler tests."""

    async def read_stream(self, conn: Any, stream_id: str) -> Sequence[Envelope]: ...

    async def append(self, conn: Any, stream_id: str, expected_version: int,
                     events: Sequence[DomainEvent], meta: Metadata,
                     expected_head: str | None = None) -> list[Envelope]: ...

    async def append_streams(self, conn: Any, appends: Sequence[StreamAppend],
                             meta: Metadata) -> list[Envelope]: ...


@dataclass
class Repository:
    """Loads any aggregate kind by stream: its stored events, decoded (and upcast)
    by the service's registry, folded in order."""

    events: Events
    registry: EventRegistry

    async def history(self, conn: Any, stream_id: str) -> list[DomainEvent]:
        return (await self.load(conn, stream_id))[0]

    async def load(self, conn: Any, stream_id: str) -> tuple[list[DomainEvent], str]:
        """The stream's events, decoded, and its head: the last event's hash
        (GENESIS_HASH for an empty stream), which an append then need not read."""
        stored = await self.events.read_stream(conn, stream_id)
        return ([self.registry.decode(e.event_type, e.schema_version, e.payload)
                 for e in stored], stored[-1].hash if stored else GENESIS_HASH)


@dataclass
class _Stream:
    kind: type[Aggregate]
    loaded: list[DomainEvent]     # as stored when first asked for
    head: str | None              # the hash of the last of them; None: not read
    pending: list[DomainEvent] = field(default_factory=list)


class UnitOfWork:
    """The changes of one transaction. `get` loads an aggregate (once per stream,
    then folded with what was recorded since); `record` keeps new events; `commit`
    appends them together (one insert), streams in the order first touched."""

    def __init__(self, conn: Any, repository: Repository, principal: Principal,
                 correlation_id: str, causation_id: str | None = None):
        self.conn, self.repository, self.principal = conn, repository, principal
        self.correlation_id, self.causation_id = correlation_id, causation_id
        self._streams: dict[str, _Stream] = {}
        self._flushed: list[Envelope] = []

    @property
    def actor(self) -> Actor:
        return self.principal.actor()

    async def get(self, kind: type[A], stream_id: str) -> A:
        found = self._streams.get(stream_id)
        if found is None:
            found = _Stream(kind, *await self.repository.load(self.conn, stream_id))
            self._streams[stream_id] = found
        return kind(stream_id, [*found.loaded, *found.pending])

    async def existing(self, kind: type[A], stream_id: str, missing: Exception) -> A:
        """`get`, refused with `missing` (a refusal naming what is absent) when the
        stream holds no event yet."""
        found = await self.get(kind, stream_id)
        if not found.exists:
            raise missing
        return found

    def record(self, aggregate: Aggregate, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        stream = self._streams.get(aggregate.stream_id)
        if stream is None:  # an aggregate made without `get`: a stream new to the store
            stream = self._streams[aggregate.stream_id] = _Stream(type(aggregate), [], None)
        if aggregate.version != len(stream.loaded) + len(stream.pending):
            raise RuntimeError(f"stream {aggregate.stream_id!r}: events recorded against "
                               "a stale copy of the aggregate")
        stream.pending.extend(events)

    @property
    def pending(self) -> dict[str, list[DomainEvent]]:
        return {s: list(v.pending) for s, v in self._streams.items() if v.pending}

    async def flush(self) -> list[Envelope]:
        """Append what is recorded so far, inside the transaction, so that what
        follows can name those events' ids (a score names its inputs). Every
        stream's events go in one append, each with the head it was loaded at."""
        touched = [(stream_id, s) for stream_id, s in self._streams.items() if s.pending]
        if not touched:
            return []
        meta = Metadata(actor=self.actor, correlation_id=self.correlation_id,
                        causation_id=self.causation_id)
        appended = await self.repository.events.append_streams(self.conn, [
            StreamAppend(stream_id, len(s.loaded), s.pending, s.head)
            for stream_id, s in touched], meta)
        heads = {e.stream_id: e.hash for e in appended}
        for stream_id, stream in touched:
            stream.loaded += stream.pending
            stream.pending = []
            stream.head = heads[stream_id]
        self._flushed += appended
        return appended

    async def commit(self) -> list[Envelope]:
        """Append the rest; returns every event this unit appended, flushed or not."""
        await self.flush()
        appended, self._flushed = self._flushed, []
        return appended


class UnknownCommand(LookupError):
    """A command type with no handler: a programming error, never a refusal."""


@dataclass
class Application:
    """One service's application layer: the handler table and the one dispatch for
    commands, and the policy table for facts from other services or city systems."""

    repository: Repository
    handlers: Mapping[str, Handler]
    policy: Policy
    policies: Mapping[str, Reaction] = field(default_factory=dict)

    def unit_of_work(self, conn: Any, principal: Principal, correlation_id: str,
                     causation_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(conn, self.repository, principal, correlation_id, causation_id)

    async def dispatch(self, command: Any, uow: UnitOfWork) -> None:
        """Authorize the caller for this command, then run its handler. A refusal
        (the policy's or the domain's) propagates; the edge makes it an outcome."""
        handler = self.handlers.get(command.command_type)
        if handler is None:
            raise UnknownCommand(f"no handler for {command.command_type!r}")
        self.policy.check_command(uow.principal, command)
        with acting(uow.principal):
            await handler(command, uow)

    async def react(self, event: Any, uow: UnitOfWork) -> None:
        """A fact (another service's event, a city system's message) handed to the
        policy for its type; no authorization: a fact is not a request. A type with
        no policy is a fact this service does not use."""
        reaction = self.policies.get(event.event_type)
        if reaction is not None:
            await reaction(event, uow)

    async def execute(self, db: Any, command: Any, principal: Principal,
                      correlation_id: str) -> list[Envelope]:
        """A command in its own transaction (the HTTP edge): dispatch and commit,
        decided again on fresh state when another writer moved a stream first."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                async with db.transaction() as conn:
                    uow = self.unit_of_work(conn, principal, correlation_id)
                    await self.dispatch(command, uow)
                    return await uow.commit()
            except (ConcurrencyError, IntegrityError) as conflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise StillConflicting(attempt, conflict) from conflict
                await CONFLICT.wait(attempt)
        raise AssertionError("unreachable")


class StillConflicting(Exception):
    """Every attempt lost its race; the caller may retry later."""

    def __init__(self, attempts: int, conflict: Exception):
        super().__init__(f"still conflicting after {attempts} attempts, retry later: "
                         f"{conflict}"[:1000])
