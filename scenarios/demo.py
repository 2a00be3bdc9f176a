"""The main job (`hyeopchi demo`): broker + services on SQLite, then the 2021 cycle.

Starts a real Kafka broker and each service as its own process, plays the 2021
governance capability evaluation as city systems and people would (Kafka and HTTP):
reports, refusals, a missed deadline and a reopening, scores with their sources,
experts, a panel adjustment, an appeal, sign-off; then checks every hash chain and
rebuilds each read model from offset 0 to its live checksum. State: .run/demo/.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections import Counter
from datetime import datetime, timedelta, timezone

import services as registry
from scenarios import grants2021, seeds, y2021
from scenarios.client import (KafkaCommands, by_reference, published_events, read,
                              send_external, send_http)
from scenarios.processes import KAFKA_SH, REPO, ServiceProcess, script, wait_until
from shared.db import Database
from shared.deadletter import header
from shared.kafka_io import read_topic
from shared.store import verify_database

RUN = REPO / ".run" / "demo"
STEPS = 12
NOW = lambda: datetime.now(timezone.utc)  # noqa: E731


def say(step: int, text: str) -> None:
    print(f"[{step}/{STEPS}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(svc: ServiceProcess, path: str):
    return read(svc.url, f"{path}").json()


def main(args) -> int:
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    os.environ["HYEOPCHI_RUN_DIR"] = str(RUN)
    print("hyeopchi demo — the 2021 governance capability evaluation, end to end\n")
    say(1, "starting a real Kafka broker (KRaft, jars from Maven Central) ...")
    bootstrap = script(KAFKA_SH, "start", "--name", "demo", "--port", free_port(),
                       "--controller-port", free_port())
    print(f"      broker at {bootstrap}")
    services = [ServiceProcess(name, database_url=f"sqlite:///{RUN}/{name}.db",
                               bootstrap=bootstrap, port=free_port(), topic_prefix="hyeopchi",
                               log_path=RUN / f"{name}.log")
                for name in registry.BUSINESS]
    try:
        for svc in services:
            svc.start()
        say(2, "services up, each its own process with its own SQLite database: " +
            ", ".join(f"{s.service} {s.url}/docs" for s in services))
        return asyncio.run(play(*services, bootstrap))
    finally:
        if args.keep_running:
            print(f"\nleft running; stop with: kill {' '.join(str(s.proc.pid) for s in services)}"
                  f"; HYEOPCHI_RUN_DIR={RUN} {KAFKA_SH} stop --name demo")
        else:
            for svc in services:
                svc.stop()
            script(KAFKA_SH, "stop", "--name", "demo")


async def play(sub: ServiceProcess, sco: ServiceProcess, com: ServiceProcess,
               gra: ServiceProcess, bootstrap: str) -> int:
    reports = await submissions(sub, bootstrap)
    await refusals(sub, bootstrap)
    await late_amendment(sub, reports[0])
    await committees(com, bootstrap)
    await scoring(sco, reports)
    await grants(gra, bootstrap)
    return await audit([sub, sco, com, gra], bootstrap)


async def grants(gra: ServiceProcess, bootstrap: str) -> None:
    def summary() -> dict:
        return get(gra, "/rounds/2021/summary")

    async def until(check):
        return await wait_until(lambda: _when(summary, check), timeout=600)
    send_http(gra.url, {"command_type": "OpenRound", "year": 2021}, grants2021.OFFICER)
    await grants2021.send_applications(bootstrap, "hyeopchi")
    await until(lambda s: s["applied"] == 418)
    for command in ({"command_type": "CloseApplications", "round_id": "2021"},
                    {"command_type": "ScreenApplications", "round_id": "2021"}):
        send_http(gra.url, command, grants2021.OFFICER)
    await grants2021.send_reviews(bootstrap, "hyeopchi")
    await until(lambda s: s["reviews_complete"] == 387)
    send_http(gra.url, {"command_type": "DecideSelection", "round_id": "2021"},
              grants2021.OFFICER)
    report = await until(lambda s: s["selected"] > 0)
    say(11, "grants: 418 applications from the intake system over Kafka, screened, reviewed "
            "(one reviewer conflicted out), selected by the round's rules:")
    print(f"      {report['paragraph']}")


async def _when(summary, check):
    found = summary()
    return found if "applied" in found and check(found) else None


async def committees(com: ServiceProcess, bootstrap: str) -> None:
    for command in seeds.advisory_commands():
        send_http(com.url, command, seeds.SECRETARY)
    async with KafkaCommands(bootstrap, "hyeopchi", "committee") as kafka:
        for command in [*seeds.subcommittee_commands(), seeds.meeting_13_minutes()]:
            await kafka.send(by_reference(com.url, command, seeds.SECRETARY),
                             actor=seeds.SECRETARY, key=seeds.SUBCOMMITTEE)
    m13 = await wait_until(lambda: _minuted(com, "democracy-governance-13"), timeout=300)
    cost = get(com, "/meetings/gov-eval-advisory-1")
    say(8, f"committee: the 2019 advisory meeting cost {cost['allowance_total']:,} + "
           f"{cost['other_costs']:,} = {cost['total_cost']:,} KRW under "
           f"{cost['allowance_rule_ref']}; the 13th subcommittee meeting (over Kafka): "
           + ", ".join(f"{i['number']} {i['kind']}" for i in m13["agenda"])
           + f"; next: #{m13['next_meeting']['number']} {m13['next_meeting']['starts_at']}")
    send_http(com.url, {"command_type": "DismissMember", "committee_id": seeds.SUBCOMMITTEE,
                        "member_id": "member-g", "dismissed_on": "2021-06-01",
                        "reason": "사임"}, seeds.SECRETARY)
    appoint = {"command_type": "AppointMember", "committee_id": seeds.SUBCOMMITTEE,
               "member_id": "member-i", "role": "member", "channel": "recommendation",
               "appointed_on": "2021-06-15",
               "personal": {"name": "위원 I", "birth_date": "1960-09-03"}}
    refused = send_http(com.url, appoint, seeds.SECRETARY)
    send_http(com.url, {"command_type": "ApproveYouthQuotaException",
                        "committee_id": seeds.SUBCOMMITTEE, "member_id": "member-i",
                        "reason": "전문성 확보"}, seeds.YOUTH_HEAD)
    accepted = send_http(com.url, appoint, seeds.SECRETARY)
    public = get(com, "/public/meetings/democracy-governance-13")
    print(f"      youth quota: appointment refused (HTTP {refused.status_code}: "
          f"{refused.json()['detail'][:70]}…), accepted after the youth office head's "
          f"co-approval (HTTP {accepted.status_code}); public view: "
          f"{public['disclosure']}, {public['withheld']}, "
          f"{len(public['attachments'])} attachments closed, no names")


async def submissions(sub: ServiceProcess, bootstrap: str) -> list[dict]:
    send_http(sub.url, {"command_type": "OpenCycle", "year": 2021,
                        "deadline": (NOW() + timedelta(days=30)).isoformat()}, y2021.OFFICER)
    rulebook = get(sub, "/rulebooks/2021")
    say(3, f"governance office opened cycle 2021 under rulebook {rulebook['rulebook_id']}"
           f"/2021/v{rulebook['version']} (base score {rulebook['base_score_missing']}, "
           f"{len(rulebook['indicators'])} indicators, {len(rulebook['assumptions'])} "
           "assumptions stated)")
    async with KafkaCommands(bootstrap, "hyeopchi") as kafka:
        for command in y2021.institution_commands():
            await kafka.send(command, actor=y2021.ORG_REGISTRY)
        await wait_until(lambda: _count(sub, "/institutions", 47), timeout=300)
        kinds = Counter(k for _, _, k in y2021.INSTITUTIONS)
        hr, edu = y2021.hr_events(), y2021.education_events()
        await send_external(bootstrap, "hyeopchi.ingress.hr", hr)
        await send_external(bootstrap, "hyeopchi.ingress.education", edu)
        say(4, f"org registry registered 47 institutions over Kafka {dict(kinds)}; HR sent "
               f"{len(hr)} headcounts, the MOOC platform {len(edu)} course completions")
        reports = y2021.reports()
        for n, report in enumerate(reports):
            who = y2021.submitter(report["institution_id"])
            if n % 2:
                await kafka.send(report, actor=who)
            else:
                send_http(sub.url, report, who)
        await wait_until(lambda: _reports(sub, lambda r: r["status"] == "submitted",
                                          len(reports)), timeout=300)
    say(5, f"{len(reports)} reports received ({(len(reports) + 1) // 2} over HTTP, "
           f"{len(reports) // 2} over Kafka); {len(y2021.NOT_SUBMITTING)} institutions "
           "did not submit")
    return reports


async def refusals(sub: ServiceProcess, bootstrap: str) -> None:
    say(6, "bad input is refused with a reason and stores nothing:")
    foreign = y2021.report_command("finance", __import__("random").Random(3))
    for command, actor in [*((c, y2021.submitter(c["institution_id"]))
                             for _words, c in y2021.bad_reports()),
                           (foreign, y2021.submitter("emergency")), (foreign, None)]:
        answer = send_http(sub.url, command, actor)
        print(f"      HTTP {answer.status_code} {answer.json()['type'].split(':')[-1]}: "
              f"{answer.json()['detail'][:100]}")
    async with KafkaCommands(bootstrap, "hyeopchi") as kafka:
        await kafka.send(y2021.bad_reports()[0][1], actor=y2021.submitter("emergency"))
        await kafka.send_raw(b'{"command_id": "broken", "command": ')
    rejected = await wait_until(lambda: _of_type(bootstrap, "CommandRejected"), timeout=300)
    print(f"      Kafka: CommandRejected ({rejected[0].payload['refusal']}): "
          f"{rejected[0].payload['detail'][:80]}")
    parked = await wait_until(lambda: read_topic(bootstrap, "hyeopchi.submission.commands.dlq"))
    print(f"      Kafka: malformed JSON parked in hyeopchi.submission.commands.dlq: "
          f"{header(parked[0].headers, 'x-dlq-reason')[:80]!r}")


async def late_amendment(sub: ServiceProcess, report: dict) -> None:
    institution = report["institution_id"]
    send_http(sub.url, {"command_type": "SetDeadline", "year": 2021,
                        "deadline": (NOW() - timedelta(minutes=1)).isoformat(),
                        "reason": "제출 마감 (deadline reached)"}, y2021.OFFICER)
    amend = dict(report, command_type="AmendReport", submission_id=f"2021-{institution}-2",
                 reason="증빙 보완 (evidence completed)")
    refused = send_http(sub.url, amend, y2021.submitter(institution))
    send_http(sub.url, {"command_type": "ReopenReport", "year": 2021,
                        "institution_id": institution,
                        "until": (NOW() + timedelta(days=3)).isoformat(),
                        "reason": "증빙 보완 요청 승인"}, y2021.OFFICER)
    accepted = send_http(sub.url, amend, y2021.submitter(institution))
    await wait_until(lambda: _reports(sub, lambda r: r["status"] == "late_reopened", 1))
    say(7, f"deadline passed: {institution}'s amendment refused (HTTP {refused.status_code}); "
           f"the office reopened it with a reason; accepted (HTTP {accepted.status_code})")


async def scoring(sco: ServiceProcess, reports: list[dict]) -> None:
    evidence_in = y2021.all_evidence_in(reports)
    cards = await wait_until(lambda: _scored(sco, evidence_in), timeout=600)
    sources = Counter(i["source"] for c in cards for i in c["indicators"])
    silent = next(c for c in cards if c["institution_id"] == "emergency")
    say(9, f"scoring computed {sum(sources.values())} scores {dict(sorted(sources.items()))}; "
           f"'emergency' submitted nothing: {silent['total']} points, all base score 30")
    work = [(r["institution_id"], i["indicator_id"]) for r in reports for i in r["results"]
            if i["indicator_id"] in y2021.EXPERT_INDICATORS]
    for institution, indicator in work:
        for e in y2021.EXPERTS:
            send_http(sco.url, {"command_type": "AssignExpert", "year": 2021,
                                "institution_id": institution, "indicator_id": indicator,
                                "expert_id": e}, y2021.OFFICER)
    conflicted, _ = work[0]
    send_http(sco.url, {"command_type": "DeclareConflict", "year": 2021,
                        "institution_id": conflicted, "reason": "자문 계약 관계"},
              y2021.expert("expert-park"))
    for institution, indicator in work:
        for e, points in y2021.expert_scores(institution, indicator, 15).items():
            send_http(sco.url, {"command_type": "GiveExpertScore", "year": 2021,
                                "institution_id": institution, "indicator_id": indicator,
                                "points": points, "comment": "사례의 구체성과 시민 참여"},
                      y2021.expert(e))
    await wait_until(lambda: _scored(sco, lambda cards: not any(
        i["source"] == "pending" for c in cards for i in c["indicators"])), timeout=300)
    print(f"      3 experts scored {len(work)} qualitative indicators; expert-park declared "
          f"a conflict with {conflicted} and was excluded there")
    target, target_indicator = work[1]
    send_http(sco.url, {"command_type": "AdjustScore", "year": 2021, "institution_id": target,
                        "indicator_id": target_indicator, "to_points": "12",
                        "reason": "단일 과 국: 사업소 수준 조정"}, y2021.PANEL_MEMBER)
    window = NOW() + timedelta(seconds=4)
    send_http(sco.url, {"command_type": "PublishProvisionalResults", "year": 2021,
                        "appeals_until": window.isoformat()}, y2021.OFFICER)
    appellant, appealed = work[2]
    for command, actor in [
            ({"command_type": "FileAppeal", "appeal_id": "A-2021-1", "indicator_id": appealed,
              "grounds": "증빙 누락 반영 요청"}, y2021.submitter(appellant)),
            ({"command_type": "AssignAppealReviewer", "appeal_id": "A-2021-1",
              "reviewer_id": "reviewer-choi"}, y2021.OFFICER),
            ({"command_type": "DecideAppeal", "appeal_id": "A-2021-1", "upheld": True,
              "to_points": "14", "reason": "누락 증빙 확인"}, y2021.expert("reviewer-choi"))]:
        send_http(sco.url, {**command, "year": 2021, "institution_id": appellant}, actor)
    say(10, f"panel adjusted {target}/{target_indicator} to 12 with a reason; provisional "
           f"results published; {appellant} appealed {appealed}, a reviewer who had not "
           "scored it upheld it (14)")
    await asyncio.sleep(max(0.0, (window - NOW()).total_seconds()) + 0.5)
    signed = send_http(sco.url, {"command_type": "SignOff", "year": 2021}, y2021.PANEL_MEMBER)
    final = await wait_until(lambda: _final(sco), timeout=300)
    print(f"      panel signed off (HTTP {signed.status_code}); final results for the "
          f"evaluation office, rulebook {final['rulebook_ref']}:")
    for row in final["ranking"][:5]:
        print(f"      #{row['rank']:>2} {row['institution_id']:<18} {row['total']:>6}")
    print(f"      … #{final['ranking'][-1]['rank']} {final['ranking'][-1]['institution_id']} "
          f"{final['ranking'][-1]['total']}")


async def audit(services: list[ServiceProcess], bootstrap: str) -> int:
    """What an auditor runs: `hyeopchi audit verify` and `hyeopchi audit replay`."""
    from services.audit.replay import projections, replay  # noqa: PLC0415
    from shared.projection import checksum  # noqa: PLC0415
    for svc in services:
        svc.stop()  # read models are final once the services stopped
    print()
    ok = True
    for svc in services:
        verified, verdict = await verify_database(svc.env["DATABASE_URL"])
        print(f"      {svc.service} store: {verdict}")
        ok = ok and verified
    replayed = await replay(bootstrap, into=f"sqlite:///{RUN}/replayed.db")
    owner = {p.name: s for p in projections() for s in services
             if p.name.startswith(s.service)}
    for projection in projections():
        svc = owner.get(projection.name)
        if svc is None:
            continue  # a read side not run in the demo (the audit timeline)
        live = Database(svc.env["DATABASE_URL"], projection.metadata)
        current, _ = await checksum(live, projection.metadata)
        await live.dispose()
        same = current == replayed[projection.name]["checksum"]
        print(f"      {projection.name}: replayed {sum(replayed[projection.name]['rows'].values())}"
              f" rows from offset 0 into a fresh database, checksum "
              f"{'equals' if same else 'DIFFERS FROM'} the live one")
        ok = ok and same
    say(12, "audit: " + ("every hash chain holds and every read model replays to its "
                         "live checksum" if ok else "FAILED"))
    return 0 if ok else 1


async def _minuted(svc, meeting_id: str):
    answer = read(svc.url, f"/meetings/{meeting_id}")
    return answer.json() if answer.status_code == 200 and answer.json()["disclosure"] else None


async def _of_type(bootstrap: str, event_type: str):
    return [e for e in await published_events(bootstrap, "hyeopchi")
            if e.event_type.endswith(event_type)]


async def _count(svc, path: str, n: int):
    return len(get(svc, path)) >= n


async def _reports(svc, keep, n: int):
    rows = get(svc, "/cycles/2021/reports")
    return rows if sum(1 for r in rows if keep(r)) >= n else None


async def _scored(sco, ready):
    cards = get(sco, "/cycles/2021/scorecards")
    return cards if ready(cards) else None


async def _final(sco):
    answer = read(sco.url, "/cycles/2021/results")
    return answer.json() if answer.status_code == 200 else None


__all__ = ["main"]
