"""The 2021 scenario scaled up, as the outside world sends it: the load of the fault
tests and of `hyeopchi soak`.

For each of N synthetic institutions (kinds in the 2021 proportions): the org
registry registers it, the institution submits a report (half of them amend it),
HR reports its headcount twice (the second replaces the first), the MOOC platform
sends its course completions, its committee secretariat establishes a committee,
appoints members and records two meetings (scoring takes them as evidence), and the
grants intake registers an organisation and its application. Scoring rescores as
each fact arrives; the audit service follows every event.

Every input carries its own id (command id, or the external event id) and says which
events it must cause, so what was sent can be held against what was stored,
published and followed (`scenarios/books.py`). Plain JSON: no service code imported.
Seeded: the same N and seed send the same messages.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace

from aiokafka import AIOKafkaProducer

from scenarios import y2021
from scenarios.client import KafkaCommands, by_reference

SUBMISSION, SCORING, COMMITTEE, GRANTS = "submission", "scoring", "committee", "grants"
def secretary(committee: str) -> dict:
    """The committee's secretariat: its token names that committee."""
    return {"id": "load-secretary", "role": "committee_secretary", "kind": "person",
            "committees": [committee]}
INTAKE = {"id": "seoul-grants-intake", "role": "city_system", "kind": "system"}
KINDS = [k for _, _, k in y2021.INSTITUTIONS]  # 2021's mix of bureaus, HQs, field offices


@dataclass(frozen=True)
class Input:
    """One message another system sends, and what it must cause."""

    service: str              # the service that takes it
    topic: str                # topic without the deployment prefix
    key: str                  # Kafka key: the aggregate's owner, so order holds per key
    input_id: str             # what the consumer's inbox remembers
    consumer: str             # that consumer's name in the service
    causes: dict[str, int]    # event type -> how many of it this input records
    command: dict | None = None   # a command, sent by `actor` with id `input_id` …
    actor: dict | None = None
    fact: dict | None = None      # … or an external fact (HR, the MOOC platform)

    @property
    def causation(self) -> str:
        """The causation id of the events it causes (the command or external id)."""
        return self.input_id if self.command else self.fact["event_id"]

    async def wire(self) -> bytes:
        """The record's value, made when sent (a command's credentials are fresh)."""
        if self.fact is not None:
            return json.dumps(self.fact, ensure_ascii=False).encode()
        capture = _Capture()
        await capture.send(self.command, actor=self.actor, command_id=self.input_id,
                           key=self.key)
        return capture.raw


class _Capture(KafkaCommands):
    """The command message exactly as scenarios/client.py sends it, not sent."""

    def __init__(self) -> None:  # no producer
        self.raw = b""

    async def send_raw(self, raw: bytes, key: str = "x") -> None:
        self.raw = raw


