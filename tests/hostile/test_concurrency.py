"""Conflicting commands in parallel, on SQLite and PostgreSQL, through the real HTTP
apps and the real Kafka command consumers: each stream version is won by exactly
one command (the others are retried on the new state, or refused with a reason —
never a 5xx, never a lost update), the budget is never exceeded and the youth quota
never bypassed."""
from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from scenarios import grants2021, seeds, y2021
from scenarios.client import ALL_PATHS
from scenarios.dev_kek import dev_kek
from shared.envelope import Envelope
from shared.tables import events
from tests.conftest import BACKENDS

from . import harness, tally
from .world import FUTURE, OFFICER, PANEL, YOUTH_HEAD, message

SECRETARY = seeds.secretary_for("city-1", "city-2")  # the committees raced on below

pytestmark = pytest.mark.integration  # PostgreSQL


async def post_all(svc, requests: list[tuple[str, dict, dict]]) -> list:
    """Send requests at once; every answer must be a 201 or a problem body (4xx)."""
    answers = await asyncio.gather(*(svc.post(path, body, actor)
                                     for path, body, actor in requests))
    for answer in answers:
        surface = f"concurrent http {svc.name}"
        if answer.status_code >= 500 or (answer.status_code >= 400 and not harness._problem(
                answer)):
            tally.record(surface, "crash")
            raise AssertionError(f"{answer.status_code}: {answer.text[:1000]}")
        tally.record(surface, "accepted" if answer.status_code == 201
                     else "refused-with-reason")
    return answers


async def stream(svc, stream_id: str) -> list[Envelope]:
    async with svc.db.reading() as conn:
        rows = (await conn.execute(select(events.c.body).where(
            events.c.stream_id == stream_id).order_by(events.c.stream_version))).all()
    found = [Envelope.from_json(r.body) for r in rows]
    assert [e.stream_version for e in found] == list(range(1, len(found) + 1))
    return found


async def kafka_command(svc, command: dict, actor: dict, command_id: str) -> str:
    raw = json.dumps(await message(command, actor, command_id)).encode()
    outcome = await svc.consumers["commands"].handle(svc.delivery(
        f"hyeopchi.{svc.name}.commands", raw))
    assert outcome == "applied", svc.sinks["commands"].sent[-1:]
    return outcome


async def rejection(svc, command_id: str) -> dict | None:
    found = await stream(svc, f"command-{command_id}")
    return found[0].payload if found else None


# ----------------------------------------------------------------------- scoring

async def scoring_world(make_db_url):
    sub = await harness.start("submission", make_db_url())
    sco = await harness.start("scoring", make_db_url())
    P = ALL_PATHS
    await sub.command(P["OpenCycle"], {"command_type": "OpenCycle", "year": 2021,
                                       "deadline": FUTURE}, OFFICER)
    for cmd in y2021.institution_commands()[:3]:
        await sub.command(P["RegisterInstitution"], cmd, y2021.ORG_REGISTRY)
    report = y2021.report_command("planning", random.Random(5))
    report["results"] = [r for r in report["results"]
                         if r["indicator_id"] != "governance-case"] + [
        {"indicator_id": "governance-case", "cases": [
            {"title": "사례", "summary": "요약", "evidence_ref": "case-1"}]}]
    await sub.command(P["SubmitReport"], report, y2021.submitter("planning"))
    for e in await sub.events_after(0):
        assert await sco.consumers["submission-facts"].handle(sco.delivery(
            "hyeopchi.submission.events", e.to_json().encode())) == "applied"
    return sub, sco


