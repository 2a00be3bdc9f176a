"""Who may do what (issue 11): every role × every endpoint of every running service,
and commands over Kafka sent under a role that may not send them."""
from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from scenarios import grants2021, seeds, y2021
from scenarios.client import KafkaCommands, auth_headers, published_events
from scenarios.processes import wait_until
from shared.auth import PUBLIC, ROLES, SUBMITTER
from shared.db import Database
from shared.deadletter import header
from shared.kafka_io import read_topic
from shared.tables import backbone, events

pytestmark = pytest.mark.integration
SERVICES = ("submission", "scoring", "committee", "grants", "audit")
SAMPLE = {"year": "2021", "institution_id": "planning", "meeting_id": "m-1",
          "round_id": "2021", "application_id": "2021-0001", "member_id": "member-a"}
OPERATIONS = ("/health", "/metrics", "/docs", "/openapi", "/redoc")


def actor_for(role: str, service: str | None = None, command: str | None = None) -> dict:
    """Someone in `role`, scoped as its token would be: a submitter to its institution,
    a secretary to the sample committee, a city system as the system that owns
    `command` in `service`'s policy (when one does)."""
    actor = {"id": f"someone-{role}", "role": role, "kind": "person"}
    if role == SUBMITTER:
        return {**actor, "institution_id": "planning"}
    if role == "committee_secretary":
        return {**actor, "committees": ["c-1"]}
    if role == "city_system":
        owners = [s for s, types in _policy(service).get("systems", {}).items()
                  if command in types] if service else []
        return {**actor, "kind": "system", "id": owners[0] if owners else actor["id"]}
    return actor


def _policy(service: str) -> dict:
    path = f"services/{service}/adapters/access.json"
    return json.loads(open(path, encoding="utf-8").read())


def _routes(svc) -> tuple[dict[str, str], list[str]]:
    """POST path → command type, and GET paths, from the running service's OpenAPI."""
    spec = httpx.get(f"{svc.url}/openapi.json", timeout=30).json()
    posts = {p: ops["post"]["summary"] for p, ops in spec["paths"].items() if "post" in ops}
    gets = [p for p, ops in spec["paths"].items()
            if "get" in ops and not p.startswith(OPERATIONS)]
    return posts, gets


def _url(template: str, **override) -> str:
    return template.format(**{**SAMPLE, **override})


async def _stored(svc) -> int:
    db = Database(svc.database_url, backbone)
    try:
        async with db.reading() as conn:
            return await conn.scalar(select(func.count()).select_from(events))
    finally:
        await db.dispose()


async def test_every_role_on_every_endpoint_of_every_service(stack):
    running = dict(zip(SERVICES, stack(*SERVICES)))
    cells = refused = 0
    for name, svc in running.items():
        policy, (posts, gets) = _policy(name), _routes(svc)
        assert set(posts.values()) == set(policy["commands"]), f"{name}: commands ≠ policy"
        assert set(gets) == set(policy["reads"]), f"{name}: read routes ≠ policy"
        before = await _stored(svc)
        for path, command_type in posts.items():
            anonymous = httpx.post(f"{svc.url}{path}", json={}, timeout=30)
            assert anonymous.status_code == 401, (name, path)
            for role in sorted(ROLES):
                cells += 1
                answer = httpx.post(f"{svc.url}{path}", json={}, timeout=30,
                                    headers=auth_headers(actor_for(role, name,
                                                                   command_type)))
                if role in policy["commands"][command_type] and (
                        role != "city_system" or any(
                            command_type in c for c in policy.get("systems", {}).values())):
                    assert answer.status_code not in (401, 403), (name, path, role)
                else:
                    refused += 1
                    assert answer.status_code == 403, (name, path, role, answer.text)
                    assert answer.headers["content-type"] == "application/problem+json"
                    assert command_type in answer.json()["detail"]
        for template in gets:
            personal = template in policy.get("personal_reads", ())
            allowed = {*policy["reads"][template], *(() if personal else ("auditor",))}
            anonymous = httpx.get(f"{svc.url}{_url(template)}", timeout=30)
            assert (anonymous.status_code == 401) == (PUBLIC not in allowed), (name, template)
            for role in sorted(ROLES):
                cells += 1
                answer = httpx.get(f"{svc.url}{_url(template)}", timeout=30,
                                   headers=auth_headers(actor_for(role)))
                if PUBLIC in allowed or role in allowed:
                    assert answer.status_code not in (401, 403), (name, template, role)
                else:
                    refused += 1
                    assert answer.status_code == 403, (name, template, role)
            if SUBMITTER in allowed and "{institution_id}" in template:
                other = httpx.get(f"{svc.url}{_url(template, institution_id='finance')}",
                                  timeout=30, headers=auth_headers(actor_for(SUBMITTER)))
                assert other.status_code == 403, (name, template, "another institution")
        assert await _stored(svc) == before, f"{name}: a refused request stored something"
    print(f"access matrix: {cells} cells, {refused} refused")
    assert refused > 300


