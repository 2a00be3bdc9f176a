"""Every scoring command and every policy (reaction to another service's or system's
fact) through the one application, on an in-memory store and in-memory facts: no
database. A cycle walks from opening to sign-off and reopening; refusals store
nothing."""
from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from scenarios import y2021
from services.scoring.adapters import committee_contract as com
from services.scoring.adapters import submission_contract as sub
from services.scoring.adapters.access import POLICY
from services.scoring.adapters.ingress_contract import CourseCompleted, HeadcountReported
from services.scoring.app import commands as c
from services.scoring.app.handlers import handlers
from services.scoring.app.policies import policies
from services.scoring.app.scoring import SYSTEM, city_system
from services.scoring.domain.errors import (Conflicted, InvalidState, NotAssigned, SignedOff,
                                            UnknownTarget)
from services.scoring.domain.events import registry
from services.scoring.domain.facts import InstitutionFacts, ReportFacts
from shared.application import Application, Repository
from shared.auth import Forbidden, Principal
from tests.support.memory import InMemoryEvents, NoConnection, run

RULEBOOK = json.loads((Path(__file__).parents[2] / "services/submission/rulebooks/2021.json")
                      .read_text())
INST = "planning"
CARD = f"scorecard-2021-{INST}"
OFFICER = Principal("officer-1", "governance_officer")
PANEL = Principal("panel-1", "panel_member")
KIM = Principal("expert-kim", "external_expert")
LEE = Principal("expert-lee", "external_expert")
PARK = Principal("expert-park", "external_expert")
SUBMITTER = Principal("submitter-1", "institution_submitter", institution_id=INST)
T0 = datetime(2021, 5, 1, tzinfo=UTC)
REPORT = y2021.reports()[0]
assert REPORT["institution_id"] == INST


class MemoryFacts:
    """The facts port in dicts (the SQL one: services/scoring/adapters/facts_store.py)."""

    def __init__(self):
        self.cycles: dict[str, dict] = {}
        self.institutions: dict[str, dict] = {}
        self.reports: dict[tuple, dict] = {}
        self.headcount: dict[str, tuple[int, str]] = {}
        self.learners: dict[tuple, str] = {}
        self.meetings: dict[str, dict] = {}
        self.indexes: dict[tuple, tuple] = {}
        self.locks: list[tuple] = []

    async def set_cycle(self, uow, cycle_id, year, rulebook):
        self.cycles[cycle_id] = {"year": year, "rulebook": rulebook}

    async def set_rulebook(self, uow, cycle_id, rulebook):
        self.cycles[cycle_id]["rulebook"] = rulebook

    async def register_institution(self, uow, institution_id, kind):
        self.institutions[institution_id] = {"kind": kind, "treated": False}

    async def treat_as_field_office(self, uow, institution_id, treated):
        self.institutions[institution_id]["treated"] = treated

    async def set_report(self, uow, cycle_id, institution_id, results, event_id):
        self.reports[cycle_id, institution_id] = {"results": results, "na": set(),
                                                  "ids": [event_id]}

    async def mark_not_applicable(self, uow, cycle_id, institution_id, indicator_id,
                                  event_id):
        report = self.reports.get((cycle_id, institution_id))
        if report:
            report["na"].add(indicator_id)
            report["ids"].append(event_id)

    async def withdraw_report(self, uow, cycle_id, institution_id):
        self.reports.pop((cycle_id, institution_id), None)

    async def set_headcount(self, uow, institution_id, headcount, event_id):
        self.headcount[institution_id] = (headcount, event_id)

    async def add_completion(self, uow, institution_id, learner_ref, course_id, event_id):
        self.learners.setdefault((institution_id, learner_ref, course_id), event_id)

    async def set_meeting(self, uow, meeting_id, institution_id, committee_id, held_on,
                          event_id):
        self.meetings[meeting_id] = {"institution_id": institution_id, "held_on": held_on,
                                     "event_id": event_id}

    async def cycle_ids(self, uow):
        return sorted(self.cycles)

    async def institution_ids(self, uow):
        return sorted(self.institutions)

    async def known(self, uow, cycle_id, institution_id, courses):
        inst = self.institutions.get(institution_id)
        if inst is None:
            return None
        report = self.reports.get((cycle_id, institution_id))
        head = self.headcount.get(institution_id)
        learners = sorted((e, ref) for (i, ref, course), e in self.learners.items()
                          if i == institution_id and course in courses)
        meetings = sorted((m["held_on"], k, m["event_id"]) for k, m in self.meetings.items()
                          if m["institution_id"] == institution_id)
        return InstitutionFacts(
            institution_id=institution_id, kind=inst["kind"],
            treated_as_field_office=inst["treated"],
            report=ReportFacts(report["results"], frozenset(report["na"]),
                               tuple(report["ids"])) if report else None,
            headcount=head[0] if head else None, headcount_event=head[1] if head else None,
            learners_completed=len({ref for _, ref in learners}),
            completion_events=tuple(e for e, _ in learners),
            meetings_on_record=tuple(e for *_, e in meetings))

    async def lock_cycle(self, uow, year, exclusive=False):
        self.locks.append((str(year), exclusive))

    async def sync_indexes(self, uow, cycle_id, institution_id, open_appeal_ids, pending):
        self.indexes[cycle_id, institution_id] = (list(open_appeal_ids), list(pending))

    async def open_appeals(self, uow, cycle_id):
        return sum(len(a) for (c_, _), (a, _) in self.indexes.items() if c_ == cycle_id)

    async def pending_scores(self, uow, cycle_id):
        return sum(len(p) for (c_, _), (_, p) in self.indexes.items() if c_ == cycle_id)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def events():
    return InMemoryEvents("scoring")


