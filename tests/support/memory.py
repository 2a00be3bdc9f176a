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
from shared.envelope import GENESIS_HASH, Envelope, Sealed
from shared.store import ConcurrencyError, EventStore


class InMemoryEvents(EventStore):
    """Streams in a dict; envelopes sealed and chained exactly as the SQL store does."""

    def __init__(self, source: str = "test"):
        super().__init__(source, f"{source}.events")
        self.streams: dict[str, list[Envelope]] = {}

    async def read_stream(self, conn: Any, stream_id: str) -> list[Envelope]:
        return list(self.streams.get(stream_id, []))

    async def read_streams(self, conn: Any, stream_ids: Sequence[str]
                           ) -> dict[str, list[Envelope]]:
        return {s: list(self.streams.get(s, [])) for s in stream_ids}

    async def read_heads(self, conn: Any, stream_ids: Sequence[str]
                         ) -> dict[str, tuple[int, str]]:
        return {s: (len(self.streams[s]), self.streams[s][-1].hash)
                for s in stream_ids if self.streams.get(s)}

    async def _head(self, conn: Any, stream_id: str) -> tuple[int, str]:
        stored = self.streams.get(stream_id, [])
        return len(stored), stored[-1].hash if stored else GENESIS_HASH

    async def write(self, conn: Any, records: Sequence[Sealed]) -> list[Envelope]:
        """All or nothing, like the SQL store's one insert: each event must come right
        after the stream's last (version and hash), or nothing is stored."""
        grown: dict[str, list[Envelope]] = {}
        for record in records:
            e = record.envelope
            stream = grown.setdefault(e.stream_id, list(self.streams.get(e.stream_id, [])))
            head = stream[-1].hash if stream else GENESIS_HASH
            if e.stream_version != len(stream) + 1 or e.prev_hash != head:
                raise ConcurrencyError(e.stream_id, e.stream_version - 1, len(stream))
            stream.append(e)
        self.streams.update(grown)
        return [r.envelope for r in records]

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
