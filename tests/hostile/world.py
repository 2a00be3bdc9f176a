"""A small 2021 world in-process: every service started from its real spec, seeded
with the scenario's own commands, plus one valid template per command, external
fact and event — the starting points hostile inputs are made from."""
from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta, timezone

from scenarios import client, grants2021, seeds, y2021
from scenarios.dev_kek import dev_kek
from scenarios.client import ALL_PATHS, KafkaCommands
from shared.envelope import Envelope
from shared.topics import events_topic

from . import harness
from .harness import InProcess

FUTURE = (datetime.now(timezone.utc) + timedelta(days=365)).isoformat()
OFFICER, PANEL = y2021.OFFICER, y2021.PANEL_MEMBER
SECRETARY = seeds.secretary_for(*seeds.SECRETARY["committees"], "hostile-committee")
YOUTH_HEAD = seeds.YOUTH_HEAD
GRANTS_OFFICER = grants2021.OFFICER
SUBMITTED = [r["institution_id"] for r in y2021.reports()[:8]]  # planning, admin, …
SUB = seeds.SUBCOMMITTEE
REVIEWED = [40, 41, 42, 43, 44, 45]  # registered, not poorly evaluated organisations
CMD_ID = "CMDID-PLACEHOLDER"        # a fresh command / event id is put here per input
APPEAL_REVIEWER = "expert-appeals"
READER = getattr(client, "AUDITOR", OFFICER)  # reads every route
# The in-process committee seals and opens personal data only under a KEK: the
# development one, for every hostile test that imports this world.
dev_kek()


@dataclass(frozen=True)
class Template:
    command_type: str
    body: dict
    actor: dict


def app_id(n: int) -> str:
    return f"2021-{n:04d}"


def _report(institution: str, n: int = 0) -> dict:
    report = y2021.report_command(institution, random.Random(f"hostile-{institution}"), n)
    report["results"] = [dict(r, evidence_refs=["doc-1"]) for r in report["results"]]
    return report