@pytest.fixture
def facts():
    return MemoryFacts()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(events, facts, clock):
    return Application(Repository(events, registry), handlers(facts, clock), POLICY,
                              policies(facts))


async def react(app, event, cause: str, who: Principal = SYSTEM):
    uow = app.unit_of_work(NoConnection(), who, "test", cause)
    await app.react(event, uow)
    return await uow.commit()


def computed(events, indicator_id: str):
    """The payload of the last ScoreComputed for one indicator of the card."""
    found = [e.payload for e in events.streams.get(CARD, [])
             if e.event_type == "scoring.ScoreComputed" and e.payload["indicator_id"] == indicator_id]
    return found[-1] if found else None


async def opened(app, cycle_cause="sub-cycle", register=True):
    await react(app, sub.CycleOpened(cycle_id="2021", year=2021, rulebook=RULEBOOK),
                cycle_cause)
    if register:
        await react(app, sub.InstitutionRegistered(institution_id=INST, kind="bureau"),
                    "sub-inst")


def headcount(n: int = 100) -> HeadcountReported:
    return HeadcountReported(
        event_id="hr-1", event_type="hr.HeadcountReported", schema_version=1,
        occurred_at=T0, source="seoul-hr",
        payload={"institution_id": INST, "headcount": n, "as_of": "2021-03-31"})


async def reported(app):
    """Opened, registered, its report in and its headcount known."""
    await opened(app)
    await react(app, sub.ReportSubmitted(cycle_id="2021", institution_id=INST,
                                         results=REPORT["results"]), "sub-report")
    await react(app, headcount(), "hr-1", city_system("seoul-hr"))


async def scored_by_experts(app, indicator="governance-case"):
    for expert in (KIM, LEE, PARK):
        await run(app, c.AssignExpert(year=2021, institution_id=INST, indicator_id=indicator,
                                      expert_id=expert.id), OFFICER)
    for expert, points in ((KIM, "10"), (LEE, "12"), (PARK, "14")):
        await run(app, c.GiveExpertScore(year=2021, institution_id=INST,
                                         indicator_id=indicator, points=Decimal(points),
                                         comment="근거 충분"), expert)