@BACKENDS
async def test_experts_scoring_the_same_indicator_at_once(make_db_url):
    sub, sco = await scoring_world(make_db_url)
    experts = [f"expert-{n}" for n in range(4)]
    for who in experts:
        await sco.command(ALL_PATHS["AssignExpert"], {
            "command_type": "AssignExpert", "year": 2021, "institution_id": "planning",
            "indicator_id": "governance-case", "expert_id": who}, OFFICER)
    answers = await post_all(sco, [("/expert-scores", {
        "command_type": "GiveExpertScore", "year": 2021, "institution_id": "planning",
        "indicator_id": "governance-case", "points": str(6 + n), "comment": "평가"},
        y2021.expert(who)) for n, who in enumerate(experts)])
    won = [a for a in answers if a.status_code == 201]
    assert won and all(a.status_code in (201, 409) for a in answers)
    card = await stream(sco, "scorecard-2021-planning")
    given = [e for e in card if e.event_type == "scoring.ExpertScoreGiven"]
    assert sorted(e.payload["expert_id"] for e in given) == sorted(
        experts[n] for n, a in enumerate(answers) if a.status_code == 201)
    last = [e for e in card if e.event_type == "scoring.ScoreComputed"
            and e.payload["indicator_id"] == "governance-case"][-1]
    assert set(last.payload["inputs"]) >= {e.event_id for e in given}  # none lost
    for svc in (sub, sco):
        await harness.stop(svc)


@BACKENDS
async def test_panel_members_adjusting_the_same_score_at_once(make_db_url):
    sub, sco = await scoring_world(make_db_url)
    members = [{"id": f"panel-{n}", "role": PANEL["role"], "kind": "person"}
               for n in range(4)]
    answers = await post_all(sco, [("/adjustments", {
        "command_type": "AdjustScore", "year": 2021, "institution_id": "planning",
        "indicator_id": "committee-meetings", "to_points": str(10 + n),
        "reason": f"패널 {n}"}, who) for n, who in enumerate(members)])
    assert all(a.status_code in (201, 409) for a in answers)
    card = await stream(sco, "scorecard-2021-planning")
    adjusted = [e.payload for e in card if e.event_type == "scoring.ScoreAdjusted"]
    assert len(adjusted) == sum(a.status_code == 201 for a in answers) >= 1
    computed = [e.payload for e in card if e.event_type == "scoring.ScoreComputed"
                and e.payload["indicator_id"] == "committee-meetings"][-1]
    # No lost update: each adjustment starts from the score the previous one left.
    starts = [Decimal(computed["points"])] + [Decimal(a["to_points"]) for a in adjusted]
    assert [Decimal(a["from_points"]) for a in adjusted] == starts[:-1]
    for svc in (sub, sco):
        await harness.stop(svc)


async def ready_to_sign_off(make_db_url):
    """Two scorecards with nothing pending, provisional results out, the appeal
    window just closed: the panel may sign off."""
    sub = await harness.start("submission", make_db_url())
    sco = await harness.start("scoring", make_db_url())
    P = ALL_PATHS
    await sub.command(P["OpenCycle"], {"command_type": "OpenCycle", "year": 2021,
                                       "deadline": FUTURE}, OFFICER)
    for cmd in y2021.institution_commands()[:2]:
        await sub.command(P["RegisterInstitution"], cmd, y2021.ORG_REGISTRY)
    for institution in ("planning", "admin"):
        report = y2021.report_command(institution, random.Random(5))
        experts = ("governance-case", "governance-leadership")
        report["results"] = [r for r in report["results"] if r["indicator_id"] not in experts]
        report["not_applicable"] = [{"indicator_id": i, "reason": "해당 없음"} for i in experts]
        await sub.command(P["SubmitReport"], report, y2021.submitter(institution))
    for e in await sub.events_after(0):
        assert await sco.consumers["submission-facts"].handle(sco.delivery(
            "hyeopchi.submission.events", e.to_json().encode())) == "applied"
    for fact in y2021.hr_events()[:2]:
        assert await sco.consumers["external-facts"].handle(sco.delivery(
            "hyeopchi.ingress.hr", json.dumps(fact).encode())) == "applied"
    until = datetime.now(timezone.utc) + timedelta(seconds=2)
    await sco.command(P["PublishProvisionalResults"], {
        "command_type": "PublishProvisionalResults", "year": 2021,
        "appeals_until": until.isoformat()}, OFFICER)
    while datetime.now(timezone.utc) <= until + timedelta(milliseconds=200):
        await asyncio.sleep(0.2)
    return sub, sco


