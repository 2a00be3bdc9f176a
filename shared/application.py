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

import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from .aggregate import Aggregate
from .auth import Policy, Principal, acting
from .envelope import GENESIS_HASH, Actor, Envelope, Sealed
from .registry import DomainEvent, EventRegistry
from .retry import CONFLICT
from .store import ConcurrencyError, Metadata, StreamAppend
from .telemetry import current_trace_context

A = TypeVar("A", bound=Aggregate)
Handler = Callable[[Any, "UnitOfWork"], Awaitable[None]]
Reaction = Callable[[Any, "UnitOfWork"], Awaitable[None]]  # a policy: a fact → effects
CONFLICT_ATTEMPTS = 6  # a command losing a race on its stream is decided again


class Events(Protocol):
    """Where a unit of work reads and appends streams: the SQL event store, or an
    in-memory one in handler tests."""

    async def read_stream(self, conn: Any, stream_id: str) -> Sequence[Envelope]: ...

    async def read_streams(self, conn: Any, stream_ids: Sequence[str]
                           ) -> Mapping[str, Sequence[Envelope]]: ...

    async def read_heads(self, conn: Any, stream_ids: Sequence[str]
                         ) -> Mapping[str, tuple[int, str]]: ...

    async def seal_streams(self, conn: Any, appends: Sequence[StreamAppend],
                           meta: Metadata) -> list[Sealed]: ...

    async def write(self, conn: Any, records: Sequence[Sealed]) -> list[Envelope]: ...

    async def append(self, conn: Any, stream_id: str, expected_version: int,
                     events: Sequence[DomainEvent], meta: Metadata,
                     expected_head: str | None = None) -> list[Envelope]: ...


@dataclass
class Repository:
    """Loads any aggregate kind by stream: its stored events, decoded (and upcast)
    by the service's registry, folded in order."""

    events: Events
    registry: EventRegistry

    async def history(self, conn: Any, stream_id: str) -> list[DomainEvent]:
        return self.decoded(await self.events.read_stream(conn, stream_id))

    def decoded(self, stored: Sequence[Envelope]) -> list[DomainEvent]:
        return [self.registry.decode(e.event_type, e.schema_version, e.payload)
                for e in stored]


@dataclass
class _Stream:
    kind: type[Aggregate]
    loaded: list[DomainEvent] | None  # as stored, then as flushed; None: a log (head only)
    version: int                      # events stored and flushed
    head: str                         # the hash of the last of them
    envelopes: list[Envelope] = field(default_factory=list)  # loaded and flushed here
    pending: list[tuple[DomainEvent, Metadata]] = field(default_factory=list)

    def aggregate(self, stream_id: str) -> Aggregate:
        if self.loaded is None:
            return self.kind.at_version(stream_id, self.version + len(self.pending))
        return self.kind(stream_id, [*self.loaded, *(e for e, _ in self.pending)])


