"""Command handlers for people: experts, the panel, the office, institutions."""
from __future__ import annotations

from shared.envelope import Actor, Envelope
from shared.store import Metadata

from ..domain.errors import UnknownTarget
from ..domain.scorecard import Scorecard, scorecard_stream
from . import commands as c
from . import facts_store as facts
from .scoring import ScoringApp


class ScoringHandlers:
    def __init__(self, app: ScoringApp):
        self.app = app

    async def execute(self, conn, command, actor: Actor, correlation_id: str) -> list[Envelope]:
        meta = Metadata(actor=actor, correlation_id=correlation_id)
        return await getattr(self, f"_{command.command_type}")(conn, command, actor, meta)

    async def _card(self, conn, command) -> tuple:
        await self.app.lock_cycle(conn, command.year)
        cycle = await self.app.cycle(conn, command.year)
        cycle.must_be_changeable()
        card, _ = await self.app.load(conn, Scorecard, scorecard_stream(
            command.year, command.institution_id))
        if not card.state.computed:
            raise UnknownTarget(f"no scorecard for {command.institution_id} in {command.year}")
        return cycle, card

    @staticmethod
    def _indicator(cycle, indicator_id: str) -> dict:
        for indicator in cycle.state.rulebook["indicators"]:
            if indicator["id"] == indicator_id:
                return indicator
        raise UnknownTarget(f"indicator {indicator_id!r} is not in {cycle.state.rulebook_ref}")

    @staticmethod
    def _expert_indicators(cycle) -> list[str]:
        methods = cycle.state.rulebook["scoring"]["methods"]
        return [i for i, m in methods.items() if m == "experts"]

    async def _then(self, conn, command, card, events, meta) -> list[Envelope]:
        appended = await self.app.append(conn, card, events, meta)
        await facts.sync_indexes(conn, str(command.year), command.institution_id, card)
        return appended

    async def _AssignExpert(self, conn, cmd: c.AssignExpert, actor, meta):
        cycle, card = await self._card(conn, cmd)
        self._indicator(cycle, cmd.indicator_id)
        return await self._then(conn, cmd, card, card.assign_expert(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, cmd.expert_id,
            self._expert_indicators(cycle)), meta)

    async def _DeclareConflict(self, conn, cmd: c.DeclareConflict, actor, meta):
        _, card = await self._card(conn, cmd)
        done = await self._then(conn, cmd, card, card.declare_conflict(
            str(cmd.year), cmd.institution_id, actor.id, cmd.reason), meta)
        return done + await self.app.rescore(conn, str(cmd.year), cmd.institution_id, meta)

    async def _GiveExpertScore(self, conn, cmd: c.GiveExpertScore, actor, meta):
        cycle, card = await self._card(conn, cmd)
        indicator = self._indicator(cycle, cmd.indicator_id)
        done = await self._then(conn, cmd, card, card.give_expert_score(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, actor.id, cmd.points,
            cmd.comment, indicator["max_points"]), meta)
        return done + await self.app.rescore(conn, str(cmd.year), cmd.institution_id, meta)

    async def _AdjustScore(self, conn, cmd: c.AdjustScore, actor, meta):
        cycle, card = await self._card(conn, cmd)
        indicator = self._indicator(cycle, cmd.indicator_id)
        return await self._then(conn, cmd, card, card.adjust(
            str(cmd.year), cmd.institution_id, cmd.indicator_id, cmd.to_points, cmd.reason,
            indicator["max_points"], actor.id), meta)

    async def _FileAppeal(self, conn, cmd: c.FileAppeal, actor, meta):
        cycle, card = await self._card(conn, cmd)
        return await self._then(conn, cmd, card, card.file_appeal(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, cmd.indicator_id, cmd.grounds,
            cycle.appeals_open(self.app.clock())), meta)

    async def _AssignAppealReviewer(self, conn, cmd: c.AssignAppealReviewer, actor, meta):
        _, card = await self._card(conn, cmd)
        return await self._then(conn, cmd, card, card.assign_reviewer(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, cmd.reviewer_id), meta)

    async def _DecideAppeal(self, conn, cmd: c.DecideAppeal, actor, meta):
        cycle, card = await self._card(conn, cmd)
        appeal = card.state.appeals.get(cmd.appeal_id)
        indicator = self._indicator(cycle, appeal.indicator_id) if appeal else {"max_points": 0}
        return await self._then(conn, cmd, card, card.decide_appeal(
            str(cmd.year), cmd.institution_id, cmd.appeal_id, actor.id, cmd.upheld,
            cmd.to_points, cmd.reason, indicator["max_points"]), meta)

    async def _PublishProvisionalResults(self, conn, cmd: c.PublishProvisionalResults,
                                         actor, meta):
        cycle = await self.app.cycle(conn, cmd.year)
        ranking = await self.app.ranking(conn, str(cmd.year))
        return await self.app.append(conn, cycle, cycle.publish_provisional(
            cmd.appeals_until, ranking, self.app.clock()), meta)

    async def _SignOff(self, conn, cmd: c.SignOff, actor, meta):
        await self.app.lock_cycle(conn, cmd.year, exclusive=True)
        cycle = await self.app.cycle(conn, cmd.year)
        year = str(cmd.year)
        ranking = await self.app.ranking(conn, year)
        return await self.app.append(conn, cycle, cycle.sign_off(
            ranking, await facts.count(conn, facts.open_appeals, year),
            await facts.count(conn, facts.pending_scores, year), self.app.clock()), meta)

    async def _ReopenScoring(self, conn, cmd: c.ReopenScoring, actor, meta):
        await self.app.lock_cycle(conn, cmd.year, exclusive=True)
        cycle = await self.app.cycle(conn, cmd.year)
        done = await self.app.append(conn, cycle, cycle.reopen(cmd.reason), meta)
        for institution_id in await facts.institution_ids(conn):
            done += await self.app.rescore(conn, str(cmd.year), institution_id, meta)
        return done
