"""Talk to a running submission service the way outside systems do: HTTP and Kafka.

Used by the demo and by the tests; it knows only the public contracts (JSON).
"""
from __future__ import annotations

import json
import uuid

import httpx
from aiokafka import AIOKafkaProducer

from scenarios.sso import dev_sso
from shared.envelope import Envelope
from shared.kafka_io import read_topic

OFFICER = {"id": "officer-1", "role": "governance_officer", "kind": "person"}


def auth_headers(actor: dict | None) -> dict[str, str]:
    """The headers that authenticate `actor` ({"id", "role", …}) to a service: a
    bearer token from the development SSO. None = no token (the public)."""
    return {"Authorization": f"Bearer {dev_sso().issue(actor)}"} if actor else {}


AUDITOR = {"id": "auditor-1", "role": "auditor", "kind": "person"}


def read(url: str, path: str, actor: dict | None = AUDITOR) -> httpx.Response:
    """GET a read model as `actor` (the auditor reads everything; None = the public)."""
    return httpx.get(f"{url}{path}", timeout=30, headers=auth_headers(actor))


def post(url: str, path: str, body: dict, actor: dict | None = OFFICER) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=30, headers=auth_headers(actor))


def by_reference(url: str, command: dict, actor: dict) -> dict:
    """A committee command made fit for Kafka, where personal data may not travel: an
    appointment's personal data is deposited over HTTPS first (POST /personal-data at
    the committee service `url`) and the command carries the reference instead."""
    if command.get("command_type") != "AppointMember" or "personal" not in command:
        return command
    answer = post(url, "/personal-data", {"committee_id": command["committee_id"],
                                          "member_id": command["member_id"],
                                          "personal": command["personal"]}, actor)
    answer.raise_for_status()
    rest = {k: v for k, v in command.items() if k != "personal"}
    return {**rest, "personal_ref": answer.json()["personal_ref"]}


PATHS = {"OpenCycle": "/cycles", "SetDeadline": "/cycles/deadline",
         "ReviseRulebook": "/cycles/rulebook-revisions",
         "CloseCycle": "/cycles/closing", "RegisterInstitution": "/institutions",
         "SetFieldOfficeTreatment": "/institutions/field-office-treatment",
         "SubmitReport": "/reports", "AmendReport": "/reports/amendments",
         "WithdrawReport": "/reports/withdrawals", "ReopenReport": "/reports/reopenings"}


SCORING_PATHS = {"AssignExpert": "/experts/assignments",
                 "DeclareConflict": "/experts/conflicts", "GiveExpertScore": "/expert-scores",
                 "AdjustScore": "/adjustments",
                 "PublishProvisionalResults": "/provisional-results",
                 "FileAppeal": "/appeals", "AssignAppealReviewer": "/appeals/reviewers",
                 "DecideAppeal": "/appeals/decisions", "SignOff": "/sign-off",
                 "ReopenScoring": "/reopenings"}


COMMITTEE_PATHS = {"EstablishCommittee": "/committees", "AppointMember": "/committees/members",
                   "DismissMember": "/committees/members/dismissals",
                   "ApproveYouthQuotaException": "/committees/youth-quota-exceptions",
                   "ScheduleMeeting": "/meetings", "RecordMeetingHeld": "/meetings/held",
                   "PostponeMeeting": "/meetings/postponements",
                   "CancelMeeting": "/meetings/cancellations",
                   "RecordMeetingCosts": "/meetings/costs", "RecordMinutes": "/meetings/minutes",
                   "ErasePersonalData": "/members/erasures"}
GRANTS_PATHS = {"OpenRound": "/rounds", "CloseApplications": "/rounds/closing",
                "RegisterOrganisation": "/organisations", "ReceiveApplication": "/applications",
                "ScreenApplications": "/rounds/screening",
                "AssignReviewer": "/reviews/assignments",
                "DeclareReviewConflict": "/reviews/conflicts", "ScoreApplication": "/reviews",
                "DecideSelection": "/rounds/selection",
                "OverrideSelection": "/rounds/selection/overrides",
                "RevisePlan": "/applications/plan-revisions", "MakePayment": "/payments",
                "ReportSpending": "/spending-reports",
                "CheckSelfFunding": "/self-funding-checks", "CloseProject": "/projects/closing"}
ALL_PATHS = {**PATHS, **SCORING_PATHS, **COMMITTEE_PATHS, **GRANTS_PATHS}


def send_http(url: str, command: dict, actor: dict | None = OFFICER) -> httpx.Response:
    """POST a command to the service that takes it (by its command_type)."""
    return post(url, ALL_PATHS[command["command_type"]], command, actor)


async def send_external(bootstrap: str, topic: str, messages: list[dict],
                        security: dict | None = None) -> None:
    """Emit facts as another city system would (HR, the education platform);
    `security`: its client keyword arguments on a secured broker (SASL)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                **(security or {}))
    await producer.start()
    try:
        for m in messages:
            await producer.send(topic, json.dumps(m, ensure_ascii=False).encode(),
                                key=m["payload"]["institution_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()


class KafkaCommands:
    def __init__(self, bootstrap: str, prefix: str, service: str = "submission",
                 security: dict | None = None):
        self.topic = f"{prefix}.{service}.commands"
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                         **(security or {}))

    async def __aenter__(self) -> "KafkaCommands":
        await self.producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    async def send(self, command: dict, actor: dict = OFFICER,
                   command_id: str | None = None, key: str | None = None) -> str:
        """Commands on one key are applied in order: use the aggregate's owner (the
        institution, or the committee for everything about it and its meetings)."""
        command_id = command_id or str(uuid.uuid4())
        body = {"command_id": command_id, "schema_version": 2,
                "token": dev_sso().issue(actor), "command": command}
        key = key or command.get("institution_id") or command.get("committee_id") or "cycle"
        await self.send_raw(json.dumps(body, ensure_ascii=False).encode(), key=key)
        return command_id

    async def send_raw(self, raw: bytes, key: str = "x") -> None:
        await self.producer.send_and_wait(self.topic, raw, key=key.encode())


async def published_events(bootstrap: str, prefix: str,
                           service: str = "submission") -> list[Envelope]:
    records = await read_topic(bootstrap, f"{prefix}.{service}.events")
    envelopes = [Envelope.from_json(r.value) for r in records]
    return sorted(envelopes, key=lambda e: e.event_id)