class UnitOfWork:
    """The changes of one transaction. `get` loads an aggregate (once per stream,
    then folded with what was recorded since); `record` keeps new events; `flush`
    seals them (ids, versions, hashes) without writing; `commit` writes every sealed
    event together (one insert), streams in the order first touched.

    One unit may carry a whole batch of facts, each on behalf of its own sender
    (`on_behalf`): what each records carries that sender's actor, correlation and
    causation."""

    def __init__(self, conn: Any, repository: Repository, principal: Principal,
                 correlation_id: str, causation_id: str | None = None):
        self.conn, self.repository = conn, repository
        self.on_behalf(principal, correlation_id, causation_id)
        self._streams: dict[str, _Stream] = {}
        self._touched: dict[str, None] = {}  # streams with pending events, in order
        self._sealed: list[Sealed] = []
        self.memo: dict[Any, Any] = {}  # what adapters read once per unit (cycle ids…)

    def on_behalf(self, principal: Principal, correlation_id: str,
                  causation_id: str | None = None) -> None:
        """Who and why for what is recorded from now on (and the trace it continues:
        the one current now, though the events are written at commit)."""
        self.principal, self.correlation_id = principal, correlation_id
        self.causation_id = causation_id
        self._meta = Metadata(actor=principal.actor(), correlation_id=correlation_id,
                              causation_id=causation_id,
                              trace_context=current_trace_context())

    @property
    def actor(self) -> Actor:
        return self.principal.actor()

    async def get(self, kind: type[A], stream_id: str) -> A:
        found = self._streams.get(stream_id)
        if found is None:
            await self.preload(kind, [stream_id])
            found = self._streams[stream_id]
        return found.aggregate(stream_id)

    async def preload(self, kind: type[Aggregate], stream_ids: Sequence[str]) -> None:
        """Load the streams not loaded yet, in one read: a batch of facts asks for its
        streams at once rather than one query each. A log (`needs_history` False)
        reads only its head, however long it has grown."""
        todo = [s for s in dict.fromkeys(stream_ids) if s not in self._streams]
        if not todo:
            return
        events = self.repository.events
        if not kind.needs_history:
            heads = await events.read_heads(self.conn, todo)
            for stream_id in todo:
                version, head = heads.get(stream_id, (0, GENESIS_HASH))
                self._streams[stream_id] = _Stream(kind, None, version, head)
            return
        stored = (await events.read_streams(self.conn, todo) if len(todo) > 1 else
                  {todo[0]: await events.read_stream(self.conn, todo[0])})
        for stream_id in todo:
            envelopes = list(stored.get(stream_id, ()))
            self._streams[stream_id] = _Stream(
                kind, self.repository.decoded(envelopes), len(envelopes),
                envelopes[-1].hash if envelopes else GENESIS_HASH, envelopes)

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
            stream = self._streams[aggregate.stream_id] = _Stream(
                type(aggregate), [], 0, GENESIS_HASH)
        if aggregate.version != stream.version + len(stream.pending):
            raise RuntimeError(f"stream {aggregate.stream_id!r}: events recorded against "
                               "a stale copy of the aggregate")
        stream.pending.extend((e, self._meta) for e in events)
        self._touched[aggregate.stream_id] = None

    @property
    def pending(self) -> dict[str, list[DomainEvent]]:
        return {s: [e for e, _ in v.pending] for s, v in self._streams.items() if v.pending}

    def envelopes(self, stream_id: str) -> list[Envelope]:
        """The stream's events as loaded and flushed in this unit, with their ids (of
        a log, only those flushed here: its history is never read)."""
        found = self._streams.get(stream_id)
        return list(found.envelopes) if found else []

    async def flush(self) -> list[Envelope]:
        """Seal what is recorded so far (ids, versions, hashes), so that what follows
        can name those events (a score names its inputs). Nothing is written until
        `commit`; every stream continues from the head it was loaded at."""
        touched, self._touched = self._touched, {}
        appends = [a for stream_id in touched
                   for a in _appends(stream_id, self._streams[stream_id])]
        if not appends:
            return []
        sealed = await self.repository.events.seal_streams(self.conn, appends, self._meta)
        by_stream: dict[str, list[Sealed]] = {}
        for record in sealed:
            by_stream.setdefault(record.envelope.stream_id, []).append(record)
        for stream_id, records in by_stream.items():
            stream = self._streams[stream_id]
            if stream.loaded is not None:
                stream.loaded += [e for e, _ in stream.pending]
            stream.version += len(records)
            stream.head = records[-1].envelope.hash
            stream.envelopes += [r.envelope for r in records]
            stream.pending = []
        self._sealed += sealed
        return [r.envelope for r in sealed]

    async def commit(self) -> list[Envelope]:
        """Write every event sealed in this unit (one insert); returns them."""
        await self.flush()
        sealed, self._sealed = self._sealed, []
        return await self.repository.events.write(self.conn, sealed)


def _appends(stream_id: str, stream: _Stream) -> list[StreamAppend]:
    """A stream's pending events, one append per run recorded on behalf of one sender;
    the store chains each run to the one before."""
    appends: list[StreamAppend] = []
    version = stream.version
    for meta, run in itertools.groupby(stream.pending, key=lambda p: p[1]):
        events = [e for e, _ in run]
        appends.append(StreamAppend(stream_id, version, events,
                                    None if appends else stream.head, meta))
        version += len(events)
    return appends


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
    # Given a batch of facts, load at once what their policies will read (one query,
    # not one per fact); None: each policy loads as it goes.
    prepare: Callable[[Sequence[Any], "UnitOfWork"], Awaitable[None]] | None = None

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