@cache
def templates() -> dict[str, list[Template]]:
    """One valid command per command type and service (shared: never mutate)."""
    amend = dict(_report("admin", 7), command_type="AmendReport", reason="오기 수정")
    held = dict(copy.deepcopy(seeds.meeting_13()), meeting_id=f"{SUB}-15", number=15,
                starts_at="2021-06-03T14:00:00+09:00", ends_at="2021-06-03T15:30:00+09:00",
                next_meeting=None,
                agenda=[dict(a, number=f"2021-{n}") for n, a in
                        enumerate(seeds.AGENDA_13, start=21)])
    a, b = app_id(REVIEWED[0]), app_id(REVIEWED[1])
    return {
        "submission": [
            Template("OpenCycle", {"command_type": "OpenCycle", "year": 2021,
                                   "deadline": FUTURE}, OFFICER),
            Template("SetDeadline", {"command_type": "SetDeadline", "year": 2021,
                                     "deadline": FUTURE, "reason": "연장"}, OFFICER),
            Template("ReviseRulebook", {"command_type": "ReviseRulebook", "year": 2021,
                                        "version": 2, "reason": "개정"}, OFFICER),
            Template("CloseCycle", {"command_type": "CloseCycle", "year": 2020,
                                    "reason": "마감"}, OFFICER),
            Template("RegisterInstitution", {
                "command_type": "RegisterInstitution", "institution_id": "hostile-bureau",
                "name_ko": "적대국", "kind": "bureau", "division_count": 2},
                y2021.ORG_REGISTRY),
            Template("SetFieldOfficeTreatment", {
                "command_type": "SetFieldOfficeTreatment", "institution_id": "finance",
                "treated_as_field_office": True, "reason": "현업부서 취급"}, OFFICER),
            Template("SubmitReport", _report("housing"), y2021.submitter("housing")),
            Template("AmendReport", amend, y2021.submitter("admin")),
            Template("WithdrawReport", {"command_type": "WithdrawReport", "year": 2021,
                                        "institution_id": "welfare", "reason": "철회"},
                     y2021.submitter("welfare")),
            Template("ReopenReport", {"command_type": "ReopenReport", "year": 2021,
                                      "institution_id": "economy", "until": FUTURE,
                                      "reason": "보완"}, OFFICER),
        ],
        "scoring": [
            Template("AssignExpert", {"command_type": "AssignExpert", "year": 2021,
                                      "institution_id": "admin",
                                      "indicator_id": "governance-case",
                                      "expert_id": "expert-new"}, OFFICER),
            Template("DeclareConflict", {"command_type": "DeclareConflict", "year": 2021,
                                         "institution_id": "admin", "reason": "겸직"},
                     y2021.expert("expert-choi")),
            Template("GiveExpertScore", {"command_type": "GiveExpertScore", "year": 2021,
                                         "institution_id": "planning",
                                         "indicator_id": "governance-case",
                                         "points": "7.5", "comment": "우수"},
                     y2021.expert("expert-kim")),
            Template("AdjustScore", {"command_type": "AdjustScore", "year": 2021,
                                     "institution_id": "planning",
                                     "indicator_id": "committee-meetings",
                                     "to_points": "15", "reason": "증빙 확인"}, PANEL),
            Template("PublishProvisionalResults", {
                "command_type": "PublishProvisionalResults", "year": 2021,
                "appeals_until": FUTURE}, OFFICER),
            Template("FileAppeal", {"command_type": "FileAppeal", "year": 2021,
                                    "institution_id": "finance", "appeal_id": "appeal-1",
                                    "indicator_id": "committee-openness",
                                    "grounds": "누락"}, y2021.submitter("finance")),
            Template("AssignAppealReviewer", {
                "command_type": "AssignAppealReviewer", "year": 2021,
                "institution_id": "finance", "appeal_id": "appeal-0",
                "reviewer_id": "reviewer-z"}, OFFICER),
            Template("DecideAppeal", {"command_type": "DecideAppeal", "year": 2021,
                                      "institution_id": "finance", "appeal_id": "appeal-0",
                                      "upheld": True, "to_points": "3", "reason": "인용"},
                     y2021.expert(APPEAL_REVIEWER)),
            Template("SignOff", {"command_type": "SignOff", "year": 2021}, PANEL),
            Template("ReopenScoring", {"command_type": "ReopenScoring", "year": 2021,
                                       "reason": "재검토"}, OFFICER),
        ],
        "committee": [
            Template("EstablishCommittee", {
                "command_type": "EstablishCommittee", "committee_id": "hostile-committee",
                "institution_id": "democracy", "name_ko": "적대 위원회", "kind": "advisory",
                "city_committee": True}, SECRETARY),
            Template("AppointMember", {
                "command_type": "AppointMember", "committee_id": SUB,
                "member_id": "member-new", "role": "member", "channel": "open_call",
                "appointed_on": "2021-05-01",
                "personal": {"name": "청년 위원", "birth_date": "1995-07-19"}}, SECRETARY),
            Template("DismissMember", {
                "command_type": "DismissMember", "committee_id": SUB, "member_id": "member-h",
                "dismissed_on": "2021-06-01", "reason": "임기 만료"}, SECRETARY),
            Template("ApproveYouthQuotaException", {
                "command_type": "ApproveYouthQuotaException", "committee_id": SUB,
                "member_id": "member-x", "reason": "전문성"}, YOUTH_HEAD),
            Template("ScheduleMeeting", {
                "command_type": "ScheduleMeeting", "meeting_id": f"{SUB}-14",
                "committee_id": SUB, "number": 14, "starts_at": "2021-05-06T14:00:00+09:00",
                "place": "회의실"}, SECRETARY),
            Template("RecordMeetingHeld", held, SECRETARY),
            Template("PostponeMeeting", {
                "command_type": "PostponeMeeting", "meeting_id": f"{SUB}-16",
                "starts_at": "2021-07-13T14:00:00+09:00", "reason": "일정 변경"}, SECRETARY),
            Template("CancelMeeting", {"command_type": "CancelMeeting",
                                       "meeting_id": f"{SUB}-17", "reason": "취소"},
                     SECRETARY),
            Template("RecordMeetingCosts", {
                "command_type": "RecordMeetingCosts", "meeting_id": f"{SUB}-13",
                "room_hours": 2, "room_rate": 110000, "refreshments": 50000}, SECRETARY),
            Template("RecordMinutes", seeds.meeting_13_minutes(), SECRETARY),
        ],
        "grants": [
            Template("OpenRound", {"command_type": "OpenRound", "year": 2021}, GRANTS_OFFICER),
            Template("CloseApplications", {"command_type": "CloseApplications",
                                           "round_id": "2021"}, GRANTS_OFFICER),
            Template("RegisterOrganisation", {
                "command_type": "RegisterOrganisation", "organisation_id": "org-hostile",
                "name_ko": "적대 단체", "registered_nonprofit": True, "funded_before": False,
                "past_evaluation": None}, grants2021.INTAKE),
            Template("ReceiveApplication", grants2021.applications()[99], grants2021.INTAKE),
            Template("ScreenApplications", {"command_type": "ScreenApplications",
                                            "round_id": "2021"}, GRANTS_OFFICER),
            Template("AssignReviewer", {"command_type": "AssignReviewer",
                                        "application_id": b, "reviewer_id": "reviewer-5"},
                     GRANTS_OFFICER),
            Template("DeclareReviewConflict", {"command_type": "DeclareReviewConflict",
                                               "application_id": b, "reason": "겸직"},
                     grants2021.reviewer(6)),
            Template("ScoreApplication", {"command_type": "ScoreApplication",
                                          "application_id": b,
                                          "scores": grants2021.scores_for(REVIEWED[1])},
                     grants2021.reviewer(1)),
            Template("DecideSelection", {"command_type": "DecideSelection",
                                         "round_id": "2021"}, GRANTS_OFFICER),
            Template("OverrideSelection", {
                "command_type": "OverrideSelection", "round_id": "2021", "application_id": b,
                "selected": True, "award": 10_000_000, "reason": "위원회 결정"},
                GRANTS_OFFICER),
            Template("RevisePlan", {"command_type": "RevisePlan", "application_id": a,
                                    "revised_summary": "축소 계획"}, GRANTS_OFFICER),
            Template("MakePayment", {"command_type": "MakePayment", "application_id": a,
                                     "amount": 1_000_000}, GRANTS_OFFICER),
            Template("ReportSpending", {"command_type": "ReportSpending",
                                        "application_id": a, "grant_spent": 500_000,
                                        "self_funding_spent": 100_000}, GRANTS_OFFICER),
            Template("CheckSelfFunding", {"command_type": "CheckSelfFunding",
                                          "application_id": a}, GRANTS_OFFICER),
            Template("CloseProject", {"command_type": "CloseProject", "application_id": a},
                     GRANTS_OFFICER),
        ],
    }


