"""The main job (`hyeopchi demo`): broker + services on SQLite, then the 2021 cycle.

Starts a real Kafka broker and each service as its own process, plays the 2021
governance capability evaluation as city systems and officers would (Kafka and
HTTP), shows the refusals, checks every hash chain, rebuilds the read model from
offset 0 and compares checksums. State lives in .run/demo/, fresh every run.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx

from scenarios import y2021
from scenarios.client import KafkaCommands, published_events, send_http
from scenarios.processes import KAFKA_SH, REPO, ServiceProcess, script, wait_until
from shared.deadletter import header
from shared.kafka_io import read_topic
from shared.store import verify_database

RUN = REPO / ".run" / "demo"
STEPS = 8


def say(step: int, text: str) -> None:
    print(f"[{step}/{STEPS}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(args) -> int:
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    os.environ["HYEOPCHI_RUN_DIR"] = str(RUN)
    print("hyeopchi demo — the 2021 governance capability evaluation, end to end\n")
    say(1, "starting a real Kafka broker (KRaft, jars from Maven Central) ...")
    bootstrap = script(KAFKA_SH, "start", "--name", "demo", "--port", free_port(),
                       "--controller-port", free_port())
    print(f"      broker at {bootstrap}")
    service = ServiceProcess("submission", database_url=f"sqlite:///{RUN}/submission.db",
                             bootstrap=bootstrap, port=free_port(), topic_prefix="hyeopchi",
                             log_path=RUN / "submission.log")
    try:
        say(2, "starting the submission service (own process, SQLite) ...")
        service.start()
        print(f"      ready at {service.url} (OpenAPI: {service.url}/docs)")
        return asyncio.run(play(service, bootstrap))
    finally:
        if args.keep_running:
            print(f"\nleft running; stop with: kill {service.proc.pid}; "
                  f"HYEOPCHI_RUN_DIR={RUN} {KAFKA_SH} stop --name demo")
        else:
            service.stop()
            os.environ["HYEOPCHI_RUN_DIR"] = str(RUN)
            script(KAFKA_SH, "stop", "--name", "demo")


async def play(svc: ServiceProcess, bootstrap: str) -> int:
    deadline = datetime.now(timezone.utc) + timedelta(days=30)
    answer = send_http(svc.url, {"command_type": "OpenCycle", "year": y2021.YEAR,
                                 "deadline": deadline.isoformat()}, y2021.OFFICER)
    rulebook = httpx.get(f"{svc.url}/rulebooks/2021").json()
    say(3, f"governance office opened cycle 2021 under rulebook "
           f"{rulebook['rulebook_id']}/2021/v{rulebook['version']} (HTTP {answer.status_code}); "
           f"base score for a missing indicator: {rulebook['base_score_missing']}")
    async with KafkaCommands(bootstrap, "hyeopchi") as kafka:
        for command in y2021.institution_commands():
            await kafka.send(command, actor=y2021.ORG_REGISTRY)
        await wait_until(lambda: _count(svc, "/institutions", 47), timeout=60)
        kinds = Counter(k for _, _, k in y2021.INSTITUTIONS)
        say(4, f"city org registry registered 47 institutions over Kafka: {dict(kinds)}")
        reports = y2021.reports()
        for n, report in enumerate(reports):
            who = y2021.submitter(report["institution_id"])
            if n % 2:
                await kafka.send(report, actor=who)
            else:
                send_http(svc.url, report, who)
        rows = await wait_until(lambda: _reports(svc, lambda r: r["status"] == "submitted",
                                                 len(reports)), timeout=90)
        say(5, f"{len(reports)} reports received ({(len(reports) + 1) // 2} over HTTP, "
               f"{len(reports) // 2} over Kafka); {len(y2021.NOT_SUBMITTING)} institutions "
               "did not submit")
        await refusals(svc, kafka, bootstrap)
    await late_amendment(svc, reports[0])
    return await audit(svc, bootstrap)


async def refusals(svc: ServiceProcess, kafka: KafkaCommands, bootstrap: str) -> None:
    say(6, "bad input is refused with a reason and stores nothing:")
    for _words, command in y2021.bad_reports():
        answer = send_http(svc.url, command, y2021.submitter("emergency"))
        print(f"      HTTP {answer.status_code} {answer.json()['type'].split(':')[-1]}: "
              f"{answer.json()['detail'][:110]}")
    await kafka.send(y2021.bad_reports()[0][1], actor=y2021.submitter("emergency"))
    await kafka.send_raw(b'{"command_id": "broken", "command": ')
    rejected = await wait_until(lambda: _of_type(bootstrap, "CommandRejected"), timeout=60)
    print(f"      Kafka: CommandRejected ({rejected[0].payload['refusal']}): "
          f"{rejected[0].payload['detail'][:90]}")
    parked = await wait_until(lambda: read_topic(bootstrap, "hyeopchi.submission.commands.dlq"))
    print(f"      Kafka: malformed JSON parked in hyeopchi.submission.commands.dlq: "
          f"{header(parked[0].headers, 'x-dlq-reason')[:90]!r}")


async def _of_type(bootstrap: str, event_type: str):
    return [e for e in await published_events(bootstrap, "hyeopchi")
            if e.event_type.endswith(event_type)]


async def late_amendment(svc: ServiceProcess, report: dict) -> None:
    institution = report["institution_id"]
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    send_http(svc.url, {"command_type": "SetDeadline", "year": 2021, "deadline": past,
                        "reason": "제출 마감 (deadline reached)"}, y2021.OFFICER)
    amend = dict(report, command_type="AmendReport", submission_id=f"2021-{institution}-2",
                 reason="증빙 보완 (evidence completed)")
    refused = send_http(svc.url, amend, y2021.submitter(institution))
    until = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    send_http(svc.url, {"command_type": "ReopenReport", "year": 2021,
                        "institution_id": institution, "until": until,
                        "reason": "증빙 보완 요청 승인"}, y2021.OFFICER)
    accepted = send_http(svc.url, amend, y2021.submitter(institution))
    await wait_until(lambda: _reports(svc, lambda r: r["status"] == "late_reopened", 1))
    say(7, f"deadline passed: {institution}'s amendment refused (HTTP {refused.status_code}); "
           f"the office reopened it with a reason; accepted (HTTP {accepted.status_code}), "
           "status late_reopened")


async def audit(svc: ServiceProcess, bootstrap: str) -> int:
    rows = httpx.get(f"{svc.url}/cycles/2021/reports").json()
    statuses = Counter(r["status"] for r in rows)
    missing = sum(len(r["missing"]) for r in rows if r["status"] != "not_submitted")
    marked = sum(len(r["not_applicable"]) for r in rows)
    envelopes = await published_events(bootstrap, "hyeopchi")
    svc.stop()  # the read model is final once the service has stopped
    verified, verdict = await verify_database(svc.env["DATABASE_URL"])  # `hyeopchi verify`
    say(8, f"{len(envelopes)} events on hyeopchi.submission.events; store check: {verdict}")
    print(f"\nreport status, cycle 2021: {dict(sorted(statuses.items()))}")
    print(f"indicators left out by submitting institutions: {missing} "
          f"(each gets the base score 30); marked not applicable: {marked}")
    by_type = Counter(e.event_type.split('.')[-1] for e in envelopes)
    print(f"events by type: {dict(sorted(by_type.items()))}")
    same = await rebuild_matches(svc, bootstrap)
    print(f"read model rebuilt from offset 0 into a fresh database: checksum "
          f"{'equals' if same else 'DIFFERS FROM'} the live one")
    return 0 if verified and same else 1


async def rebuild_matches(svc: ServiceProcess, bootstrap: str) -> bool:
    from services.submission.adapters import read_model  # noqa: PLC0415
    from shared.db import Database  # noqa: PLC0415
    from shared.deadletter import DeadLetters  # noqa: PLC0415
    from shared.projection import checksum, rebuild  # noqa: PLC0415
    from shared.tables import backbone  # noqa: PLC0415

    async def refuse(*_):
        raise RuntimeError("valid history must rebuild without dead letters")
    live = Database(svc.env["DATABASE_URL"], backbone, read_model.metadata)
    fresh = Database(f"sqlite:///{RUN}/rebuilt.db", backbone, read_model.metadata)
    rebuilt, _, _ = await rebuild(read_model.ReportStatusProjection(), fresh, bootstrap,
                                  DeadLetters("rebuild", refuse))
    current, _ = await checksum(live, read_model.metadata)
    print(f"      live {current[:16]}…  rebuilt {rebuilt[:16]}…")
    await live.dispose()
    await fresh.dispose()
    return current == rebuilt


async def _count(svc, path: str, n: int):
    return len(httpx.get(f"{svc.url}{path}").json()) >= n


async def _reports(svc, keep, n: int):
    rows = httpx.get(f"{svc.url}/cycles/2021/reports").json()
    return rows if sum(1 for r in rows if keep(r)) >= n else None


__all__ = ["main"]