def test_the_handler_table_covers_every_command_type(facts):
    union = typing.get_args(typing.get_args(c.Command)[0])
    types = {model.model_fields["command_type"].default for model in union}
    assert types == set(handlers(facts))


def test_the_policy_table_covers_every_fact_scoring_is_told(facts):
    told = {cls.event_type for module in (sub, com) for cls in vars(module).values()
            if isinstance(cls, type) and isinstance(getattr(cls, "event_type", None), str)}
    told |= {"hr.HeadcountReported", "education.CourseCompleted"}  # ingress_contract.py
    assert set(policies(facts)) == told


async def test_facts_from_submission_committee_and_city_systems_score_a_card(app, events,
                                                                             facts):
    await opened(app)
    assert events.types("scoring-2021") == ["scoring.ScoringOpened"]
    assert events.streams["scoring-2021"][0].payload["cause_event_id"] == "sub-cycle"
    assert len(events.types(CARD)) == 6  # every indicator scored at once
    assert computed(events, "governance-case")["source"] == "base"  # no report yet
    assert facts.indexes["2021", INST] == ([], [])

    await react(app, sub.ReportSubmitted(cycle_id="2021", institution_id=INST,
                                         results=REPORT["results"]), "sub-report")
    assert "sub-report" in computed(events, "committee-openness")["inputs"]
    assert computed(events, "governance-case")["source"] == "pending"
    assert facts.indexes["2021", INST] == ([], ["governance-case", "governance-education",
                                                "governance-leadership"])
    [head, *_] = await react(app, headcount(), "hr-1", city_system("seoul-hr"))
    assert head.event_type == "scoring.HeadcountRecorded" and head.actor.id == "seoul-hr"
    assert facts.headcount[INST] == (100, head.event_id)
    assert head.event_id in computed(events, "governance-education")["inputs"]
    completion = CourseCompleted(
        event_id="edu-1", event_type="education.CourseCompleted", schema_version=1,
        occurred_at=T0, source="seoul-mooc",
        payload={"institution_id": INST, "course_id": "local-governance",
                 "learner_ref": "L0001", "completed_on": "2020-11-01"})
    [learned, *rescored] = await react(app, completion, "edu-1", city_system("seoul-mooc"))
    assert learned.stream_id == f"learning-{INST}"
    assert learned.event_id in computed(events, "governance-education")["inputs"]
    assert [e.stream_id for e in rescored] == [CARD] * len(rescored)

    await react(app, sub.ReportAmended(cycle_id="2021", institution_id=INST,
                                       results=REPORT["results"]), "sub-amended")
    assert "sub-amended" in computed(events, "committee-openness")["inputs"]
    await react(app, sub.IndicatorMarkedNotApplicable(
        cycle_id="2021", institution_id=INST, indicator_id="governance-process"), "sub-na")
    assert facts.reports["2021", INST]["ids"] == ["sub-amended", "sub-na"]
    await react(app, com.MeetingHeld(meeting_id="m-1", committee_id="committee-1",
                                     institution_id=INST, starts_at=T0, mode="online"),
                "com-meeting")
    assert facts.meetings["m-1"]["event_id"] == "com-meeting"
    await react(app, sub.FieldOfficeTreatmentSet(institution_id=INST,
                                                 treated_as_field_office=True), "sub-fo")
    assert facts.institutions[INST]["treated"] is True
    await react(app, sub.ReportWithdrawn(cycle_id="2021", institution_id=INST), "sub-wd")
    assert computed(events, "committee-openness")["source"] == "base"

    revised = {**RULEBOOK, "version": 2, "base_score_missing": 40}
    await react(app, sub.RulebookRevised(cycle_id="2021", rulebook=revised), "sub-rev")
    assert events.types("scoring-2021")[-1] == "scoring.RulebookApplied"
    assert computed(events, "committee-openness")["rulebook_ref"].endswith("/v2")
    before = len(events.all())
    await react(app, sub.RulebookRevised(cycle_id="2021", rulebook=revised), "sub-rev")
    assert len(events.all()) == before  # the same revision again: nothing new


