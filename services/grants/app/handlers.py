"""Command handlers of the grants service (지원사업 명령 처리): one shape,
`handler(command, uow)`: load through the unit of work, decide in the domain, record."""
from __future__ import annotations

from typing import Protocol

from shared.application import Handler, UnitOfWork

from ..domain.application import Application, application_stream
from ..domain.errors import InvalidState, UnknownTarget
from ..domain.events import OrganisationEvaluated, PenaltyImposed
from ..domain.grant_round import GrantRound, round_stream
from ..domain.organisation import Organisation, organisation_stream
from ..domain.rules import Candidate, load_rules
from . import commands as c


class RoundApplications(Protocol):
    """Which applications a round holds (SQL in adapters/round_index.py)."""

    async def of_round(self, uow: UnitOfWork, round_id: str) -> list[str]: ...

    async def of_organisation(self, uow: UnitOfWork, round_id: str,
                              organisation_id: str) -> str | None: ...

    async def add(self, uow: UnitOfWork, round_id: str, application_id: str,
                  organisation_id: str) -> None: ...


async def _round(uow: UnitOfWork, round_id: str) -> GrantRound:
    return await uow.existing(GrantRound, round_stream(round_id),
                              UnknownTarget(f"there is no grant round {round_id!r}"))


async def _application(uow: UnitOfWork, application_id: str) -> Application:
    return await uow.existing(Application, application_stream(application_id),
                              UnknownTarget(f"there is no application {application_id!r}"))


async def _organisation(uow: UnitOfWork, organisation_id: str) -> Organisation:
    return await uow.get(Organisation, organisation_stream(organisation_id))


async def _with_award(uow: UnitOfWork, application_id: str):
    app = await _application(uow, application_id)
    grant_round = await _round(uow, app.state.received.round_id)
    return app, grant_round, grant_round.award_of(application_id)


async def open_round(cmd: c.OpenRound, uow: UnitOfWork) -> None:
    try:
        rules = load_rules(cmd.year)
    except FileNotFoundError as missing:
        raise UnknownTarget(str(missing)) from missing
    found = await uow.get(GrantRound, round_stream(rules.round_id))
    uow.record(found, found.open(rules))


async def close_applications(cmd: c.CloseApplications, uow: UnitOfWork) -> None:
    found = await _round(uow, cmd.round_id)
    uow.record(found, found.close_applications())


async def register_organisation(cmd: c.RegisterOrganisation, uow: UnitOfWork) -> None:
    found = await _organisation(uow, cmd.organisation_id)
    uow.record(found, found.register(cmd.organisation_id, cmd.name_ko,
                                     cmd.registered_nonprofit, cmd.funded_before,
                                     cmd.past_evaluation))


def receive_application(index: RoundApplications) -> Handler:
    async def handle(cmd: c.ReceiveApplication, uow: UnitOfWork) -> None:
        rules = (await _round(uow, cmd.round_id)).must_accept()
        org = await _organisation(uow, cmd.organisation_id)
        earlier = await index.of_organisation(uow, cmd.round_id, cmd.organisation_id)
        if earlier and rules.one_project_per_organisation:
            raise InvalidState(f"organisation {cmd.organisation_id} already applied to "
                               f"round {cmd.round_id} ({earlier}): one project per "
                               "organisation")
        app = await uow.get(Application, application_stream(cmd.application_id))
        uow.record(app, app.receive(rules, cmd.application_id, cmd.organisation_id,
                                    cmd.field, cmd.requested_amount,
                                    cmd.self_funding_pledged, cmd.plan_summary,
                                    new_organisation=not org.state.funded_before))
        await index.add(uow, cmd.round_id, cmd.application_id, cmd.organisation_id)
    return handle


def screen_applications(index: RoundApplications) -> Handler:
    async def handle(cmd: c.ScreenApplications, uow: UnitOfWork) -> None:
        rules = (await _round(uow, cmd.round_id)).state.rules
        for application_id in await index.of_round(uow, cmd.round_id):
            app = await _application(uow, application_id)
            org = await _organisation(uow, app.state.received.organisation_id)
            uow.record(app, app.screen(rules, org.exclusion() if org.exists else (
                "not_registered", "the organisation is not on record (미등록)")))
    return handle


