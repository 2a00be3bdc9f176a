"""Command handlers of scoring (채점 명령 처리) for people: experts, the panel, the
office, institutions. One shape, `handler(command, uow)`: load through the unit of
work, decide in the domain, record; rescore where a change moves a score."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.application import Handler, UnitOfWork
from shared.ids import utcnow

from ..domain.cycle import ScoringCycle, scoring_stream
from ..domain.errors import InvalidState, UnknownTarget
from ..domain.scorecard import Scorecard, scorecard_stream
from . import commands as c
from .scoring import Facts, ranking, rescore, rescore_cycle, sync_indexes

Clock = Callable[[], datetime]


async def _card(facts: Facts, uow: UnitOfWork, cmd) -> tuple[ScoringCycle, Scorecard]:
    """The cycle (open to change) and the institution's computed scorecard."""
    await facts.lock_cycle(uow, cmd.year)
    cycle = await _cycle(uow, cmd.year)
    cycle.must_be_changeable()
    card = await uow.get(Scorecard, scorecard_stream(cmd.year, cmd.institution_id))
    if not card.state.computed:
        raise UnknownTarget(f"no scorecard for {cmd.institution_id} in {cmd.year}")
    return cycle, card


async def _cycle(uow: UnitOfWork, year: int) -> ScoringCycle:
    return await uow.existing(ScoringCycle, scoring_stream(year),
                              InvalidState(f"scoring has not been opened for {year}"))


def _indicator(cycle: ScoringCycle, indicator_id: str) -> dict:
    for indicator in cycle.state.rulebook["indicators"]:
        if indicator["id"] == indicator_id:
            return indicator
    raise UnknownTarget(f"indicator {indicator_id!r} is not in {cycle.state.rulebook_ref}")


def _expert_indicators(cycle: ScoringCycle) -> list[str]:
    methods = cycle.state.rulebook["scoring"]["methods"]
    return [i for i, m in methods.items() if m == "experts"]


async def _then(facts: Facts, uow: UnitOfWork, cmd, card: Scorecard, events: list) -> None:
    uow.record(card, events)
    await sync_indexes(facts, uow, str(cmd.year), cmd.institution_id)


def handlers(facts: Facts, clock: Clock = utcnow) -> dict[str, Handler]:
    """The handler table: command type → handler, bound to the facts port and clock."""

    async def assign_expert(cmd: c.AssignExpert, uow: UnitOfWork) -> None:
        cycle, card = await _card(facts, uow, cmd)
        _indicator(cycle, cmd.indicator_id)
        await _then(facts, uow, cmd, card, card.assign_expert(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, cmd.expert_id,
            _expert_indicators(cycle)))

    async def declare_conflict(cmd: c.DeclareConflict, uow: UnitOfWork) -> None:
        _, card = await _card(facts, uow, cmd)
        await _then(facts, uow, cmd, card, card.declare_conflict(
            str(cmd.year), cmd.institution_id, uow.actor.id, cmd.reason))
        await rescore(facts, uow, str(cmd.year), cmd.institution_id)

    async def give_expert_score(cmd: c.GiveExpertScore, uow: UnitOfWork) -> None:
        cycle, card = await _card(facts, uow, cmd)
        indicator = _indicator(cycle, cmd.indicator_id)
        await _then(facts, uow, cmd, card, card.give_expert_score(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, uow.actor.id, cmd.points,
            cmd.comment, indicator["max_points"]))
        await rescore(facts, uow, str(cmd.year), cmd.institution_id)

    async def adjust_score(cmd: c.AdjustScore, uow: UnitOfWork) -> None:
        cycle, card = await _card(facts, uow, cmd)
        indicator = _indicator(cycle, cmd.indicator_id)
        await _then(facts, uow, cmd, card, card.adjust(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, cmd.to_points, cmd.reason,
            indicator["max_points"], uow.actor.id))

    async def file_appeal(cmd: c.FileAppeal, uow: UnitOfWork) -> None:
        cycle, card = await _card(facts, uow, cmd)
        await _then(facts, uow, cmd, card, card.file_appeal(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, cmd.indicator_id, cmd.grounds,
            cycle.appeals_open(clock())))

    async def assign_appeal_reviewer(cmd: c.AssignAppealReviewer, uow: UnitOfWork) -> None:
        _, card = await _card(facts, uow, cmd)
        await _then(facts, uow, cmd, card, card.assign_reviewer(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, cmd.reviewer_id))

    async def decide_appeal(cmd: c.DecideAppeal, uow: UnitOfWork) -> None:
        cycle, card = await _card(facts, uow, cmd)
        appeal = card.state.appeals.get(cmd.appeal_id)
        indicator = _indicator(cycle, appeal.indicator_id) if appeal else {"max_points": 0}
        await _then(facts, uow, cmd, card, card.decide_appeal(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, uow.actor.id, cmd.upheld,
            cmd.to_points, cmd.reason, indicator["max_points"]))

    async def publish_provisional_results(cmd: c.PublishProvisionalResults,
                                          uow: UnitOfWork) -> None:
        cycle = await _cycle(uow, cmd.year)
        uow.record(cycle, cycle.publish_provisional(
            cmd.appeals_until, await ranking(facts, uow, str(cmd.year)), clock()))

    async def sign_off(cmd: c.SignOff, uow: UnitOfWork) -> None:
        await facts.lock_cycle(uow, cmd.year, exclusive=True)
        cycle, year = await _cycle(uow, cmd.year), str(cmd.year)
        uow.record(cycle, cycle.sign_off(
            await ranking(facts, uow, year), await facts.open_appeals(uow, year),
            await facts.pending_scores(uow, year), clock()))

    async def reopen_scoring(cmd: c.ReopenScoring, uow: UnitOfWork) -> None:
        await facts.lock_cycle(uow, cmd.year, exclusive=True)
        cycle = await _cycle(uow, cmd.year)
        uow.record(cycle, cycle.reopen(cmd.reason))
        await rescore_cycle(facts, uow, str(cmd.year))

    return {
        "AssignExpert": assign_expert, "DeclareConflict": declare_conflict,
        "GiveExpertScore": give_expert_score, "AdjustScore": adjust_score,
        "FileAppeal": file_appeal, "AssignAppealReviewer": assign_appeal_reviewer,
        "DecideAppeal": decide_appeal,
        "PublishProvisionalResults": publish_provisional_results,
        "SignOff": sign_off, "ReopenScoring": reopen_scoring,
    }
