"""Exactly-once *effects* on an at-least-once log: decode → apply + inbox → ack.

A delivery is decoded (bad bytes or schema → dead letter with the reason); then its
effects and its inbox row are committed in one transaction, and only after that
commit is the Kafka offset acknowledged. A fetched batch goes the same way in one
transaction (`handle_batch`); if any record of it fails, each is taken alone. A
redelivered message finds its inbox row and is a no-op. Conflicts retry a bounded number of times, then dead-letter; a
database outage is waited out (the message is fine, the infrastructure is not).
"""
from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database
from .deadletter import DeadLetters, Delivery
from .envelope import Envelope, sealed_record
from .driver_sql import driver
from .faults import crash_point
from .positions import save_stream_versions, stream_versions
from .reasons import reason as _reason
from .registry import DomainEvent, EventRegistry
from .retry import CONFLICT, OUTAGE
from .store import ConcurrencyError
from .telemetry import HANDLER_SECONDS, MESSAGES, record_span

_INBOX_INSERT = "INSERT INTO inbox (consumer, event_id) VALUES (?, ?)"

log = structlog.get_logger("consumer")
Outcome = Literal["applied", "duplicate", "dead-lettered"]


class Rejected(Exception):
    """Raised by a handler for input it must refuse: goes to the DLQ with this reason."""


@dataclass(frozen=True)
class Decoded:
    message_id: str          # what the inbox remembers
    message: Any             # what the handler receives
    correlation_id: str | None = None


Decoder = Callable[[Delivery], Decoded]
Apply = Callable[[AsyncConnection, Any], Awaitable[None]]


class BatchApply(Protocol):
    """A consumer's effects for a whole fetched batch in its transaction: told every
    message first (`start`: load what they will read at once), then each in log order
    (`apply`), then `finish` (write what they recorded together)."""

    async def start(self, messages: Sequence[Any]) -> None: ...

    async def apply(self, message: Any) -> None: ...

    async def finish(self) -> None: ...


BatchOf = Callable[[AsyncConnection], BatchApply]


def envelope_decoder(registry: EventRegistry, only_known: bool = False) -> Decoder:
    """Decode an event envelope and its payload; raises on anything wrong.

    `only_known`: a consumer of another service's topic reads only the types it has
    a contract for; other types arrive with `event=None` (checked, then skipped).
    """
    def decode(delivery: Delivery) -> Decoded:
        if delivery.value is None:
            raise Rejected("empty record (tombstone): events are never deleted")
        envelope = Envelope.from_json(delivery.value)
        if not sealed_record(delivery.value, envelope):  # the record's own bytes hashed
            raise Rejected(f"event {envelope.event_id}: content does not match its hash")
        if only_known and not registry.knows(envelope.event_type):
            return Decoded(envelope.event_id, EventMessage(envelope, None),
                           envelope.correlation_id)
        event = registry.decode(envelope.event_type, envelope.schema_version,
                                envelope.payload)
        return Decoded(envelope.event_id, EventMessage(envelope, event),
                       envelope.correlation_id)
    return decode


@dataclass(frozen=True)
class EventMessage:
    envelope: Envelope
    event: DomainEvent | None  # None: a type this consumer has no contract for