@dataclass
class Workload:
    institutions: int
    seed: int = 2021
    prelude: list[Input] = field(default_factory=list)   # applied before the rest
    inputs: list[Input] = field(default_factory=list)    # in send order

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.prelude = [
            _command(SUBMISSION, "cycle", "load-open-cycle", {
                "command_type": "OpenCycle", "year": 2021,
                "deadline": "2031-01-01T00:00:00+09:00"}, y2021.OFFICER,
                {"submission.CycleOpened": 1}),
            _command(GRANTS, "round-2021", "load-open-round",
                     {"command_type": "OpenRound", "year": 2021},
                     {"id": "grants-officer-1", "role": "grants_officer", "kind": "person"},
                     {"grants.RoundOpened": 1})]
        lanes: dict[tuple[str, str], list[Input]] = {}
        for n in range(self.institutions):
            for item in self._institution(n, rng):
                lanes.setdefault((item.topic, item.key), []).append(item)
        self.inputs = _merge(list(lanes.values()), random.Random(self.seed + 1))

    async def deposit_personal_data(self, committee_url: str) -> int:
        """Personal data may not travel on Kafka: deposit each appointment's over HTTPS
        at the committee service and send the reference instead (before the load is
        sent; a deposit is good for a day). Returns how many were deposited."""
        async def by_ref(item: Input) -> Input:
            if not (item.command and "personal" in item.command):
                return item
            return replace(item, command=await asyncio.to_thread(
                by_reference, committee_url, item.command, item.actor))
        before = sum(1 for i in self.everything() if i.command and "personal" in i.command)
        self.prelude = [await by_ref(i) for i in self.prelude]
        self.inputs = [await by_ref(i) for i in self.inputs]
        return before

    def _institution(self, n: int, rng: random.Random) -> list[Input]:
        inst = f"inst-{self.seed}-{n:05d}"
        kind = KINDS[n % len(KINDS)]
        submitter = y2021.submitter(inst)
        out = [_command(SUBMISSION, inst, f"reg-{inst}", {
            "command_type": "RegisterInstitution", "institution_id": inst,
            "name_ko": f"기관 {n}", "kind": kind}, y2021.ORG_REGISTRY,
            {"submission.InstitutionRegistered": 1})]
        report = y2021.report_command(inst, rng)
        out.append(_command(SUBMISSION, inst, f"rep-{inst}", report, submitter,
                            _report_causes("submission.ReportSubmitted", report)))
        if rng.random() < 0.5:
            amended = dict(y2021.report_command(inst, rng, n=1), command_type="AmendReport",
                           reason="증빙 보완 (evidence completed)")
            out.append(_command(SUBMISSION, inst, f"amd-{inst}", amended, submitter,
                                _report_causes("submission.ReportAmended", amended)))
        for k, (as_of, headcount) in enumerate([("2021-03-31", rng.randint(30, 300)),
                                                ("2021-06-30", rng.randint(30, 300))]):
            out.append(_external("hr", inst, {
                "event_id": f"hr-{inst}-{k}", "event_type": "hr.HeadcountReported",
                "schema_version": 1, "occurred_at": f"{as_of}T09:00:00+09:00",
                "source": "seoul-hr", "payload": {"institution_id": inst,
                                                   "headcount": headcount, "as_of": as_of}},
                {"scoring.HeadcountRecorded": 1}))
        for k in range(rng.randint(4, 14)):
            course = rng.choice(["governance-and-citizens", "local-governance"])
            out.append(_external("education", inst, {
                "event_id": f"edu-{inst}-{k}", "event_type": "education.CourseCompleted",
                "schema_version": 1, "occurred_at": "2020-11-01T10:00:00+09:00",
                "source": "seoul-mooc", "payload": {
                    "institution_id": inst, "course_id": course,
                    "learner_ref": f"L{rng.randint(0, 40):04d}", "completed_on": "2020-11-01"}},
                {"scoring.CourseCompletionRecorded": 1}))
        out += self._committee(inst, rng)
        org = f"org-{inst}"
        out.append(_command(GRANTS, org, f"org-{inst}", {
            "command_type": "RegisterOrganisation", "organisation_id": org,
            "name_ko": f"비영리단체 {n}", "registered_nonprofit": True,
            "funded_before": rng.random() < 0.4}, INTAKE, {"grants.OrganisationRegistered": 1}))
        out.append(_command(GRANTS, org, f"app-{inst}", {
            "command_type": "ReceiveApplication", "round_id": "2021",
            "application_id": f"2021-{inst}", "organisation_id": org,
            "field": "community", "requested_amount": 20_000_000,
            "self_funding_pledged": 1_000_000, "plan_summary": f"공익사업 계획 {n}"},
            INTAKE, {"grants.ApplicationReceived": 1}))
        return out

    @staticmethod
    def _committee(inst: str, rng: random.Random) -> list[Input]:
        committee = f"cmt-{inst}"
        members = [f"{committee}-m{k}" for k in range(3)]
        out = [_command(COMMITTEE, committee, f"est-{inst}", {
            "command_type": "EstablishCommittee", "committee_id": committee,
            "institution_id": inst, "name_ko": "협치위원회", "kind": "governance committee",
            "city_committee": False}, secretary(committee), {"committee.CommitteeEstablished": 1})]
        for k, member in enumerate(members):
            out.append(_command(COMMITTEE, committee, f"apt-{member}", {
                "command_type": "AppointMember", "committee_id": committee,
                "member_id": member, "role": "chair" if k == 0 else "member",
                "channel": rng.choice(["open_call", "recommendation"]),
                "appointed_on": "2020-01-02",
                "personal": {"name": f"위원 {k}",  # one draw per member, as before
                             "birth_date": f"{rng.randint(1955, 2000)}-"
                                           f"{k % 12 + 1:02d}-{k % 28 + 1:02d}"}},
                secretary(committee), {"committee.MemberAppointed": 1}))
        for number in (1, 2):
            day = f"2020-{3 * number:02d}-{rng.randint(1, 28):02d}"
            meeting = f"{committee}-{number}"
            out.append(_command(COMMITTEE, committee, f"held-{meeting}", {
                "command_type": "RecordMeetingHeld", "meeting_id": meeting,
                "committee_id": committee, "number": number,
                "mode": rng.choice(["in_person", "online", "hybrid"]),
                "starts_at": f"{day}T14:00:00+09:00", "ends_at": f"{day}T15:30:00+09:00",
                "place": "서울시청", "attendees": [
                    {"member_id": m, "attendance": rng.choice(["in_person", "remote"])}
                    for m in members],
                "agenda": [{"number": f"2020-{number}", "kind": "report",
                            "owning_team": "협치기획팀", "title": "협치 추진 현황",
                            "opinions": [], "result": "원안 접수"}]},
                secretary(committee), {"committee.MeetingHeld": 1}))
        out.append(_command(COMMITTEE, committee, f"cost-{committee}-1", {
            "command_type": "RecordMeetingCosts", "meeting_id": f"{committee}-1",
            "room_hours": 2, "room_rate": 110000, "refreshments": rng.randint(0, 200000)},
            secretary(committee), {"committee.MeetingCostsRecorded": 1}))
        return out

    # -- what it adds up to ----------------------------------------------------------
    def everything(self) -> list[Input]:
        return [*self.prelude, *self.inputs]

    def expected_events(self) -> Counter:
        """Events the inputs themselves record (scoring's ScoreComputed come on top)."""
        total: Counter = Counter()
        for i in self.everything():
            total.update(i.causes)
        return total

    def topics(self) -> set[str]:
        return {i.topic for i in self.everything()}