async def test_a_fact_scoring_does_not_use_changes_nothing(app, events):
    class Other:
        event_type = "submission.SomethingElse"
    await react(app, Other(), "x")
    assert events.all() == []


async def test_experts_score_and_the_scores_name_their_events(app, events):
    await reported(app)
    await scored_by_experts(app)
    given = {e.payload["expert_id"]: e.event_id for e in events.streams[CARD]
             if e.event_type == "scoring.ExpertScoreGiven"}
    score = computed(events, "governance-case")
    assert score["source"] == "expert" and Decimal(score["points"]) == Decimal("12.00")
    assert score["inputs"] == ["sub-report", given["expert-kim"], given["expert-lee"],
                               given["expert-park"]]

    appended = await run(app, c.DeclareConflict(year=2021, institution_id=INST,
                                                reason="가족 근무"), PARK)
    assert [e.event_type for e in appended] == ["scoring.ConflictDeclared",
                                                "scoring.ScoreComputed"]
    score = computed(events, "governance-case")
    assert Decimal(score["points"]) == Decimal("11.00")  # kim and lee only
    assert score["inputs"] == ["sub-report", given["expert-kim"], given["expert-lee"]]


async def test_what_one_http_command_appended_is_named_in_full(app, events):
    await reported(app)
    await run(app, c.AssignExpert(year=2021, institution_id=INST,
                                  indicator_id="governance-case", expert_id=KIM.id), OFFICER)
    appended = await run(app, c.GiveExpertScore(
        year=2021, institution_id=INST, indicator_id="governance-case",
        points=Decimal("9"), comment="c"), KIM)
    assert [e.event_type for e in appended] == ["scoring.ExpertScoreGiven",
                                                "scoring.ScoreComputed"]
    assert [e.event_id for e in appended] == [e.event_id for e in events.streams[CARD][-2:]]


async def test_refusals_of_experts_store_nothing(app, events):
    await reported(app)
    before = len(events.all())
    with pytest.raises(NotAssigned):
        await run(app, c.GiveExpertScore(year=2021, institution_id=INST,
                                         indicator_id="governance-case",
                                         points=Decimal(5), comment="c"), KIM)
    with pytest.raises(InvalidState):  # not an expert indicator
        await run(app, c.AssignExpert(year=2021, institution_id=INST,
                                      indicator_id="committee-openness",
                                      expert_id=KIM.id), OFFICER)
    with pytest.raises(UnknownTarget):
        await run(app, c.AssignExpert(year=2021, institution_id=INST,
                                      indicator_id="no-such", expert_id=KIM.id), OFFICER)
    with pytest.raises(UnknownTarget):
        await run(app, c.AssignExpert(year=2021, institution_id="nobody",
                                      indicator_id="governance-case", expert_id=KIM.id),
                  OFFICER)
    await run(app, c.DeclareConflict(year=2021, institution_id=INST, reason="r"), KIM)
    with pytest.raises(Conflicted):
        await run(app, c.AssignExpert(year=2021, institution_id=INST,
                                      indicator_id="governance-case", expert_id=KIM.id),
                  OFFICER)
    with pytest.raises(Forbidden):  # the policy: only the office assigns experts
        await run(app, c.AssignExpert(year=2021, institution_id=INST,
                                      indicator_id="governance-case", expert_id=LEE.id),
                  KIM)
    assert events.types(CARD)[-1] == "scoring.ConflictDeclared"
    assert len(events.all()) == before + 1


async def test_commands_before_the_cycle_is_opened_are_refused(app, events):
    with pytest.raises(InvalidState, match="not been opened"):
        await run(app, c.AdjustScore(year=2021, institution_id=INST,
                                     indicator_id="governance-case", to_points=Decimal(1),
                                     reason="r"), PANEL)
    with pytest.raises(InvalidState):
        await run(app, c.PublishProvisionalResults(
            year=2021, appeals_until=T0 + timedelta(days=7)), OFFICER)
    assert events.all() == []