class ReliableHandler:
    def __init__(self, name: str, db: Database, decode: Decoder, apply: Apply,
                 dead_letters: DeadLetters, conflict_retries: int = 5,
                 failure_attempts: int = 3, batch: BatchOf | None = None):
        self.name, self.db, self.decode, self.apply = name, db, decode, apply
        self.batch = batch  # None: a batch applies its records one by one
        self.dead_letters, self.conflict_retries = dead_letters, conflict_retries
        self.failure_attempts = failure_attempts
        self.counts = {"applied": 0, "duplicate": 0, "dead-lettered": 0}

    async def handle(self, delivery: Delivery) -> Outcome:
        with HANDLER_SECONDS.labels(self.name).time():
            try:
                decoded = self.decode(delivery)
            except Exception as error:  # anything undecodable is bad input, with a reason
                outcome = await self._park(delivery, f"undecodable: {_reason(error)}")
            else:
                outcome = await self._apply_once(delivery, decoded)
        self.counts[outcome] += 1
        MESSAGES.labels(self.name, outcome).inc()
        return outcome

    async def handle_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """A fetched batch, in log order: every record decoded (the undecodable
        parked), the rest applied in one transaction with one inbox query, one inbox
        insert and one commit. If anything in it fails, nothing of it is kept and each
        record is taken again on its own (`_apply_once`): the failing one is retried
        or parked with its reason, the others applied."""
        outcomes: list[Outcome | None] = []
        todo: list[tuple[int, Delivery, Decoded]] = []
        with HANDLER_SECONDS.labels(self.name).time():
            for delivery in deliveries:
                try:
                    todo.append((len(outcomes), delivery, self.decode(delivery)))
                    outcomes.append(None)
                except Exception as error:
                    outcomes.append(await self._park(delivery,
                                                     f"undecodable: {_reason(error)}"))
            if todo:
                try:
                    done = await self._batch_transaction([(r, d) for _, r, d in todo])
                except Exception as error:
                    log.info("batch_taken_one_by_one", consumer=self.name,
                             records=len(todo), error=type(error).__name__)
                    done = []
                    for _, delivery, decoded in todo:
                        with record_span(delivery.topic, delivery.headers):
                            done.append(await self._apply_once(delivery, decoded))
                for (at, _, _), outcome in zip(todo, done):
                    outcomes[at] = outcome
        for outcome in outcomes:
            self.counts[outcome] += 1
            MESSAGES.labels(self.name, outcome).inc()
        return outcomes

    async def _batch_transaction(self, batch: list[tuple[Delivery, Decoded]]
                                 ) -> list[Outcome]:
        """All of a batch in one transaction; raises (and keeps nothing) if any fails."""
        reader = f"consumer:{self.name}"
        async with self.db.transaction() as conn:
            seen = await self._seen(conn, [d.message_id for _, d in batch])
            envelopes = [d.message.envelope for _, d in batch
                         if isinstance(d.message, EventMessage)]
            versions = await stream_versions(conn, reader, {e.stream_id for e in envelopes})
            moved: dict[str, int] = {}
            outcomes: list[Outcome] = []
            fresh: list[tuple[Delivery, Decoded]] = []
            for delivery, decoded in batch:
                if decoded.message_id in seen:
                    outcomes.append("duplicate")
                    continue
                seen.add(decoded.message_id)
                if isinstance(decoded.message, EventMessage):
                    e = decoded.message.envelope
                    _next_in_stream(e, versions.get(e.stream_id))
                    versions[e.stream_id] = moved[e.stream_id] = e.stream_version
                outcomes.append("applied")
                fresh.append((delivery, decoded))
            await self._apply_all(conn, fresh)
            await save_stream_versions(conn, reader, moved)
            await (await driver(conn)).executemany(
                _INBOX_INSERT, [(self.name, d.message_id) for _, d in fresh])
            crash_point("consumer.before_commit")
        crash_point("consumer.after_commit")  # effects committed, offsets not yet acked
        log.info("applied_batch", consumer=self.name, applied=len(fresh),
                 duplicates=len(batch) - len(fresh))
        return outcomes

    async def _apply_all(self, conn: AsyncConnection,
                         fresh: list[tuple[Delivery, Decoded]]) -> None:
        """Each new record's effects, in log order, each in its own span."""
        session = self.batch(conn) if self.batch and fresh else None
        if session:
            await session.start([d.message for _, d in fresh])
        for delivery, decoded in fresh:
            with record_span(delivery.topic, delivery.headers):
                await (session.apply(decoded.message) if session else
                       self.apply(conn, decoded.message))
        if session:
            await session.finish()

    async def _seen(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        sql = await driver(conn)
        return {r[0] for r in await sql.fetch(
            f"SELECT event_id FROM inbox WHERE consumer = ? AND {sql.member('event_id')}",
            (self.name, sql.listed(ids)))}

    async def _apply_once(self, delivery: Delivery, decoded: Decoded) -> Outcome:
        conflicts, outage, failures = 0, 0, 0
        while True:
            try:
                return await self._transaction(decoded)
            except Rejected as error:
                return await self._park(delivery, f"rejected: {error}")
            except (ConcurrencyError, IntegrityError) as error:
                conflicts += 1
                if conflicts > self.conflict_retries:
                    return await self._park(
                        delivery, f"conflict persisted after {self.conflict_retries} "
                                  f"retries: {_reason(error)}")
                await CONFLICT.wait(conflicts)
            except (OperationalError, InterfaceError, OSError) as error:
                if await self.db.reachable():  # the database answers: this message fails
                    failures += 1
                    if failures >= self.failure_attempts:
                        return await self._park(delivery, f"database refused it "
                                                          f"{failures} times: {_reason(error)}")
                    continue
                # The database is away (not the message at fault): wait, never park.
                outage += 1
                log.warning("database_unavailable_retrying", consumer=self.name,
                            attempt=outage, error=type(error).__name__)
                await OUTAGE.wait(outage)
            except DBAPIError as error:
                if error.connection_invalidated:
                    outage += 1
                    await OUTAGE.wait(outage)
                    continue
                return await self._park(delivery, f"database refused it: {_reason(error)}")
            except Exception as error:  # a bug or a domain invariant: park, go on
                # The frames, not log.exception: its message may quote the input
                # (SQL parameters, a validator's words).
                log.error("handler_failed", consumer=self.name,
                          message_id=decoded.message_id, error=_reason(error),
                          stack="".join(traceback.format_tb(error.__traceback__))[-4000:])
                return await self._park(delivery, f"handler failed: {_reason(error)}")

    async def _transaction(self, decoded: Decoded) -> Outcome:
        async with self.db.transaction() as conn:
            if await self._seen(conn, [decoded.message_id]):
                return "duplicate"
            if isinstance(decoded.message, EventMessage):
                try:
                    await _in_stream_order(conn, self.name, decoded.message.envelope)
                except Rejected:
                    # Under READ COMMITTED a second instance (a rebalance) may have
                    # applied this very record between the inbox check and this one:
                    # a duplicate, not a fork (found by the soak).
                    if await self._seen(conn, [decoded.message_id]):
                        return "duplicate"
                    raise
            await self.apply(conn, decoded.message)
            await (await driver(conn)).executemany(_INBOX_INSERT,
                                                   [(self.name, decoded.message_id)])
            crash_point("consumer.before_commit")
        crash_point("consumer.after_commit")  # effects committed, offset not yet acked
        log.info("applied", consumer=self.name, event_id=decoded.message_id,
                 correlation_id=decoded.correlation_id)
        return "applied"

    async def _park(self, delivery: Delivery, reason: str) -> Outcome:
        await self.dead_letters.park(delivery, reason)
        log.warning("dead_lettered", consumer=self.name, topic=delivery.topic,
                    partition=delivery.partition, offset=delivery.offset,
                    reason=reason[:300])
        return "dead-lettered"


async def _in_stream_order(conn: AsyncConnection, consumer: str, e: Envelope) -> None:
    """Events of a stream apply once each and in order: a gap (an earlier event is
    missing) or another event at a version already applied (a fork, or a replay under
    a new id) is refused with the reason. The stream's position is kept with the
    effects (in `projection_streams`, under `consumer:<name>`)."""
    reader = f"consumer:{consumer}"
    last = (await stream_versions(conn, reader, [e.stream_id])).get(e.stream_id)
    _next_in_stream(e, last)
    await save_stream_versions(conn, reader, {e.stream_id: e.stream_version})


def _next_in_stream(e: Envelope, last: int | None) -> None:
    """Refuse an event that is not the next of its stream after `last` applied."""
    if e.stream_version != (last or 0) + 1:
        why = "an earlier event is missing" if e.stream_version > (last or 0) else \
            "that version was already applied (a fork, or a replay under a new id)"
        raise Rejected(f"stream {e.stream_id}: v{e.stream_version} after "
                       f"v{last or 0}: {why}")
