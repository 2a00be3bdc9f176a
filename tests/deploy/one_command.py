"""One command (or event) per service and the result it must publish or project, for the
deploy tests that start the services as an operator does (the wheel, the image, the
compose stack): each service answers /health/ready, takes its command, and its effect
shows on Kafka or in a read model.

- submission: OpenCycle over HTTP              -> CycleOpened on submission's events
- scoring:    consumes that CycleOpened         -> ScoringOpened on scoring's events
- committee:  EstablishCommittee over HTTP      -> CommitteeEstablished on its events
- grants:     RegisterOrganisation over HTTP    -> OrganisationRegistered on its events
- audit:      consumes every service's events   -> each of them on GET /timeline
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from scenarios import grants2021, seeds
from scenarios.client import AUDITOR, OFFICER, read, send_http
from shared.envelope import Envelope
from shared.kafka_io import read_topic

SERVICES = ("submission", "scoring", "committee", "grants", "audit")
OPEN_CYCLE = {"command_type": "OpenCycle", "year": 2021,  # the year with a rulebook
              "deadline": "2031-01-01T00:00:00+09:00"}


def wait_ready(url: str, what: str, timeout: float = 120,
               alive: Callable[[], str | None] | None = None) -> None:
    """Until GET url/health/ready answers 200; `alive` returns why the service is gone
    (its exit and log tail), or None while it runs."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        if alive and (gone := alive()):
            raise AssertionError(f"{what} stopped before it was ready: {gone}")
        try:
            answer = httpx.get(f"{url}/health/ready", timeout=5)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:500]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready after {timeout:.0f} s ({last})")


@dataclass
class Sent:
    """What one round of commands must produce: event type per service's topic."""
    run: str
    expected: dict[str, str] = field(default_factory=dict)  # service -> event type
    marks: dict[str, str] = field(default_factory=dict)  # service -> id in that event


def send_commands(urls: dict[str, str], run: str | None = None) -> Sent:
    """The HTTP commands of one round, to the services present in `urls`. Each round
    uses fresh ids, so rounds add events (OpenCycle 2021 is sent once per topic prefix:
    a second one is refused)."""
    run = run or uuid.uuid4().hex[:8]
    sent = Sent(run)
    if "submission" in urls:
        answer = send_http(urls["submission"], OPEN_CYCLE, OFFICER)
        assert answer.status_code == 201, answer.text
        sent.expected["submission"] = "submission.CycleOpened"
        sent.expected["scoring"] = "scoring.ScoringOpened"
    if "committee" in urls:
        committee = f"committee-{run}"
        answer = send_http(urls["committee"], {
            "command_type": "EstablishCommittee", "committee_id": committee,
            "institution_id": "democracy", "name_ko": "위원회", "kind": "k"},
            seeds.secretary_for(committee))
        assert answer.status_code == 201, answer.text
        sent.expected["committee"] = "committee.CommitteeEstablished"
        sent.marks["committee"] = committee
    if "grants" in urls:
        answer = send_http(urls["grants"], {
            "command_type": "RegisterOrganisation", "organisation_id": f"org-{run}",
            "name_ko": "단체", "registered_nonprofit": True, "funded_before": False},
            grants2021.OFFICER)
        assert answer.status_code == 201, answer.text
        sent.expected["grants"] = "grants.OrganisationRegistered"
        sent.marks["grants"] = f"org-{run}"
    return sent


async def events_of(bootstrap: str, prefix: str, service: str) -> list[Envelope]:
    """Every event on the service's events topic, by event id (with the client
    security of this process's environment: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*)."""
    records = await read_topic(bootstrap, f"{prefix}.{service}.events")
    return sorted((Envelope.from_json(r.value) for r in records), key=lambda e: e.event_id)


async def published(bootstrap: str, prefix: str, sent: Sent,
                    timeout: float = 90) -> dict[str, list[Envelope]]:
    """Each service's events once every expected event type is on its topic."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = {s: await events_of(bootstrap, prefix, s) for s in sent.expected}
        missing = {s: t for s, t in sent.expected.items()
                   if not any(e.event_type == t and sent.marks.get(s, "") in e.model_dump_json()
                              for e in found[s])}
        if not missing:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"never published: {missing}; found "
                                 f"{ {s: [e.event_type for e in v] for s, v in found.items()} }")
        await asyncio.sleep(1)


async def on_timeline(audit_url: str, event_ids: set[str], timeout: float = 90) -> list[dict]:
    """The audit service's timeline once it holds every one of `event_ids`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await asyncio.to_thread(read, audit_url, "/timeline?limit=10000", AUDITOR)
        rows = answer.json() if answer.status_code == 200 else []
        missing = event_ids - {r["event_id"] for r in rows}
        if not missing:
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"audit timeline lacks {len(missing)} of {len(event_ids)} "
                                 f"events ({answer.status_code} {answer.text[:300]})")
        await asyncio.sleep(1)
