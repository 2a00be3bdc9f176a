"""The scoring application (채점 응용): the facts port, rescoring, ranking, and the
Application that runs both commands (handlers.py) and reactions to other services'
facts (policies.py).

Rescoring is deterministic: the same facts under the same rulebook give the same
ScoreComputed events, and only a changed score is recorded again. Every score names
the ids of the events it was computed from; an expert score or an HR headcount
recorded earlier in the same unit of work is therefore flushed (appended within the
transaction) before a score can name it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol

from shared.application import UnitOfWork
from shared.auth import Principal
from shared.envelope import Envelope

from ..domain.cycle import ScoringCycle, scoring_stream
from ..domain.events import ExpertScoreGiven
from ..domain.facts import InstitutionFacts
from ..domain.rules import score_institution
from ..domain.scorecard import Scorecard, scorecard_stream

# Who reacts to other services' facts (the actor of what scoring records then).
SYSTEM = Principal("scoring-service", "system", kind="system")


def city_system(source: str) -> Principal:
    """An external city system (HR, the education platform) as the actor of its facts."""
    return Principal(source, "city_system", kind="system")


class Facts(Protocol):
    """What other services and systems told scoring, and the cross-scorecard indexes
    sign-off checks: write-side tables beside the events (SQL in
    adapters/facts_store.py), so a score is recomputed in the transaction that
    learned a new fact."""

    # -- told by submission, committee, HR and the education platform ------------------
    async def set_cycle(self, uow: UnitOfWork, cycle_id: str, year: int,
                        rulebook: dict) -> None: ...

    async def set_rulebook(self, uow: UnitOfWork, cycle_id: str, rulebook: dict) -> None: ...

    async def register_institution(self, uow: UnitOfWork, institution_id: str,
                                   kind: str) -> None: ...

    async def treat_as_field_office(self, uow: UnitOfWork, institution_id: str,
                                    treated: bool) -> None: ...

    async def set_report(self, uow: UnitOfWork, cycle_id: str, institution_id: str,
                         results: dict, event_id: str) -> None: ...

    async def mark_not_applicable(self, uow: UnitOfWork, cycle_id: str,
                                  institution_id: str, indicator_id: str,
                                  event_id: str) -> None: ...

    async def withdraw_report(self, uow: UnitOfWork, cycle_id: str,
                              institution_id: str) -> None: ...

    async def set_headcount(self, uow: UnitOfWork, institution_id: str, headcount: int,
                            event_id: str) -> None: ...

    async def add_completion(self, uow: UnitOfWork, institution_id: str, learner_ref: str,
                             course_id: str, event_id: str) -> None: ...

    async def set_meeting(self, uow: UnitOfWork, meeting_id: str, institution_id: str,
                          committee_id: str, held_on: str, event_id: str) -> None: ...

    # -- read back --------------------------------------------------------------------
    async def cycle_ids(self, uow: UnitOfWork) -> list[str]: ...

    async def institution_ids(self, uow: UnitOfWork) -> list[str]: ...

    async def known(self, uow: UnitOfWork, cycle_id: str, institution_id: str,
                    courses: Sequence[str]) -> InstitutionFacts | None:
        """The institution's facts (no expert scores: those are on its scorecard);
        None for an institution scoring was never told of."""

    # -- the cycle's lock and the sign-off indexes --------------------------------------
    async def lock_cycle(self, uow: UnitOfWork, year: int | str,
                         exclusive: bool = False) -> None:
        """Scorecard changes (shared) and the sign-off or reopening (exclusive) of one
        cycle exclude each other: a change racing the sign-off either lands before it
        (and is in the signed-off ranking) or sees it and is refused."""

    async def sync_indexes(self, uow: UnitOfWork, cycle_id: str, institution_id: str,
                           open_appeal_ids: Sequence[str], pending: Sequence[str]) -> None: ...

    async def open_appeals(self, uow: UnitOfWork, cycle_id: str) -> int: ...

    async def pending_scores(self, uow: UnitOfWork, cycle_id: str) -> int: ...


async def sync_indexes(facts: Facts, uow: UnitOfWork, cycle_id: str,
                       institution_id: str) -> None:
    """Keep the indexes sign-off reads in step with the card as now recorded."""
    card = await uow.get(Scorecard, scorecard_stream(cycle_id, institution_id))
    await facts.sync_indexes(uow, cycle_id, institution_id, card.open_appeals(),
                             card.pending())


async def rescore(facts: Facts, uow: UnitOfWork, cycle_id: str, institution_id: str) -> None:
    """Recompute one scorecard from current facts; record what changed."""
    await facts.lock_cycle(uow, cycle_id)
    cycle = await uow.get(ScoringCycle, scoring_stream(cycle_id))
    if not cycle.exists or cycle.state.signed_off:
        return  # after sign-off only a logged reopen lets scores move
    rulebook = cycle.state.rulebook
    courses = [c for i in rulebook["indicators"] for c in i.get("online_courses", {})]
    known = await facts.known(uow, cycle_id, institution_id, courses)
    if known is None:
        return
    card = await uow.get(Scorecard, scorecard_stream(cycle_id, institution_id))
    event_ids: dict = {}
    if card.state.expert_scores:  # name the events that gave them: stored ones
        await uow.flush()  # the card's events get ids a score can name
        event_ids = expert_event_ids(uow.envelopes(card.stream_id))
    scores, events = expert_inputs(card, event_ids)
    known = replace(known, expert_scores=scores, expert_score_events=events)
    uow.record(card, card.record(cycle_id, institution_id,
                                 score_institution(rulebook, known), cycle.state.rulebook_ref))
    await sync_indexes(facts, uow, cycle_id, institution_id)


async def rescore_institution(facts: Facts, uow: UnitOfWork, institution_id: str) -> None:
    for cycle_id in await facts.cycle_ids(uow):
        await rescore(facts, uow, cycle_id, institution_id)


async def rescore_cycle(facts: Facts, uow: UnitOfWork, cycle_id: str) -> None:
    for institution_id in await facts.institution_ids(uow):
        await rescore(facts, uow, cycle_id, institution_id)


async def ranking(facts: Facts, uow: UnitOfWork, cycle_id: str) -> list[dict]:
    """Totals of every scorecard, highest first; equal totals share a rank."""
    rows = []
    for institution_id in await facts.institution_ids(uow):
        card = await uow.get(Scorecard, scorecard_stream(cycle_id, institution_id))
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


def expert_event_ids(envelopes: Sequence[Envelope]) -> dict[str, dict[str, str]]:
    """indicator -> expert -> id of the event that gave the expert's current score."""
    found: dict[str, dict[str, str]] = {}
    for e in envelopes:
        if e.event_type == ExpertScoreGiven.event_type:
            found.setdefault(e.payload["indicator_id"], {})[e.payload["expert_id"]] = e.event_id
    return found


def expert_inputs(card: Scorecard, event_ids: dict) -> tuple[dict, dict]:
    """Scores of unconflicted experts, in expert order (deterministic), with the ids
    of the events that gave them (`event_ids`: indicator -> expert -> event id)."""
    scores, events = {}, {}
    for indicator, by_expert in card.state.expert_scores.items():
        kept = sorted(e for e in by_expert if e not in card.state.conflicted)
        scores[indicator] = tuple(Decimal(by_expert[e]) for e in kept)
        events[indicator] = tuple(event_ids.get(indicator, {}).get(e, "") for e in kept)
    return scores, events
