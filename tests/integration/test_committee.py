"""Committee service as its own process on the real broker (SQLite and PostgreSQL):
the two seed meetings, costs, disclosure, the youth quota, refusals, replay."""
from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from scenarios import seeds, y2021
from scenarios.client import KafkaCommands, by_reference, published_events, read, send_http
from services.committee.adapters import read_model
from shared.db import Database
from shared.deadletter import DeadLetters
from shared.projection import checksum, rebuild
from shared.tables import backbone, events
from shared.topics import prefixed
from tests.conftest import BACKENDS
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration
PERSONAL = [f"위원 {x}" for x in "ABCDEFGH"] + [f"자문위원 {n}" for n in range(1, 6)] + \
    [str(y) for y in seeds.BIRTH.values()]


def get(svc, path: str) -> httpx.Response:
    return read(svc.url, f"{path}")


def ok(svc, command: dict, actor: dict = seeds.SECRETARY) -> None:
    answer = send_http(svc.url, command, actor)
    assert answer.status_code == 201, answer.text


async def stored_events(url: str) -> int:
    db = Database(url, backbone)
    async with db.reading() as conn:
        n = await conn.scalar(select(func.count()).select_from(events))
    await db.dispose()
    return n


@BACKENDS
async def test_seed_meetings_quota_disclosure_and_replay(stack, kafka_bootstrap, make_db_url):
    [svc] = stack("committee")
    for command in seeds.advisory_commands():  # seed 000 over HTTP
        ok(svc, command)
    async with KafkaCommands(kafka_bootstrap, svc.prefix, "committee") as kafka:
        for command in [*seeds.subcommittee_commands(), seeds.meeting_13_minutes()]:
            await kafka.send(by_reference(svc.url, command, seeds.SECRETARY),
                             actor=seeds.SECRETARY,  # seed 001 over Kafka
                             key=seeds.SUBCOMMITTEE)

    cost = get(svc, "/meetings/gov-eval-advisory-1").json()
    assert (cost["allowance_total"], cost["other_costs"], cost["total_cost"]) == \
        (750_000, 363_000, 1_113_000)
    assert cost["allowance_rule_ref"] == "allowance/v1"

    m13 = await wait_until(lambda: _minuted(svc, "democracy-governance-13"), timeout=300)
    assert [(i["number"], i["kind"], i["owning_team"]) for i in m13["agenda"]] == [
        ("2021-11", "report", "협치기획팀"), ("2021-12", "report", "시정협치팀"),
        ("2021-13", "report", "공익활동지원팀"), ("2021-14", "advisory", "협치기획팀")]
    assert m13["agenda"][0]["title"] == "2021년도 협치역량평가 시행계획"
    assert m13["next_meeting"] == {"number": 14, "starts_at": "2021-05-06T14:00:00+09:00"}
    assert (m13["starts_at"], m13["ends_at"]) == ("2021-04-01T14:00:00+09:00",
                                                  "2021-04-01T15:30:00+09:00")
    assert m13["attendance"] == {"in_person": 4, "remote": 0} and len(m13["officials"]) == 4

    public = get(svc, "/public/meetings/democracy-governance-13").json()
    assert public["disclosure"] == "partly_public" and public["withheld"] == "reason code 6"
    assert "summary" not in public and len(public["agenda"]) == 4
    assert {a["disclosure"] for a in public["attachments"]} == {"closed"}

    # The youth quota: below 15% needs the youth office head's co-approval.
    ok(svc, {"command_type": "DismissMember", "committee_id": seeds.SUBCOMMITTEE,
             "member_id": "member-g", "dismissed_on": "2021-06-01", "reason": "사임"})
    appoint = {"command_type": "AppointMember", "committee_id": seeds.SUBCOMMITTEE,
               "member_id": "member-i", "role": "member", "channel": "recommendation",
               "appointed_on": "2021-06-15",
               "personal": {"name": "위원 I", "birth_date": "1960-09-03"}}
    refused = send_http(svc.url, appoint, seeds.SECRETARY)
    assert refused.status_code == 409 and refused.json()["type"].endswith("youth-quota")
    assert "12%" in refused.json()["detail"] and "youth office head" in refused.json()["detail"]
    ok(svc, {"command_type": "ApproveYouthQuotaException", "committee_id": seeds.SUBCOMMITTEE,
             "member_id": "member-i", "reason": "전문성 확보 (청년청장 협조)"}, seeds.YOUTH_HEAD)
    ok(svc, appoint)

    # Refusals: each specific, nothing stored.
    before = await stored_events(svc.database_url)
    base = seeds.meeting_13()
    for words, status, command in [
            ("'no-such' is not established", 404,
             {**base, "meeting_id": "x-1", "committee_id": "no-such"}),
            ("member-h did not serve", 422, {**base, "meeting_id": "x-2", "starts_at":
                                             "2020-04-01T14:00:00+09:00", "ends_at":
                                             "2020-04-01T15:00:00+09:00", "attendees": [
                                                 {"member_id": "member-h",
                                                  "attendance": "in_person"}]}),
            ("2021-11 repeat", 422, {**base, "meeting_id": "x-3",
                                     "agenda": [base["agenda"][0], base["agenda"][0]]}),
            ("before it starts", 422, {**base, "meeting_id": "x-4",
                                       "ends_at": "2021-04-01T13:00:00+09:00"})]:
        # a secretary scoped to the unknown committee too: the refusal is the domain's
        actor = seeds.secretary_for(*seeds.SECRETARY["committees"], command["committee_id"])
        answer = send_http(svc.url, command, actor)
        assert answer.status_code == status and words in answer.json()["detail"], answer.text
    assert await stored_events(svc.database_url) == before

    report = await wait_until(lambda: _report(svc, "democracy", 2021), timeout=300)
    [card] = report["committees"]
    assert card["members"] == 8 and card["youth_share"] == "0.1250"
    assert card["below_youth_quota"] and card["exception_approved"]
    assert report["meetings_held"] == 1 and report["meetings_held_by_mode"]["in_person"] == 1
    outputs = json.dumps([report, public, m13, cost,
                          get(svc, "/public/institutions/democracy/meetings?year=2021").json()],
                         ensure_ascii=False)
    assert not [p for p in PERSONAL if p in outputs]  # no name, no birth date, anywhere
    svc.stop()

    with prefixed(svc.prefix):  # that deployment's topics
        projection = read_model.CommitteeProjection()
    live = Database(svc.database_url, backbone, read_model.metadata)
    fresh = Database(make_db_url(), backbone, read_model.metadata)
    rebuilt, counts, _ = await rebuild(projection, fresh,
                                       kafka_bootstrap, DeadLetters("rebuild", _refuse))
    assert counts["rm_meetings"] == 2 and counts["rm_members"] == 14
    assert rebuilt == (await checksum(live, read_model.metadata))[0]
    await live.dispose()
    await fresh.dispose()


