"""Grants service as its own process on the real broker (SQLite and PostgreSQL): the
2021 round from 418 applications to the report's figures, refusals, execution and a
self-funding penalty, and the selection replayed from offset 0."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scenarios import grants2021 as g
from scenarios.client import read, send_http
from services.grants.adapters import read_model
from shared.db import Database
from shared.deadletter import DeadLetters
from shared.projection import checksum, rebuild
from shared.tables import backbone
from shared.topics import prefixed
from tests.conftest import BACKENDS
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration


def ok(svc, command: dict, actor: dict = g.OFFICER) -> dict:
    answer = send_http(svc.url, command, actor)
    assert answer.status_code == 201, answer.text
    return answer.json()


def refused(svc, command: dict, status: int, kind: str, actor: dict = g.OFFICER) -> str:
    answer = send_http(svc.url, command, actor)
    assert (answer.status_code, answer.json()["type"].split(":")[-1]) == (status, kind), \
        answer.text
    return answer.json()["detail"]


def summary(svc) -> dict:
    return read(svc.url, "/rounds/2021/summary").json()


async def until(svc, check, timeout: float = 600):  # waits, not speed claims
    async def probe():
        s = summary(svc)
        return s if check(s) else None
    return await wait_until(probe, timeout=timeout)


@BACKENDS
async def test_2021_round_reads_like_the_report(stack, kafka_bootstrap, make_db_url):
    [svc] = stack("grants")
    ok(svc, {"command_type": "OpenRound", "year": 2021})
    await g.send_applications(kafka_bootstrap, svc.prefix)
    await until(svc, lambda s: s["applied"] == 418)

    ok(svc, {"command_type": "RegisterOrganisation", "organisation_id": "org-extra",
             "name_ko": "추가 단체", "registered_nonprofit": True, "funded_before": False})
    too_much = {**g.applications()[40], "application_id": "2021-x1",
                "organisation_id": "org-extra", "requested_amount": 35_000_000}
    assert "at most 30,000,000" in refused(svc, too_much, 422, "over-cap")
    twice = {**g.applications()[40], "application_id": "2021-x2"}
    assert "one project per organisation" in refused(svc, twice, 409, "invalid-state")
    ok(svc, {"command_type": "CloseApplications", "round_id": "2021"})
    late = {**g.applications()[40], "application_id": "2021-x3", "organisation_id": "org-late"}
    refused(svc, late, 409, "round-closed")
    ok(svc, {"command_type": "ScreenApplications", "round_id": "2021"})
    screened = await until(svc, lambda s: s["excluded"] == 31)
    assert screened["excluded_by_reason"] == {"not_registered": 19, "poor_past_evaluation": 12}

    await g.send_reviews(kafka_bootstrap, svc.prefix)
    await until(svc, lambda s: s["reviews_complete"] == 387)
    ok(svc, {"command_type": "DecideSelection", "round_id": "2021"})
    report = await until(svc, lambda s: s["selected"] > 0)

    assert (report["applied"], report["excluded"], report["reviewed"]) == (418, 31, 387)
    assert (report["selected"], report["selected_new"], report["selected_existing"]) == \
        (136, 81, 55)
    assert report["new_share"] == "0.596" and report["reviewed_fields"] == 12
    assert len(report["selected_by_field"]) == 12
    assert report["budget_committed"] <= 2_000_000_000 and report["largest_award"] <= 30_000_000
    for words in ("418개 단체 신청", "31개 단체 제외", "12개 분야 387개 단체", "136개 사업 선정",
                  "신규 81건, 기존단체 55건", "신규 비율 59.6%"):
        assert words in report["paragraph"]

    unselected, cut = await _one_unselected_and_one_cut(svc)
    refused(svc, {"command_type": "OverrideSelection", "round_id": "2021",
                  "application_id": unselected, "selected": True, "award": 14_700_000,
                  "reason": "위원회 재심"}, 409, "over-budget")
    refused(svc, {"command_type": "MakePayment", "application_id": unselected,
                  "amount": 1_000_000}, 409, "not-selected")
    award = read(svc.url, f"/applications/{cut}").json()["decision"]["award"]
    assert "plan must be revised" in refused(svc, {"command_type": "MakePayment",
                                                   "application_id": cut, "amount": award},
                                             409, "invalid-state")
    for command in [{"command_type": "RevisePlan", "application_id": cut,
                     "revised_summary": "지원액에 맞춰 사업 규모 축소"},
                    {"command_type": "MakePayment", "application_id": cut, "amount": award},
                    {"command_type": "ReportSpending", "application_id": cut,
                     "grant_spent": award * 9 // 10, "self_funding_spent": 100_000},
                    {"command_type": "CheckSelfFunding", "application_id": cut}]:
        ok(svc, command)
    executed = await until(svc, lambda s: s["self_funding_checked"] == 1)
    required = -(-award * 9 // 10 * 5 // 100)  # 5% of the 90% executed, rounded up
    assert executed["self_funding_short"] == 1 and executed["penalties"] == required - 100_000
    svc.stop()

    with prefixed(svc.prefix):  # that deployment's topics
        projection = read_model.GrantsProjection()
    live = Database(svc.database_url, backbone, read_model.metadata)
    fresh = Database(make_db_url(), backbone, read_model.metadata)
    rebuilt, counts, _ = await rebuild(projection, fresh, kafka_bootstrap,
                                       DeadLetters("rebuild", _refuse))
    assert counts["rm_applications"] == 418 and counts["rm_decisions"] == 387
    assert rebuilt == (await checksum(live, read_model.metadata))[0]
    async with live.reading() as a, fresh.reading() as b:  # the same reasons, word for word
        q = select(read_model.decisions).order_by(read_model.decisions.c.application_id)
        assert (await a.execute(q)).all() == (await b.execute(q)).all()
    await live.dispose()
    await fresh.dispose()


async def _one_unselected_and_one_cut(svc) -> tuple[str, str]:
    unselected = cut = None
    for n in g.reviewed_numbers():
        app = read(svc.url, f"/applications/2021-{n:04d}").json()
        d = app["decision"]
        if not d["selected"] and unselected is None:
            unselected = app["application_id"]
        if d["selected"] and d["award"] < app["requested"] and cut is None:
            cut = app["application_id"]
    return unselected, cut


async def _refuse(*_):
    raise AssertionError("a rebuild of valid history must not dead-letter anything")