async def test_a_cycle_from_provisional_results_to_sign_off_and_reopening(app, events,
                                                                          facts, clock):
    await reported(app)
    await scored_by_experts(app, "governance-case")
    await scored_by_experts(app, "governance-leadership")
    await run(app, c.AdjustScore(year=2021, institution_id=INST,
                                 indicator_id="committee-openness", to_points=Decimal(7),
                                 reason="증빙 재검토"), PANEL)
    with pytest.raises(InvalidState, match="appeals"):  # no window yet
        await run(app, c.FileAppeal(year=2021, institution_id=INST, appeal_id="ap-1",
                                    indicator_id="governance-case", grounds="g"), SUBMITTER)
    with pytest.raises(InvalidState, match="not been published"):
        await run(app, c.SignOff(year=2021), PANEL)

    until = T0 + timedelta(days=7)
    await run(app, c.PublishProvisionalResults(year=2021, appeals_until=until), OFFICER)
    [published] = events.streams["scoring-2021"][-1:]
    assert published.payload["ranking"][0]["institution_id"] == INST
    await run(app, c.FileAppeal(year=2021, institution_id=INST, appeal_id="ap-1",
                                indicator_id="governance-case", grounds="과소평가"), SUBMITTER)
    assert facts.indexes["2021", INST][0] == ["ap-1"]
    with pytest.raises(Conflicted):  # kim scored the indicator appealed against
        await run(app, c.AssignAppealReviewer(year=2021, institution_id=INST,
                                              appeal_id="ap-1", reviewer_id=KIM.id),
                  OFFICER)
    reviewer = Principal("expert-choi", "external_expert")
    await run(app, c.AssignAppealReviewer(year=2021, institution_id=INST, appeal_id="ap-1",
                                          reviewer_id=reviewer.id), OFFICER)
    with pytest.raises(NotAssigned):
        await run(app, c.DecideAppeal(year=2021, institution_id=INST, appeal_id="ap-1",
                                      upheld=True, to_points=Decimal(13), reason="r"), LEE)
    await run(app, c.DecideAppeal(year=2021, institution_id=INST, appeal_id="ap-1",
                                  upheld=True, to_points=Decimal(13), reason="인용"), reviewer)
    assert facts.indexes["2021", INST] == ([], [])

    with pytest.raises(InvalidState, match="appeal window"):
        await run(app, c.SignOff(year=2021), PANEL)
    clock.now = until + timedelta(seconds=1)
    await run(app, c.SignOff(year=2021), PANEL)
    assert ("2021", True) in facts.locks
    [signed] = events.streams["scoring-2021"][-1:]
    assert signed.event_type == "scoring.ResultsSignedOff"
    assert signed.payload["ranking"][0]["scores"]["governance-case"] == "13.00"
    assert signed.payload["ranking"][0]["scores"]["committee-openness"] == "7.00"

    with pytest.raises(SignedOff):
        await run(app, c.AdjustScore(year=2021, institution_id=INST,
                                     indicator_id="committee-openness",
                                     to_points=Decimal(8), reason="r"), PANEL)
    before = len(events.all())  # after sign-off facts no longer move scores
    await react(app, sub.ReportWithdrawn(cycle_id="2021", institution_id=INST), "sub-wd")
    assert len(events.all()) == before

    facts.reports.clear()
    facts.institutions["other"] = {"kind": "bureau", "treated": False}
    await run(app, c.ReopenScoring(year=2021, reason="재검토 요청"), OFFICER)
    assert events.types("scoring-2021")[-1] == "scoring.ScoringReopened"
    assert len(events.types("scorecard-2021-other")) == 6  # rescored on reopening
    with pytest.raises(InvalidState, match="nothing to reopen"):
        await run(app, c.ReopenScoring(year=2021, reason="again"), OFFICER)