async def assign_reviewer(cmd: c.AssignReviewer, uow: UnitOfWork) -> None:
    app = await _application(uow, cmd.application_id)
    uow.record(app, app.assign_reviewer(cmd.reviewer_id))


async def declare_review_conflict(cmd: c.DeclareReviewConflict, uow: UnitOfWork) -> None:
    app = await _application(uow, cmd.application_id)
    uow.record(app, app.declare_conflict(uow.actor.id, cmd.reason))


async def score_application(cmd: c.ScoreApplication, uow: UnitOfWork) -> None:
    app = await _application(uow, cmd.application_id)
    rules = (await _round(uow, app.state.received.round_id)).state.rules
    uow.record(app, app.score(rules, uow.actor.id, dict(cmd.scores)))


def decide_selection(index: RoundApplications) -> Handler:
    async def handle(cmd: c.DecideSelection, uow: UnitOfWork) -> None:
        grant_round = await _round(uow, cmd.round_id)
        candidates, unreviewed = [], []
        for application_id in await index.of_round(uow, cmd.round_id):
            app = await _application(uow, application_id)
            if app.state.excluded:
                continue
            score, r = app.mean_score(), app.state.received
            if score is None:
                unreviewed.append(r.application_id)
            else:
                candidates.append(Candidate(r.application_id, r.field, r.requested_amount,
                                            score, r.new_organisation))
        uow.record(grant_round, grant_round.decide(candidates, unreviewed))
    return handle


async def override_selection(cmd: c.OverrideSelection, uow: UnitOfWork) -> None:
    grant_round = await _round(uow, cmd.round_id)
    app = await _application(uow, cmd.application_id)
    uow.record(grant_round, grant_round.override(
        cmd.application_id, cmd.selected, cmd.award,
        app.state.received.requested_amount, cmd.reason))


async def revise_plan(cmd: c.RevisePlan, uow: UnitOfWork) -> None:
    app, _, award = await _with_award(uow, cmd.application_id)
    uow.record(app, app.revise_plan(award, cmd.revised_summary))


async def make_payment(cmd: c.MakePayment, uow: UnitOfWork) -> None:
    app, _, award = await _with_award(uow, cmd.application_id)
    uow.record(app, app.pay(award, cmd.amount))


async def report_spending(cmd: c.ReportSpending, uow: UnitOfWork) -> None:
    app = await _application(uow, cmd.application_id)
    uow.record(app, app.report_spending(cmd.grant_spent, cmd.self_funding_spent))


async def check_self_funding(cmd: c.CheckSelfFunding, uow: UnitOfWork) -> None:
    app, grant_round, award = await _with_award(uow, cmd.application_id)
    events = app.check_self_funding(grant_round.state.rules, award)
    uow.record(app, events)
    penalty = [e for e in events if isinstance(e, PenaltyImposed)]
    if penalty:  # the penalty counts against the organisation in the next round
        received = app.state.received
        org = await _organisation(uow, received.organisation_id)
        uow.record(org, [OrganisationEvaluated(
            organisation_id=received.organisation_id, round_id=received.round_id,
            evaluation="poor", reason=penalty[0].reason)])


async def close_project(cmd: c.CloseProject, uow: UnitOfWork) -> None:
    app = await _application(uow, cmd.application_id)
    uow.record(app, app.close())


def handlers(index: RoundApplications) -> dict[str, Handler]:
    """The handler table: command type → handler."""
    return {
        "OpenRound": open_round, "CloseApplications": close_applications,
        "RegisterOrganisation": register_organisation,
        "ReceiveApplication": receive_application(index),
        "ScreenApplications": screen_applications(index),
        "AssignReviewer": assign_reviewer, "DeclareReviewConflict": declare_review_conflict,
        "ScoreApplication": score_application, "DecideSelection": decide_selection(index),
        "OverrideSelection": override_selection, "RevisePlan": revise_plan,
        "MakePayment": make_payment, "ReportSpending": report_spending,
        "CheckSelfFunding": check_self_funding, "CloseProject": close_project,
    }