async def test_a_submitter_cannot_submit_for_another_institution_and_the_actor_is_the_token(
        stack, kafka_bootstrap):
    [sub] = stack("submission")
    for command in [{"command_type": "OpenCycle", "year": 2021,
                     "deadline": "2031-01-01T00:00:00+09:00"},
                    *[c for c in y2021.institution_commands()
                      if c["institution_id"] in ("finance", "planning")]]:
        assert httpx.post(f"{sub.url}{_path(command)}", json=command, timeout=30,
                          headers=auth_headers(y2021.OFFICER)).status_code == 201
    report = y2021.report_command("finance", __import__("random").Random(4))
    foreign = httpx.post(f"{sub.url}/reports", json=report, timeout=30,
                         headers=auth_headers(y2021.submitter("planning")))
    assert foreign.status_code == 403 and "may not act for finance" in foreign.json()["detail"]
    smuggled = httpx.post(f"{sub.url}/reports", timeout=30,
                          json={**report, "actor": {"id": "mayor", "role": "governance_officer"}},
                          headers=auth_headers(y2021.submitter("finance")))
    assert smuggled.status_code == 422  # an actor in the body is not a field of anything
    own = httpx.post(f"{sub.url}/reports", json=report, timeout=30,
                     headers=auth_headers(y2021.submitter("finance")))
    assert own.status_code == 201
    [submitted] = [e for e in await wait_until(lambda: _events(kafka_bootstrap, sub),
                                                  timeout=60)
                   if e.event_type == "submission.ReportSubmitted"]
    assert (submitted.actor.id, submitted.actor.role) == ("submitter-finance", SUBMITTER)


def _path(command: dict) -> str:
    from scenarios.client import ALL_PATHS  # noqa: PLC0415
    return ALL_PATHS[command["command_type"]]


async def _events(bootstrap, svc):
    found = await published_events(bootstrap, svc.prefix)
    return found if any(e.event_type == "submission.ReportSubmitted" for e in found) else None


async def test_kafka_commands_under_a_forbidden_role_are_rejected_with_the_reason(
        stack, kafka_bootstrap):
    sub, com, gra = stack("submission", "committee", "grants")
    wrong = [(sub, "submission", y2021.institution_commands()[0], actor_for("external_expert")),
             (sub, "submission", y2021.report_command("finance", __import__("random")
                                                      .Random(5)), y2021.submitter("planning")),
             (com, "committee", seeds.advisory_commands()[0], grants2021.OFFICER),
             (gra, "grants", grants2021.organisations()[0], actor_for(PUBLIC))]
    sent = {}
    for svc, service, command, actor in wrong:
        async with KafkaCommands(kafka_bootstrap, svc.prefix, service) as kafka:
            sent[await kafka.send(command, actor=actor)] = (service, actor["role"])
            await kafka.send_raw(json.dumps({"command_id": f"forged-{service}",
                                             "schema_version": 2, "token": "e30.e30.e30",
                                             "command": command}).encode())

    async def rejected(svc, service):
        found = [e for e in await published_events(kafka_bootstrap, svc.prefix, service)]
        return found if any(e.event_type.endswith("CommandRejected") for e in found) else None
    for svc, service in ((sub, "submission"), (com, "committee"), (gra, "grants")):
        found = await wait_until(lambda: rejected(svc, service), timeout=60)
        assert all(e.event_type.endswith("CommandRejected") for e in found), \
            f"{service}: a forbidden command changed something"
        for e in found:
            assert e.payload["refusal"] == "forbidden", e.payload
            assert sent[e.payload["command_id"]][0] == service
        parked = await wait_until(lambda: _dlq(kafka_bootstrap, svc.prefix, service), 60)
        assert "Unauthenticated" in header(parked[0].headers, "x-dlq-reason")
    assert sum(1 for e in (await published_events(kafka_bootstrap, sub.prefix))
               if e.event_type.endswith("CommandRejected")) == 2


async def _dlq(bootstrap, prefix, service):
    return await read_topic(bootstrap, f"{prefix}.{service}.commands.dlq") or None