class _Captured(KafkaCommands):
    """The client's own Kafka message, kept instead of sent (so the templates follow
    the published message contract, whatever its version and credentials)."""

    def __init__(self):  # no producer
        self.raw: list[bytes] = []

    async def send_raw(self, raw: bytes, key: str = "x") -> None:
        self.raw.append(raw)


async def message(command: dict, actor: dict, command_id: str = CMD_ID) -> dict:
    """The Kafka form of a command, as the client sends it."""
    captured = _Captured()
    await captured.send(command, actor=actor, command_id=command_id)
    return json.loads(captured.raw[-1])


@cache
def external_templates() -> dict[str, dict]:
    hr = dict(y2021.hr_events()[1], event_id=CMD_ID)
    edu = dict(y2021.education_events()[0], event_id=CMD_ID)
    return {"hr": hr, "education": edu}


def template(service: str, command_type: str) -> Template:
    """The command's template; a bare one for a command this catalogue does not know
    yet (its endpoint is still exercised, with whatever the mutations make of it)."""
    for t in templates()[service]:
        if t.command_type == command_type:
            return t
    return Template(command_type, {"command_type": command_type, "id": "x"}, OFFICER)


class World:
    def __init__(self, services: dict[str, InProcess]):
        self.services = services
        self.serial = 0

    def __getitem__(self, name: str) -> InProcess:
        return self.services[name]

    def fresh_id(self, prefix: str = "h") -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    async def envelopes(self, service: str) -> list[Envelope]:
        return await self.services[service].events_after(0)

    async def feed_scoring(self, service: str, after: int = 0) -> int:
        """Give scoring the events `service` recorded after `after` (as its consumer
        would read them from the events topic); return the last position fed."""
        consumer = {"submission": "submission-facts", "committee": "committee-facts"}[service]
        scoring, source = self.services["scoring"], self.services[service]
        last = after
        for e in await source.events_after(after):
            outcome = await scoring.consumers[consumer].handle(scoring.delivery(
                events_topic(service).name, e.to_json().encode(), e.stream_id.encode()))
            assert outcome in ("applied", "duplicate"), (outcome, scoring.sinks[consumer].sent[-1:])
        async with source.db.reading() as _:
            last = await source.head()
        return last

    async def still_serving(self) -> None:
        """After hostile traffic, valid traffic still flows on every surface."""
        n = self.fresh_id("alive")
        secretary = seeds.secretary_for(n, f"{n}-k")  # a token naming the new committees
        sub, com, gra, sco = (self.services[s] for s in
                              ("submission", "committee", "grants", "scoring"))
        await sub.command(ALL_PATHS["RegisterInstitution"], {
            "command_type": "RegisterInstitution", "institution_id": n, "name_ko": "정상",
            "kind": "bureau"}, y2021.ORG_REGISTRY)
        await com.command(ALL_PATHS["EstablishCommittee"], {
            "command_type": "EstablishCommittee", "committee_id": n,
            "institution_id": "democracy", "name_ko": "정상", "kind": "k"}, secretary)
        await gra.command(ALL_PATHS["RegisterOrganisation"], {
            "command_type": "RegisterOrganisation", "organisation_id": n, "name_ko": "정상",
            "registered_nonprofit": True, "funded_before": False}, grants2021.INTAKE)
        await sco.command(ALL_PATHS["DeclareConflict"], {
            "command_type": "DeclareConflict", "year": 2021, "institution_id": "planning",
            "reason": "정상"}, y2021.expert(f"expert-{n}"))
        commands = {"submission": ({"command_type": "RegisterInstitution",
                                    "institution_id": f"{n}-k", "name_ko": "정상",
                                    "kind": "bureau"}, OFFICER),
                    "committee": ({"command_type": "EstablishCommittee",
                                   "committee_id": f"{n}-k", "institution_id": "democracy",
                                   "name_ko": "정상", "kind": "k"}, secretary),
                    "grants": ({"command_type": "RegisterOrganisation",
                                "organisation_id": f"{n}-k", "name_ko": "정상",
                                "registered_nonprofit": True, "funded_before": False},
                               GRANTS_OFFICER)}
        for name, (command, actor) in commands.items():
            svc = self.services[name]
            head = await svc.head()
            raw = json.dumps(await message(command, actor, n)).encode()
            outcome = await svc.consumers["commands"].handle(svc.delivery(
                f"hyeopchi.{name}.commands", raw))
            recorded = [e.event_type for e in await svc.events_after(head)]
            assert outcome == "applied" and recorded and not any(
                t.endswith("CommandRejected") for t in recorded), (name, outcome, recorded)
        hr = dict(external_templates()["hr"], event_id=f"{n}-hr")
        outcome = await sco.consumers["external-facts"].handle(sco.delivery(
            "hyeopchi.ingress.hr", json.dumps(hr).encode()))
        assert outcome == "applied"


