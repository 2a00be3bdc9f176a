"""Command handlers of the grants service: load, decide in the domain, append."""
from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, insert, select, text

from shared.envelope import Actor, Envelope
from shared.store import EventStore, Metadata

from ..domain.application import Application, application_stream
from ..domain.errors import GrantRefused, InvalidState, UnknownTarget
from ..domain.events import OrganisationEvaluated, PenaltyImposed, registry
from ..domain.grant_round import GrantRound, round_stream
from ..domain.organisation import Organisation, organisation_stream
from ..domain.rules import Candidate, load_rules
from . import commands as c

write_side = MetaData()
# Which applications a round holds; one per organisation (the round's rule).
round_applications = Table(
    "round_applications", write_side,
    Column("round_id", String(20), primary_key=True),
    Column("application_id", String(100), primary_key=True),
    Column("organisation_id", String(100), nullable=False))


class GrantsHandlers:
    def __init__(self, store: EventStore):
        self.store = store

    async def execute(self, conn, command, actor: Actor, correlation_id: str,
                      causation_id: str | None = None) -> list[Envelope]:
        meta = Metadata(actor=actor, correlation_id=correlation_id, causation_id=causation_id)
        done: list[Envelope] = []
        for aggregate, events in await getattr(self, f"_{command.command_type}")(
                conn, command, actor):
            if events:
                done += await self.store.append(conn, aggregate.stream_id, aggregate.version,
                                                events, meta)
        return done

    async def _load(self, conn, kind, stream: str):
        envelopes = await self.store.read_stream(conn, stream)
        return kind(stream, [registry.decode(e.event_type, e.schema_version, e.payload)
                             for e in envelopes])

    async def _round(self, conn, round_id: str) -> GrantRound:
        found = await self._load(conn, GrantRound, round_stream(round_id))
        if not found.exists:
            raise UnknownTarget(f"there is no grant round {round_id!r}")
        return found

    async def _application(self, conn, application_id: str) -> Application:
        found = await self._load(conn, Application, application_stream(application_id))
        if not found.exists:
            raise UnknownTarget(f"there is no application {application_id!r}")
        return found

    async def _applications(self, conn, round_id: str) -> list[Application]:
        ids = (await conn.execute(select(round_applications.c.application_id).where(
            round_applications.c.round_id == round_id).order_by(
            round_applications.c.application_id))).scalars().all()
        return [await self._application(conn, i) for i in ids]

    async def _OpenRound(self, conn, cmd: c.OpenRound, actor):
        try:
            rules = load_rules(cmd.year)
        except FileNotFoundError as missing:
            raise UnknownTarget(str(missing)) from missing
        found = await self._load(conn, GrantRound, round_stream(rules.round_id))
        return [(found, found.open(rules))]

    async def _CloseApplications(self, conn, cmd: c.CloseApplications, actor):
        found = await self._round(conn, cmd.round_id)
        return [(found, found.close_applications())]

    async def _RegisterOrganisation(self, conn, cmd: c.RegisterOrganisation, actor):
        found = await self._load(conn, Organisation, organisation_stream(cmd.organisation_id))
        return [(found, found.register(cmd.organisation_id, cmd.name_ko,
                                       cmd.registered_nonprofit, cmd.funded_before,
                                       cmd.past_evaluation))]

    async def _ReceiveApplication(self, conn, cmd: c.ReceiveApplication, actor):
        rules = (await self._round(conn, cmd.round_id)).must_accept()
        org = await self._load(conn, Organisation, organisation_stream(cmd.organisation_id))
        if conn.dialect.name == "postgresql":
            # Two intakes of one organisation touch no common stream: they queue here
            # so the second sees the first's row (SQLite's BEGIN IMMEDIATE queues all).
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {
                "key": f"grants-intake:{cmd.round_id}:{cmd.organisation_id}"})
        earlier = (await conn.execute(select(round_applications.c.application_id).where(
            round_applications.c.round_id == cmd.round_id,
            round_applications.c.organisation_id == cmd.organisation_id))).scalar()
        if earlier and rules.one_project_per_organisation:
            raise InvalidState(f"organisation {cmd.organisation_id} already applied to round "
                               f"{cmd.round_id} ({earlier}): one project per organisation")
        app = await self._load(conn, Application, application_stream(cmd.application_id))
        events = app.receive(rules, cmd.application_id, cmd.organisation_id, cmd.field,
                             cmd.requested_amount, cmd.self_funding_pledged,
                             cmd.plan_summary, new_organisation=not org.state.funded_before)
        await conn.execute(insert(round_applications).values(
            round_id=cmd.round_id, application_id=cmd.application_id,
            organisation_id=cmd.organisation_id))
        return [(app, events)]

    async def _ScreenApplications(self, conn, cmd: c.ScreenApplications, actor):
        rules = (await self._round(conn, cmd.round_id)).state.rules
        out = []
        for app in await self._applications(conn, cmd.round_id):
            org = await self._load(conn, Organisation, organisation_stream(
                app.state.received.organisation_id))
            out.append((app, app.screen(rules, org.exclusion() if org.exists else (
                "not_registered", "the organisation is not on record (미등록)"))))
        return out

    async def _AssignReviewer(self, conn, cmd: c.AssignReviewer, actor):
        app = await self._application(conn, cmd.application_id)
        return [(app, app.assign_reviewer(cmd.reviewer_id))]

    async def _DeclareReviewConflict(self, conn, cmd: c.DeclareReviewConflict, actor):
        app = await self._application(conn, cmd.application_id)
        return [(app, app.declare_conflict(actor.id, cmd.reason))]

    async def _ScoreApplication(self, conn, cmd: c.ScoreApplication, actor):
        app = await self._application(conn, cmd.application_id)
        rules = (await self._round(conn, app.state.received.round_id)).state.rules
        return [(app, app.score(rules, actor.id, dict(cmd.scores)))]

    async def _DecideSelection(self, conn, cmd: c.DecideSelection, actor):
        grant_round = await self._round(conn, cmd.round_id)
        candidates, unreviewed = [], []
        for app in await self._applications(conn, cmd.round_id):
            if app.state.excluded:
                continue
            score, r = app.mean_score(), app.state.received
            if score is None:
                unreviewed.append(r.application_id)
            else:
                candidates.append(Candidate(r.application_id, r.field, r.requested_amount,
                                            score, r.new_organisation))
        return [(grant_round, grant_round.decide(candidates, unreviewed))]

    async def _OverrideSelection(self, conn, cmd: c.OverrideSelection, actor):
        grant_round = await self._round(conn, cmd.round_id)
        app = await self._application(conn, cmd.application_id)
        return [(grant_round, grant_round.override(
            cmd.application_id, cmd.selected, cmd.award,
            app.state.received.requested_amount, cmd.reason))]

    async def _with_award(self, conn, application_id: str):
        app = await self._application(conn, application_id)
        grant_round = await self._round(conn, app.state.received.round_id)
        return app, grant_round, grant_round.award_of(application_id)

    async def _RevisePlan(self, conn, cmd: c.RevisePlan, actor):
        app, _, award = await self._with_award(conn, cmd.application_id)
        return [(app, app.revise_plan(award, cmd.revised_summary))]

    async def _MakePayment(self, conn, cmd: c.MakePayment, actor):
        app, _, award = await self._with_award(conn, cmd.application_id)
        return [(app, app.pay(award, cmd.amount))]

    async def _ReportSpending(self, conn, cmd: c.ReportSpending, actor):
        app = await self._application(conn, cmd.application_id)
        return [(app, app.report_spending(cmd.grant_spent, cmd.self_funding_spent))]

    async def _CheckSelfFunding(self, conn, cmd: c.CheckSelfFunding, actor):
        app, grant_round, award = await self._with_award(conn, cmd.application_id)
        events = app.check_self_funding(grant_round.state.rules, award)
        out = [(app, events)]
        penalty = [e for e in events if isinstance(e, PenaltyImposed)]
        if penalty:  # the penalty counts against the organisation in the next round
            org = await self._load(conn, Organisation, organisation_stream(
                app.state.received.organisation_id))
            out.append((org, [OrganisationEvaluated(
                organisation_id=app.state.received.organisation_id,
                round_id=app.state.received.round_id, evaluation="poor",
                reason=penalty[0].reason)]))
        return out

    async def _CloseProject(self, conn, cmd: c.CloseProject, actor):
        app = await self._application(conn, cmd.application_id)
        return [(app, app.close())]


__all__ = ["GrantRefused", "GrantsHandlers", "write_side"]