@BACKENDS
async def test_adjustments_racing_the_sign_off(make_db_url):
    """An adjustment either lands before the sign-off (and is in the signed-off
    ranking) or is refused as signed off: the signed-off results are the scores."""
    sub, sco = await ready_to_sign_off(make_db_url)
    members = [{"id": f"panel-{n}", "role": PANEL["role"], "kind": "person"}
               for n in range(3)]
    answers = await post_all(sco, [("/sign-off", {"command_type": "SignOff", "year": 2021},
                                     PANEL)] + [("/adjustments", {
        "command_type": "AdjustScore", "year": 2021, "institution_id": "planning",
        "indicator_id": "committee-meetings", "to_points": str(10 + n), "reason": "조정"},
        who) for n, who in enumerate(members)])
    assert answers[0].status_code == 201, answers[0].text
    assert all(a.status_code in (201, 409) for a in answers[1:])
    [signed] = [e.payload for e in await stream(sco, "scoring-2021")
                if e.event_type == "scoring.ResultsSignedOff"]
    card = await stream(sco, "scorecard-2021-planning")
    effective = [e.payload["to_points"] for e in card if e.event_type ==
                 "scoring.ScoreAdjusted"] or [[e.payload["points"] for e in card if
                                              e.event_type == "scoring.ScoreComputed" and
                                              e.payload["indicator_id"] ==
                                              "committee-meetings"][-1]]
    ranked = {r["institution_id"]: r for r in signed["ranking"]}
    assert Decimal(ranked["planning"]["scores"]["committee-meetings"]) == \
        Decimal(effective[-1])
    for svc in (sub, sco):
        await harness.stop(svc)


# ------------------------------------------------------------------------ grants

FULL = 68  # requests of 30M scored ≥ 85: 66 fit the 2,000M budget, 20M is left


async def decided_round(make_db_url):
    gra = await harness.start("grants", make_db_url())
    P, officer, intake = ALL_PATHS, grants2021.OFFICER, grants2021.INTAKE
    await gra.command(P["OpenRound"], {"command_type": "OpenRound", "year": 2021}, officer)
    for n in range(1, FULL + 1):
        await gra.command(P["RegisterOrganisation"], {
            "command_type": "RegisterOrganisation", "organisation_id": f"org-{n}",
            "name_ko": f"단체 {n}", "registered_nonprofit": True,
            "funded_before": n % 2 == 0}, intake)
        await gra.command(P["ReceiveApplication"], {
            "command_type": "ReceiveApplication", "round_id": "2021",
            "application_id": f"app-{n}", "organisation_id": f"org-{n}",
            "field": grants2021.FIELDS[n % 12], "requested_amount": 30_000_000,
            "self_funding_pledged": 1_500_000, "plan_summary": "계획"}, intake)
    await gra.command(P["CloseApplications"], {"command_type": "CloseApplications",
                                               "round_id": "2021"}, officer)
    scores = {"public_benefit": 30, "feasibility": 25, "budget_plan": 20, "capacity": 10,
              "partnership": 5}
    for n in range(1, FULL + 1):
        await gra.command(P["AssignReviewer"], {"command_type": "AssignReviewer",
                                                "application_id": f"app-{n}",
                                                "reviewer_id": "reviewer-1"}, officer)
        await gra.command(P["ScoreApplication"], {
            "command_type": "ScoreApplication", "application_id": f"app-{n}",
            "scores": {**scores, "partnership": 5 + n % 6}}, grants2021.reviewer(1))
    await gra.command(P["DecideSelection"], {"command_type": "DecideSelection",
                                             "round_id": "2021"}, officer)
    [decided] = [e for e in await stream(gra, "round-2021")
                 if e.event_type == "grants.SelectionDecided"]
    left = 2_000_000_000 - decided.payload["budget_committed"]
    unselected = [d["application_id"] for d in decided.payload["decisions"]
                  if not d["selected"]]
    assert left == 20_000_000 and len(unselected) == 2, (left, unselected)
    return gra, left, unselected


