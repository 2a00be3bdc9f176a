"""Every grants command through the one dispatch, on an in-memory store and an
in-memory round index: no database. A small round walks from opening to a
penalty; refusals store nothing."""
from __future__ import annotations

import typing

import pytest

from services.grants.adapters.access import POLICY
from services.grants.app import commands as c
from services.grants.app.handlers import handlers
from services.grants.domain.errors import Conflicted, InvalidState, RoundClosed, UnknownTarget
from services.grants.domain.events import registry
from shared.application import Application, Repository
from shared.auth import Principal
from tests.support.memory import InMemoryEvents, run

OFFICER = Principal("officer-1", "grants_officer")
REVIEWER = Principal("reviewer-1", "grant_reviewer")
OTHER_REVIEWER = Principal("reviewer-2", "grant_reviewer")
FULL_MARKS = {"public_benefit": 30, "feasibility": 25, "budget_plan": 20, "capacity": 15,
              "partnership": 10}


class MemoryRoundApplications:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []

    async def of_round(self, uow, round_id):
        return sorted(a for r, a, _ in self.rows if r == round_id)

    async def of_organisation(self, uow, round_id, organisation_id):
        return next((a for r, a, o in self.rows if (r, o) == (round_id, organisation_id)),
                    None)

    async def add(self, uow, round_id, application_id, organisation_id):
        self.rows.append((round_id, application_id, organisation_id))


@pytest.fixture
def events():
    return InMemoryEvents("grants")


@pytest.fixture
def app(events):
    return Application(Repository(events, registry), handlers(MemoryRoundApplications()),
                       POLICY)


def test_the_handler_table_covers_every_command_type():
    union = typing.get_args(typing.get_args(c.Command)[0])
    types = {model.model_fields["command_type"].default for model in union}
    assert types == set(handlers(MemoryRoundApplications()))


async def _received(app, application_id="a-1", organisation="org-1", requested=20_000_000):
    await run(app, c.RegisterOrganisation(organisation_id=organisation, name_ko="단체",
                                          registered_nonprofit=True, funded_before=False),
              OFFICER)
    await run(app, c.ReceiveApplication(
        round_id="2021", application_id=application_id, organisation_id=organisation,
        field="community", requested_amount=requested, self_funding_pledged=2_000_000,
        plan_summary="마을 공동체 활동"), OFFICER)


async def test_a_round_from_opening_to_a_penalty(app, events):
    await run(app, c.OpenRound(year=2021), OFFICER)
    await _received(app)
    await run(app, c.CloseApplications(round_id="2021"), OFFICER)
    await run(app, c.ScreenApplications(round_id="2021"), OFFICER)
    await run(app, c.AssignReviewer(application_id="a-1", reviewer_id="reviewer-1"), OFFICER)
    await run(app, c.ScoreApplication(application_id="a-1", scores=FULL_MARKS), REVIEWER)
    await run(app, c.DecideSelection(round_id="2021"), OFFICER)
    await run(app, c.MakePayment(application_id="a-1", amount=20_000_000), OFFICER)
    await run(app, c.ReportSpending(application_id="a-1", grant_spent=20_000_000,
                                    self_funding_spent=0), OFFICER)
    await run(app, c.CheckSelfFunding(application_id="a-1"), OFFICER)
    await run(app, c.CloseProject(application_id="a-1"), OFFICER)
    kinds = events.types("application-a-1")
    assert kinds[0] == "grants.ApplicationReceived" and "grants.PenaltyImposed" in kinds
    assert kinds[-1] == "grants.ProjectClosed"
    # the penalty counts against the organisation: recorded on its own stream
    assert events.types("organisation-org-1")[-1] == "grants.OrganisationEvaluated"
    assert all(e.actor.id in {"officer-1", "reviewer-1"} for e in events.all())


async def test_an_override_and_a_plan_revision_after_selection(app, events):
    await run(app, c.OpenRound(year=2021), OFFICER)
    await _received(app)
    await run(app, c.CloseApplications(round_id="2021"), OFFICER)
    await run(app, c.DecideSelection(round_id="2021"), OFFICER)
    await run(app, c.OverrideSelection(round_id="2021", application_id="a-1", selected=True,
                                       award=10_000_000, reason="분과위원회 재심"), OFFICER)
    await run(app, c.RevisePlan(application_id="a-1", revised_summary="축소된 계획"), OFFICER)
    assert events.types("round-2021")[-1] == "grants.SelectionOverridden"
    assert events.types("application-a-1")[-1] == "grants.PlanRevised"


async def test_refusals_name_their_rule_and_store_nothing(app, events):
    with pytest.raises(UnknownTarget):
        await run(app, c.CloseApplications(round_id="2021"), OFFICER)
    with pytest.raises(UnknownTarget):
        await _received(app, application_id="a-0", organisation="org-0")
    assert "application-a-0" not in events.streams
    await run(app, c.OpenRound(year=2021), OFFICER)
    await _received(app)
    before = len(events.all())
    with pytest.raises(InvalidState, match="one project per organisation"):
        await run(app, c.ReceiveApplication(
            round_id="2021", application_id="a-2", organisation_id="org-1",
            field="community", requested_amount=1_000_000, self_funding_pledged=100_000,
            plan_summary="두 번째"), OFFICER)
    await run(app, c.DeclareReviewConflict(application_id="a-1", reason="이사 겸직"),
              OTHER_REVIEWER)
    with pytest.raises(Conflicted):
        await run(app, c.AssignReviewer(application_id="a-1", reviewer_id="reviewer-2"),
                  OFFICER)
    assert len(events.all()) == before + 1  # only the declared conflict
    assert "application-a-2" not in events.streams
    await run(app, c.CloseApplications(round_id="2021"), OFFICER)
    with pytest.raises(RoundClosed):
        await _received(app, application_id="a-3", organisation="org-3")
    assert "application-a-3" not in events.streams