async def _minuted(svc, meeting_id: str):
    answer = get(svc, f"/meetings/{meeting_id}")
    return answer.json() if answer.status_code == 200 and answer.json()["disclosure"] else None


async def _report(svc, institution: str, year: int):
    report = get(svc, f"/institutions/{institution}/committee-report/{year}").json()
    return report if report["committees"] and report["committees"][0]["members"] == 8 \
        else None


async def _held(bootstrap, prefix):
    return [e for e in await published_events(bootstrap, prefix, "committee")
            if e.event_type == "committee.MeetingHeld"]


async def _refuse(*_):
    raise AssertionError("a rebuild of valid history must not dead-letter anything")


async def test_scoring_sees_a_meeting_held_as_evidence(stack, kafka_bootstrap):
    sub, sco, com = stack("submission", "scoring", "committee")
    ok(sub, {"command_type": "OpenCycle", "year": 2021,
             "deadline": "2031-01-01T00:00:00+09:00"}, y2021.OFFICER)
    ok(sub, next(c for c in y2021.institution_commands()
                 if c["institution_id"] == "democracy"), y2021.OFFICER)
    report = y2021.report_command("democracy", __import__("random").Random(5))
    report["results"] = [r for r in report["results"]
                         if r["indicator_id"] != "committee-meetings"] + [{
        "indicator_id": "committee-meetings", "meeting_records": [{
            "committee_id": seeds.SUBCOMMITTEE, "held_on": "2021-04-01", "mode": "in_person",
            "minutes_ref": "democracy-governance-13"}]}]
    report["not_applicable"] = [n for n in report["not_applicable"]
                                if n["indicator_id"] != "committee-meetings"]
    ok(sub, report, y2021.submitter("democracy"))
    for command in seeds.subcommittee_commands():
        ok(com, command)
    # The HTTP answer comes at commit; the outbox relay publishes a moment later.
    [held] = await wait_until(lambda: _held(kafka_bootstrap, com.prefix), timeout=300)

    async def evidence():
        card = get(sco, "/cycles/2021/scorecards/democracy")
        if card.status_code != 200:
            return None
        row = {i["indicator_id"]: i for i in card.json()["indicators"]}["committee-meetings"]
        return row if row["measure"].get("meetings_on_record") == 1 else None
    row = await wait_until(evidence, timeout=300)
    assert held.event_id in row["inputs"] and row["source"] == "measured"