async def committed(gra) -> int:
    awards: dict[str, int] = {}
    for e in await stream(gra, "round-2021"):
        if e.event_type == "grants.SelectionDecided":
            awards = {d["application_id"]: d["award"] for d in e.payload["decisions"]
                      if d["selected"]}
        elif e.event_type == "grants.SelectionOverridden":
            awards.pop(e.payload["application_id"], None)
            if e.payload["selected"]:
                awards[e.payload["application_id"]] = e.payload["award"]
    return sum(awards.values())


@BACKENDS
async def test_selections_and_payments_spending_the_same_money(make_db_url):
    gra, left, (a, b) = await decided_round(make_db_url)
    override = {"command_type": "OverrideSelection", "round_id": "2021", "selected": True,
                "award": left, "reason": "위원회 추가 선정"}
    answers = await post_all(gra, [(ALL_PATHS["OverrideSelection"],
                                    {**override, "application_id": app},
                                    grants2021.OFFICER) for app in (a, b)])
    assert sorted(x.status_code for x in answers) == [201, 409]
    assert "budget" in next(x for x in answers if x.status_code == 409).json()["detail"]
    assert await committed(gra) == 2_000_000_000

    # Once more, one over HTTP and one over Kafka, after the committee frees the money.
    winner = a if answers[0].status_code == 201 else b
    await gra.command(ALL_PATHS["OverrideSelection"], {
        **override, "application_id": winner, "selected": False, "award": 0},
        grants2021.OFFICER)
    http, kafka = await asyncio.gather(
        post_all(gra, [(ALL_PATHS["OverrideSelection"], {**override, "application_id": a},
                        grants2021.OFFICER)]),
        kafka_command(gra, {**override, "application_id": b}, grants2021.OFFICER,
                      "override-b"))
    refused = await rejection(gra, "override-b")
    assert (http[0].status_code == 201) == (refused is not None)
    if refused:
        assert refused["refusal"] == "over-budget"
    else:
        assert http[0].status_code == 409
    assert await committed(gra) == 2_000_000_000

    # Three payments at once against one 30M award: one is paid, two are refused.
    [decided] = [e for e in await stream(gra, "round-2021")
                 if e.event_type == "grants.SelectionDecided"]
    app = next(d for d in decided.payload["decisions"] if d["selected"]
               and d["award"] == 30_000_000)["application_id"]
    answers = await post_all(gra, [("/payments", {
        "command_type": "MakePayment", "application_id": app, "amount": 20_000_000},
        grants2021.OFFICER)] * 3)
    assert sorted(x.status_code for x in answers) == [201, 422, 422]
    paid = sum(e.payload["amount"] for e in await stream(gra, f"application-{app}")
               if e.event_type == "grants.PaymentMade")
    assert paid == 20_000_000
    await harness.stop(gra)


@BACKENDS
async def test_one_application_per_organisation_under_parallel_intake(make_db_url):
    gra = await harness.start("grants", make_db_url())
    intake = grants2021.INTAKE
    await gra.command(ALL_PATHS["OpenRound"], {"command_type": "OpenRound", "year": 2021},
                      grants2021.OFFICER)
    await gra.command(ALL_PATHS["RegisterOrganisation"], {
        "command_type": "RegisterOrganisation", "organisation_id": "org-1",
        "name_ko": "단체", "registered_nonprofit": True, "funded_before": False}, intake)
    application = {"command_type": "ReceiveApplication", "round_id": "2021",
                   "organisation_id": "org-1", "field": grants2021.FIELDS[0],
                   "requested_amount": 10_000_000, "self_funding_pledged": 500_000,
                   "plan_summary": "계획"}
    answers = await post_all(gra, [(ALL_PATHS["ReceiveApplication"],
                                    {**application, "application_id": f"app-{n}"}, intake)
                                   for n in range(6)])
    assert sorted(x.status_code for x in answers) == [201] + [409] * 5
    await harness.stop(gra)