async def build(tmp_path) -> World:
    services = {}
    for name in ("submission", "scoring", "committee", "grants", "audit"):
        services[name] = await harness.start(name, f"sqlite:///{tmp_path / name}.db")
    world = World(services)
    sub, com, gra, sco = (services[s] for s in ("submission", "committee", "grants",
                                                "scoring"))
    P = ALL_PATHS
    await sub.command(P["OpenCycle"], {"command_type": "OpenCycle", "year": 2021,
                                       "deadline": FUTURE}, OFFICER)
    for cmd in y2021.institution_commands():
        await sub.command(P["RegisterInstitution"], cmd, y2021.ORG_REGISTRY)
    for institution in SUBMITTED:
        await sub.command(P["SubmitReport"], _report(institution),
                          y2021.submitter(institution))
    for cmd in [*seeds.advisory_commands(), *seeds.subcommittee_commands()]:
        await com.command(ALL_PATHS[cmd["command_type"]], cmd, SECRETARY)
    for n in (16, 17):
        await com.command(P["ScheduleMeeting"], {
            "command_type": "ScheduleMeeting", "meeting_id": f"{SUB}-{n}",
            "committee_id": SUB, "number": n, "starts_at": f"2021-07-0{n - 10}T14:00:00+09:00",
            "place": "회의실"}, SECRETARY)
    await world.feed_scoring("submission")
    await world.feed_scoring("committee")
    for fact in y2021.hr_events()[:10]:
        assert await sco.consumers["external-facts"].handle(sco.delivery(
            "hyeopchi.ingress.hr", json.dumps(fact).encode())) == "applied"
    for who in y2021.EXPERTS:
        await sco.command(P["AssignExpert"], {
            "command_type": "AssignExpert", "year": 2021, "institution_id": "planning",
            "indicator_id": "governance-case", "expert_id": who}, OFFICER)
    await sco.command(P["PublishProvisionalResults"], {
        "command_type": "PublishProvisionalResults", "year": 2021,
        "appeals_until": FUTURE}, OFFICER)
    await sco.command(P["FileAppeal"], {
        "command_type": "FileAppeal", "year": 2021, "institution_id": "finance",
        "appeal_id": "appeal-0", "indicator_id": "governance-case", "grounds": "재검토"},
        y2021.submitter("finance"))
    await sco.command(P["AssignAppealReviewer"], {
        "command_type": "AssignAppealReviewer", "year": 2021, "institution_id": "finance",
        "appeal_id": "appeal-0", "reviewer_id": APPEAL_REVIEWER}, OFFICER)

    await gra.command(P["OpenRound"], {"command_type": "OpenRound", "year": 2021},
                      GRANTS_OFFICER)
    orgs, apps = grants2021.organisations(), grants2021.applications()
    for n in REVIEWED:
        await gra.command(P["RegisterOrganisation"], orgs[n - 1], grants2021.INTAKE)
        await gra.command(P["ReceiveApplication"], apps[n - 1], grants2021.INTAKE)
    await gra.command(P["CloseApplications"], {"command_type": "CloseApplications",
                                               "round_id": "2021"}, GRANTS_OFFICER)
    for n in REVIEWED:
        await gra.command(P["AssignReviewer"], {"command_type": "AssignReviewer",
                                                "application_id": app_id(n),
                                                "reviewer_id": "reviewer-1"}, GRANTS_OFFICER)
        if n != REVIEWED[1]:  # left for the ScoreApplication template
            await gra.command(P["ScoreApplication"], {
                "command_type": "ScoreApplication", "application_id": app_id(n),
                "scores": grants2021.scores_for(n)}, grants2021.reviewer(1))
    await gra.command(P["DecideSelection"], {"command_type": "DecideSelection",
                                             "round_id": "2021"}, GRANTS_OFFICER)
    for svc in services.values():
        await svc.project()
    await feed_audit(world)
    return world


async def feed_audit(world: World) -> None:
    """The audit timeline follows every service's events topic."""
    audit = world["audit"]
    records = []
    for name in ("submission", "scoring", "committee", "grants"):
        for e in await world.envelopes(name):
            records.append(harness.Record(events_topic(name).name, 0, next(audit.offsets),
                                          e.stream_id.encode(), e.to_json().encode()))
    for runner in audit.runners:
        await harness.feed(runner, records)
