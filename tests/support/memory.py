"""The application layer without a database: an in-memory event store with the SQL
store's sealing and version check, and helpers to run handlers against it.

    events = InMemoryEvents("grants")
    app = Application(Repository(events, registry), handlers(...), POLICY)
    await run(app, command, principal)          # dispatch + commit, like an edge
    events.types("grant-round-2021")            # what the stream now holds
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.application import Application, UnitOfWork
from shared.auth import Principal
from shared.envelope import GENESIS_HASH, Envelope
from shared.store import ConcurrencyError, EventStore, Metadata, StreamAppend


class InMemoryEvents(EventStore):
    """Streams in a dict; envelopes sealed and chained exactly as the SQL store does."""

    def __init__(self, source: str = "test"):
        super().__init__(source, f"{source}.events")
        self.streams: dict[str, list[Envelope]] = {}

    async def read_stream(self, conn: Any, stream_id: str) -> list[Envelope]:
        return list(self.streams.get(stream_id, []))

    async def append_streams(self, conn: Any, appends: Sequence[StreamAppend],
                             meta: Metadata) -> list[Envelope]:
        """All or nothing, like the SQL store's one insert: every stream is checked
        (version, and the head when the caller knows it) before any is extended."""
        sealed: dict[str, list[Envelope]] = {}
        for stream_id, expected_version, new_events, expected_head in appends:
            if not new_events:
                continue
            stored = self.streams.get(stream_id, [])
            head = stored[-1].hash if stored else GENESIS_HASH
            if len(stored) != expected_version:
                raise ConcurrencyError(stream_id, expected_version, len(stored))
            if expected_head is not None and expected_head != head:
                raise ConcurrencyError(stream_id, expected_version, None)
            sealed[stream_id] = [r.envelope for r in self._seal(
                stream_id, len(stored), head, new_events, meta)]
        for stream_id, envelopes in sealed.items():
            self.streams.setdefault(stream_id, []).extend(envelopes)
        return [e for envelopes in sealed.values() for e in envelopes]

    def types(self, stream_id: str) -> list[str]:
        return [e.event_type for e in self.streams.get(stream_id, [])]

    def all(self) -> list[Envelope]:
        return [e for stream in self.streams.values() for e in stream]


class NoConnection:
    """Stands where a handler would reach SQL: any use fails the test loudly."""

    def __getattr__(self, name: str):
        raise AssertionError(f"a handler touched the database ({name}) in a test "
                             "without one")


async def run(app: Application, command: Any, principal: Principal,
              correlation_id: str = "test", conn: Any = None) -> list[Envelope]:
    """Dispatch one command in a fresh unit of work and commit it, as an edge does;
    a refusal propagates and nothing is appended."""
    uow = app.unit_of_work(conn if conn is not None else NoConnection(), principal,
                           correlation_id)
    await app.dispatch(command, uow)
    return await uow.commit()


def unit_of_work(app: Application, principal: Principal, conn: Any = None) -> UnitOfWork:
    return app.unit_of_work(conn if conn is not None else NoConnection(), principal, "test")


def application_of(handlers: dict, policy: Any, source: str = "test") -> Application:
    """An Application over a fresh in-memory store, for edge tests whose handlers
    record what they saw rather than events."""
    from shared.application import Repository  # noqa: PLC0415
    from shared.registry import EventRegistry  # noqa: PLC0415
    return Application(Repository(InMemoryEvents(source), EventRegistry()), handlers,
                       policy)
