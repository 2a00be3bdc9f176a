"""Scoring end to end: submission and scoring as their own processes, the real broker,
HR and education facts over Kafka, experts, the panel, an appeal, sign-off, replay."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from scenarios import y2021
from scenarios.client import KafkaCommands, read, send_external, send_http
from services.scoring.adapters import read_model
from services.scoring.adapters import facts_store as facts
from services.scoring.app.scoring import SYSTEM, expert_event_ids, expert_inputs
from services.scoring.domain.cycle import ScoringCycle, scoring_stream
from services.scoring.domain.events import registry
from services.scoring.domain.rules import score_institution
from services.scoring.domain.scorecard import Scorecard, scorecard_stream
from shared.application import Repository, UnitOfWork
from shared.db import Database
from shared.deadletter import DeadLetters
from shared.projection import checksum, rebuild
from shared.store import EventStore
from shared.tables import backbone
from shared.topics import prefixed
from tests.conftest import BACKENDS
from tests.integration.helpers import REPO, wait_until

pytestmark = pytest.mark.integration
SOON = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
MAX = {"committee-openness": 20, "committee-meetings": 20, "governance-process": 20,
       "governance-education": 10, "governance-case": 15, "governance-leadership": 15}


def get(svc, path: str):
    return read(svc.url, f"{path}").json()


async def feed_2021(sub, sco, bootstrap: str) -> list[dict]:
    """Cycle, institutions, HR headcounts, MOOC completions, 44 reports."""
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": SOON}).status_code == 201
    async with KafkaCommands(bootstrap, sub.prefix) as kafka:
        for command in y2021.institution_commands():
            await kafka.send(command, actor=y2021.ORG_REGISTRY)
    await wait_until(lambda: _registered(sub), timeout=300)
    await send_external(bootstrap, f"{sub.prefix}.ingress.hr", y2021.hr_events())
    await send_external(bootstrap, f"{sub.prefix}.ingress.education", y2021.education_events())
    reports = y2021.reports()
    for report in reports:
        answer = send_http(sub.url, report, y2021.submitter(report["institution_id"]))
        assert answer.status_code == 201, answer.text
    return reports


async def _registered(sub) -> bool:
    return len(get(sub, "/institutions")) == 47


async def scored(sco, wanted):
    cards = get(sco, "/cycles/2021/scorecards")
    return cards if wanted(cards) else None


def expert_work(reports: list[dict]) -> list[tuple[str, str]]:
    return [(r["institution_id"], i["indicator_id"]) for r in reports for i in r["results"]
            if i["indicator_id"] in y2021.EXPERT_INDICATORS]


@BACKENDS
async def test_2021_scoring_from_reports_to_signed_off_ranking(stack, kafka_bootstrap,
                                                               make_db_url):
    sub, sco = stack("submission", "scoring")
    reports = await feed_2021(sub, sco, kafka_bootstrap)
    work = expert_work(reports)
    cards = await wait_until(lambda: scored(sco, y2021.all_evidence_in(reports)),
                             timeout=600)  # a wait, not a speed claim
    by_id = {c["institution_id"]: {i["indicator_id"]: i for i in c["indicators"]}
             for c in cards}

    # A missing indicator shows 30 (of 100) as "base"; not submitting at all gives 30.
    report = next(r for r in reports if len({i["indicator_id"] for i in r["results"]}
                                            | {n["indicator_id"] for n in r["not_applicable"]}) < 6)
    left_out = next(i for i in MAX if i not in {x["indicator_id"] for x in report["results"]}
                    and i not in {n["indicator_id"] for n in report["not_applicable"]})
    row = by_id[report["institution_id"]][left_out]
    assert row["source"] == "base" and "base score 30" in row["explanation"]
    assert Decimal(row["computed_points"]) == Decimal(MAX[left_out]) * Decimal("0.3")
    silent = next(c for c in cards if c["institution_id"] == "emergency")
    assert Decimal(silent["total"]) == Decimal("30.00")
    assert {i["source"] for i in silent["indicators"]} == {"base"}

    # Experts: assignment, conflict, refusals, scores.
    officer, panel = y2021.OFFICER, y2021.PANEL_MEMBER
    for institution, indicator in work:
        for e in y2021.EXPERTS:
            answer = send_http(sco.url, {"command_type": "AssignExpert", "year": 2021,
                                         "institution_id": institution,
                                         "indicator_id": indicator, "expert_id": e}, officer)
            assert answer.status_code == 201, answer.text
    conflicted_at, conflict_indicator = work[0]
    assert send_http(sco.url, {"command_type": "DeclareConflict", "year": 2021,
                               "institution_id": conflicted_at,
                               "reason": "자문 계약 관계 (advisory contract)"},
                     y2021.expert("expert-park")).status_code == 201
    refusals = [
        ("expert-park", conflicted_at, conflict_indicator, "10", 403, "conflict-of-interest"),
        ("expert-nobody", conflicted_at, conflict_indicator, "10", 403, "expert-not-assigned"),
        ("expert-kim", conflicted_at, conflict_indicator, "15.5", 422, "score-out-of-range")]
    for who, institution, indicator, points, status, kind in refusals:
        answer = send_http(sco.url, {"command_type": "GiveExpertScore", "year": 2021,
                                     "institution_id": institution, "indicator_id": indicator,
                                     "points": points, "comment": "평가"}, y2021.expert(who))
        assert (answer.status_code, answer.json()["type"].split(":")[-1]) == (status, kind)
    for institution, indicator in work:
        for e, points in y2021.expert_scores(institution, indicator, MAX[indicator]).items():
            if e == "expert-park" and institution == conflicted_at:
                continue
            answer = send_http(sco.url, {"command_type": "GiveExpertScore", "year": 2021,
                                         "institution_id": institution,
                                         "indicator_id": indicator, "points": points,
                                         "comment": "사례의 구체성과 시민 참여 수준"},
                               y2021.expert(e))
            assert answer.status_code == 201, answer.text
    cards = await wait_until(lambda: scored(sco, lambda cs: not any(
        i["source"] == "pending" for c in cs for i in c["indicators"])), timeout=300)
    case = {c["institution_id"]: {i["indicator_id"]: i for i in c["indicators"]}
            for c in cards}[conflicted_at][conflict_indicator]
    given = y2021.expert_scores(conflicted_at, conflict_indicator, MAX[conflict_indicator])
    mean_of_two = (Decimal(given["expert-kim"]) + Decimal(given["expert-lee"])) / 2
    assert case["source"] == "expert"
    assert Decimal(case["computed_points"]) == mean_of_two.quantize(Decimal("0.01"))

    # The panel adjusts with a reason (without one: refused); the original stays visible.
    target, target_indicator = work[1]
    no_reason = send_http(sco.url, {"command_type": "AdjustScore", "year": 2021,
                                    "institution_id": target, "indicator_id": target_indicator,
                                    "to_points": "12"}, panel)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    assert send_http(sco.url, {"command_type": "AdjustScore", "year": 2021,
                               "institution_id": target, "indicator_id": target_indicator,
                               "to_points": "12", "reason": "단일 과 국: 사업소 수준 조정"},
                     panel).status_code == 201

    # Provisional results, an appeal decided by someone who did not score it.
    window = datetime.now(timezone.utc) + timedelta(seconds=8)
    assert send_http(sco.url, {"command_type": "PublishProvisionalResults", "year": 2021,
                               "appeals_until": window.isoformat()}, officer).status_code == 201
    appellant, appealed = work[2]
    assert send_http(sco.url, {"command_type": "FileAppeal", "year": 2021,
                               "institution_id": appellant, "appeal_id": "A-2021-1",
                               "indicator_id": appealed, "grounds": "증빙 누락 반영 요청"},
                     y2021.submitter(appellant)).status_code == 201
    early = send_http(sco.url, {"command_type": "SignOff", "year": 2021}, panel)
    assert early.status_code == 409 and "appeal window is open" in early.json()["detail"]
    own_scorer = send_http(sco.url, {"command_type": "AssignAppealReviewer", "year": 2021,
                                     "institution_id": appellant, "appeal_id": "A-2021-1",
                                     "reviewer_id": "expert-kim"}, officer)
    assert own_scorer.status_code == 403
    assert send_http(sco.url, {"command_type": "AssignAppealReviewer", "year": 2021,
                               "institution_id": appellant, "appeal_id": "A-2021-1",
                               "reviewer_id": "reviewer-choi"}, officer).status_code == 201
    assert send_http(sco.url, {"command_type": "DecideAppeal", "year": 2021,
                               "institution_id": appellant, "appeal_id": "A-2021-1",
                               "upheld": True, "to_points": "14",
                               "reason": "누락 증빙 확인"},
                     y2021.expert("reviewer-choi")).status_code == 201
    await asyncio.sleep(max(0.0, (window - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    signed = send_http(sco.url, {"command_type": "SignOff", "year": 2021}, panel)
    assert signed.status_code == 201, signed.text
    results = await wait_until(lambda: _final(sco), timeout=300)
    after = send_http(sco.url, {"command_type": "AdjustScore", "year": 2021,
                                "institution_id": target, "indicator_id": target_indicator,
                                "to_points": "1", "reason": "too late"}, panel)
    assert after.status_code == 409 and after.json()["type"].endswith("signed-off")

    ranking = results["ranking"]
    assert len(ranking) == 47 and [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    final = {r["institution_id"]: r for r in ranking}
    assert final[target]["scores"][target_indicator] == "12.00"
    assert final[appellant]["scores"][appealed] == "14.00"
    live_cards = {c["institution_id"]: c for c in get(sco, "/cycles/2021/scorecards")}
    assert all(Decimal(final[i]["total"]) == Decimal(c["total"]) for i, c in live_cards.items())
    adjusted = {i["indicator_id"]: i for i in live_cards[target]["indicators"]}[target_indicator]
    assert adjusted["adjustment"]["reason"] == "단일 과 국: 사업소 수준 조정"
    assert adjusted["computed_points"] != adjusted["effective_points"] == "12.00"
    sco.stop()

    await _same_scores_from_same_inputs(sco.database_url)
    with prefixed(sco.prefix):  # that deployment's topics
        projection = read_model.ScorecardProjection()
    live = Database(sco.database_url, backbone, read_model.metadata)
    fresh = Database(make_db_url(), backbone, read_model.metadata)
    rebuilt, counts, _ = await rebuild(projection, fresh,
                                       kafka_bootstrap, DeadLetters("rebuild", _refuse))
    assert counts["rm_scores"] == 47 * 6 and counts["rm_appeals"] == 1
    assert rebuilt == (await checksum(live, read_model.metadata))[0]
    await live.dispose()
    await fresh.dispose()


async def _final(sco):
    answer = read(sco.url, "/cycles/2021/results")
    return answer.json() if answer.status_code == 200 else None


async def _refuse(*_):
    raise AssertionError("a rebuild of valid history must not dead-letter anything")


async def _same_scores_from_same_inputs(url: str) -> None:
    """Recompute every scorecard from the recorded facts under the recorded rulebook:
    the rules give exactly the scores the service recorded."""
    db = Database(url, backbone)
    store, sql_facts = EventStore("scoring", "unused"), facts.SqlFacts()
    async with db.reading() as conn:
        uow = UnitOfWork(conn, Repository(store, registry), SYSTEM, "check")
        cycle = await uow.get(ScoringCycle, scoring_stream(2021))
        rulebook = cycle.state.rulebook
        courses = [c for i in rulebook["indicators"] for c in i.get("online_courses", {})]
        for institution_id in await sql_facts.institution_ids(uow):
            card = await uow.get(Scorecard, scorecard_stream(2021, institution_id))
            ids = expert_event_ids(await store.read_stream(conn, card.stream_id))
            scores, events = expert_inputs(card, ids)
            known = replace(await sql_facts.known(uow, "2021", institution_id, courses),
                            expert_scores=scores, expert_score_events=events)
            again = score_institution(rulebook, known)
            recorded = card.state.computed
            assert [(s.indicator_id, s.points, s.source, list(s.inputs)) for s in again] == [
                (i, recorded[i].points, recorded[i].source, recorded[i].inputs)
                for i in (s.indicator_id for s in again)]
    await db.dispose()


async def test_a_new_rulebook_version_rescores_before_sign_off(stack, kafka_bootstrap,
                                                               tmp_path):
    rulebooks = tmp_path / "rulebooks"
    rulebooks.mkdir()
    shipped = json.loads((REPO / "services/submission/rulebooks/2021.json").read_text())
    (rulebooks / "2021.json").write_text(json.dumps(shipped, ensure_ascii=False))
    revised = {**shipped, "version": 2, "base_score_missing": 40}
    (rulebooks / "2021-v2.json").write_text(json.dumps(revised, ensure_ascii=False))
    sub, sco = stack("submission", "scoring", env={"RULEBOOK_DIR": str(rulebooks)})
    assert send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                               "deadline": SOON}).status_code == 201
    for command in y2021.institution_commands()[:2]:
        assert send_http(sub.url, command).status_code == 201
    first = y2021.institution_commands()[0]["institution_id"]

    async def base_openness(points: str, ref: str):
        card = read(sco.url, f"/cycles/2021/scorecards/{first}")
        if card.status_code != 200:
            return None
        row = {i["indicator_id"]: i for i in card.json()["indicators"]}["committee-openness"]
        return row if (row["computed_points"], row["rulebook_ref"]) == (points, ref) else None
    v1 = await wait_until(lambda: base_openness("6.00", "governance-capability/2021/v1"),
                          timeout=300)
    assert v1["source"] == "base"
    missing_file = send_http(sub.url, {"command_type": "ReviseRulebook", "year": 2021,
                                       "version": 3, "reason": "no such file"})
    assert missing_file.status_code == 422 and "2021-v3.json" in missing_file.json()["detail"]
    assert send_http(sub.url, {"command_type": "ReviseRulebook", "year": 2021, "version": 2,
                               "reason": "기본점수 상향 (base score raised)"}).status_code == 201
    v2 = await wait_until(lambda: base_openness("8.00", "governance-capability/2021/v2"),
                          timeout=300)
    assert "base score 40" in v2["explanation"]