def _merge(sequences: list[list[Input]], rng: random.Random) -> list[Input]:
    """Every sender at once: the inputs of each topic and key at random moments of the
    run, in their own order (the order that must hold), all merged by moment."""
    timed = []
    for n, sequence in enumerate(sequences):
        moments = sorted(rng.random() for _ in sequence)
        timed += [(moment, n, k) for k, moment in enumerate(moments)]
    timed.sort()
    return [sequences[n][k] for _, n, k in timed]


def _report_causes(head: str, report: dict) -> dict[str, int]:
    marks = len(report["not_applicable"])
    return {head: 1, **({"submission.IndicatorMarkedNotApplicable": marks} if marks else {})}


def _command(service: str, key: str, command_id: str, command: dict, actor: dict,
             causes: dict[str, int]) -> Input:
    return Input(service, f"{service}.commands", key, command_id, "commands", causes,
                 command=command, actor=actor)


def _external(kind: str, key: str, fact: dict, causes: dict[str, int]) -> Input:
    return Input(SCORING, f"ingress.{kind}", key,
                 f"ext:{fact['source']}:{fact['event_id']}", "external-facts", causes,
                 fact=fact)


async def send(bootstrap: str, prefix: str, inputs: list[Input], rate: float | None = None,
               progress=None) -> int:
    """Send inputs in order (acks=all, idempotent, so each is written once and in order
    per key), at about `rate` messages a second (None: as fast as the broker takes them).
    A broker away for a while is waited out by the producer's retries."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5,
                                request_timeout_ms=120_000, retry_backoff_ms=500)
    await producer.start()
    loop = asyncio.get_running_loop()
    began, sent = loop.time(), 0
    try:
        pending = []
        for item in inputs:
            pending.append(await producer.send(f"{prefix}.{item.topic}", await item.wire(),
                                               key=item.key.encode()))
            sent += 1
            if rate and sent % 50 == 0:
                await asyncio.gather(*pending)
                pending = []
                ahead = began + sent / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
                if progress:
                    progress(sent)
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return sent
