"""The scoring application: load aggregates, rescore from facts, rank.

Rescoring is deterministic: the same facts under the same rulebook give the same
ScoreComputed events, and only a changed score is recorded again.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import Actor, Envelope
from shared.ids import utcnow
from shared.store import EventStore, Metadata

from ..domain.cycle import ScoringCycle, scoring_stream
from ..domain.errors import InvalidState
from ..domain.events import ExpertScoreGiven, registry
from ..domain.rules import score_institution
from ..domain.scorecard import Scorecard, scorecard_stream
from . import facts_store as facts

SYSTEM = Actor(id="scoring-service", role="system", kind="system")


class ScoringApp:
    def __init__(self, store: EventStore, clock: Callable[[], datetime] = utcnow):
        self.store, self.clock = store, clock

    async def load(self, conn: AsyncConnection, kind, stream: str):
        envelopes = await self.store.read_stream(conn, stream)
        aggregate = kind(stream, [registry.decode(e.event_type, e.schema_version, e.payload)
                                  for e in envelopes])
        return aggregate, envelopes

    async def cycle(self, conn, year: int | str) -> ScoringCycle:
        found, _ = await self.load(conn, ScoringCycle, scoring_stream(year))
        if not found.exists:
            raise InvalidState(f"scoring has not been opened for {year}")
        return found

    async def append(self, conn, aggregate, events: list, meta: Metadata) -> list[Envelope]:
        if not events:
            return []
        appended = await self.store.append(conn, aggregate.stream_id, aggregate.version,
                                           events, meta)
        for event in events:  # keep the in-memory aggregate in step
            aggregate.state = aggregate.evolve(aggregate.state, event)
            aggregate.version += 1
        return appended

    @staticmethod
    async def lock_cycle(conn, year: int | str, exclusive: bool = False) -> None:
        """Scorecard changes (shared) and the sign-off or reopening (exclusive) of one
        cycle exclude each other: a change racing the sign-off either lands before it
        (and is in the signed-off ranking) or sees it and is refused. They touch no
        common stream, so on PostgreSQL they queue on this lock until the commit;
        SQLite's BEGIN IMMEDIATE already queues every writer."""
        if conn.dialect.name == "postgresql":
            how = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            await conn.execute(text(f"SELECT {how}(hashtext(:key))"),
                               {"key": f"scoring-cycle:{year}"})

    async def rescore(self, conn, cycle_id: str, institution_id: str,
                      meta: Metadata) -> list[Envelope]:
        """Recompute one scorecard from current facts; record what changed."""
        await self.lock_cycle(conn, cycle_id)
        cycle, _ = await self.load(conn, ScoringCycle, scoring_stream(cycle_id))
        if not cycle.exists or cycle.state.signed_off:
            return []  # after sign-off only a logged reopen lets scores move
        card, envelopes = await self.load(conn, Scorecard,
                                          scorecard_stream(cycle_id, institution_id))
        known = await facts.facts_for(conn, cycle_id, institution_id, cycle.state.rulebook,
                                      card, expert_event_ids(envelopes))
        if known is None:
            return []
        scores = score_institution(cycle.state.rulebook, known)
        appended = await self.append(conn, card, card.record(
            cycle_id, institution_id, scores, cycle.state.rulebook_ref), meta)
        await facts.sync_indexes(conn, cycle_id, institution_id, card)
        return appended

    async def rescore_everywhere(self, conn, institution_id: str, meta: Metadata) -> None:
        for cycle in await facts.cycles(conn):
            await self.rescore(conn, cycle.cycle_id, institution_id, meta)

    async def ranking(self, conn, cycle_id: str) -> list[dict]:
        """Totals of every scorecard, highest first; equal totals share a rank."""
        rows = []
        for institution_id in await facts.institution_ids(conn):
            card, _ = await self.load(conn, Scorecard, scorecard_stream(cycle_id,
                                                                        institution_id))
            if card.state.computed:
                rows.append({"institution_id": institution_id, "total": card.total(),
                             "scores": {i: str(card.effective(i))
                                        for i in sorted(card.state.computed)}})
        return rank(rows)


def rank(rows: list[dict]) -> list[dict]:
    ordered = sorted(rows, key=lambda r: (-r["total"], r["institution_id"]))
    ranked, previous = [], None
    for position, row in enumerate(ordered, start=1):
        place = ranked[-1]["rank"] if previous == row["total"] else position
        ranked.append({**row, "total": str(Decimal(row["total"])), "rank": place})
        previous = row["total"]
    return ranked


def expert_event_ids(envelopes: list[Envelope]) -> dict[str, dict[str, str]]:
    """indicator -> expert -> id of the event that gave the expert's current score."""
    found: dict[str, dict[str, str]] = {}
    for e in envelopes:
        if e.event_type == ExpertScoreGiven.event_type:
            found.setdefault(e.payload["indicator_id"], {})[e.payload["expert_id"]] = e.event_id
    return found