# --------------------------------------------------------------------- committee

async def committee_at_the_quota(make_db_url, committee: str, svc=None):
    """A city committee of 2 youth and 10 other members (16.7%): one more non-youth
    member keeps it at 15.4%, two more would leave it at 14.3%, under the 15% quota."""
    dev_kek()  # the committee seals personal data only under a KEK
    com = svc or await harness.start("committee", make_db_url())
    P = ALL_PATHS
    await com.command(P["EstablishCommittee"], {
        "command_type": "EstablishCommittee", "committee_id": committee,
        "institution_id": "democracy", "name_ko": "시 위원회", "kind": "city",
        "city_committee": True}, SECRETARY)
    for n in range(12):
        await com.command(P["AppointMember"], {
            "command_type": "AppointMember", "committee_id": committee,
            "member_id": f"m-{n}", "role": "member", "channel": "open_call",
            "appointed_on": "2021-05-01",
            "personal": {"name": f"위원 {n}",
                         "birth_date": "1995-02-10" if n < 2 else "1960-02-10"}},
            SECRETARY)
    return com


def appointment(committee: str, member: str) -> dict:
    return {"command_type": "AppointMember", "committee_id": committee, "member_id": member,
            "role": "member", "channel": "recommendation", "appointed_on": "2021-06-01",
            "personal": {"name": "비청년 위원", "birth_date": "1958-11-30"}}


async def by_reference(com, command: dict) -> dict:
    """Personal data may not travel on Kafka: deposited over HTTPS, sent by reference."""
    answer = await com.post("/personal-data", {k: command[k] for k in (
        "committee_id", "member_id", "personal")}, SECRETARY)
    assert answer.status_code == 201, answer.text
    rest = {k: v for k, v in command.items() if k != "personal"}
    return {**rest, "personal_ref": answer.json()["personal_ref"]}


async def youth_share(com, committee: str) -> Decimal:
    members = [e.payload for e in await stream(com, f"committee-{committee}")
               if e.event_type == "committee.MemberAppointed"]
    return Decimal(sum(m["youth"] for m in members)) / len(members)


@BACKENDS
async def test_two_appointments_cannot_bypass_the_youth_quota(make_db_url):
    com = await committee_at_the_quota(make_db_url, "city-1")
    answers = await post_all(com, [(ALL_PATHS["AppointMember"], appointment("city-1", m),
                                    SECRETARY) for m in ("x-1", "x-2")])
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert "youth" in next(a for a in answers if a.status_code == 409).json()["detail"]
    assert await youth_share(com, "city-1") >= Decimal("0.15")

    # Over HTTP and over Kafka at once: one wins, the other is refused with the reason.
    await committee_at_the_quota(make_db_url, "city-2", com)
    http, _ = await asyncio.gather(
        post_all(com, [(ALL_PATHS["AppointMember"], appointment("city-2", "x-1"),
                        SECRETARY)]),
        kafka_command(com, await by_reference(com, appointment("city-2", "x-2")),
                      SECRETARY, "appoint-x-2"))
    refused = await rejection(com, "appoint-x-2")
    assert (http[0].status_code == 201) == (refused is not None)
    if refused:
        assert refused["refusal"] == "youth-quota"
    assert await youth_share(com, "city-2") >= Decimal("0.15")

    # With the youth office head's co-approval first, the second appointment is allowed.
    await com.command(ALL_PATHS["ApproveYouthQuotaException"], {
        "command_type": "ApproveYouthQuotaException", "committee_id": "city-1",
        "member_id": "x-3", "reason": "전문성"}, YOUTH_HEAD)
    await com.command(ALL_PATHS["AppointMember"], appointment("city-1", "x-3"), SECRETARY)
    await harness.stop(com)

