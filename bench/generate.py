"""Realistic sealed events of the services' real types, fast, on a real broker.

Events come in "institution units", one institution's 2021, in the shapes the
services record (scenarios/y2021.py, scenarios/load.py, scenarios/seeds.py,
scenarios/grants2021.py). Events per unit, by service (= topic):

  submission  3     institution-<id>       InstitutionRegistered (v2)
                    report-2021-<id>       ReportSubmitted, IndicatorMarkedNotApplicable
  scoring    11     headcount-<id>         HeadcountRecorded
                    learning-<id>          CourseCompletionRecorded x 4
                    scorecard-2021-<id>    ScoreComputed x 6 (one per indicator)
  committee  13.3   committee-cmt-<id>     CommitteeEstablished, MemberAppointed (v2)
                                           x 4, the youth member first
                    meeting-cmt-<id>-1, -2 MeetingScheduled, MeetingHeld,
                                           MeetingCostsRecorded, MinutesRecorded
             varied by unit number n: n % 4 == 1 the second meeting is postponed a
             week (MeetingPostponed); n % 8 == 3 it is cancelled (MeetingCancelled,
             nothing after); n % 10 == 7 a member resigns between the meetings
             (MemberDismissed, a replacement MemberAppointed), and for n % 20 == 17
             asks for erasure (PersonalDataErased on person-<member>); n % 20 == 10
             the chair is appointed before the youth member of a city committee, so
             the youth office head co-approves first (YouthQuotaExceptionApproved)
  grants      7.28  organisation-org-<id>  OrganisationRegistered
                    application-2021-<id>  ApplicationReceived, then ApplicationExcluded
                                           or ReviewerAssigned x 2, ReviewScored x 2;
                                           if selected and kept: PlanRevised (award
                                           below the request), PaymentMade,
                                           SpendingReported, SelfFundingChecked,
                                           ProjectClosed
                    round-2021-<r>         RoundOpened, ApplicationsClosed,
                                           SelectionDecided, SelectionOverridden

That is 34.58 events per unit (submission 8.7 %, scoring 31.8 %, committee 38.5 %,
grants 21.1 %), the same mix at every size (grants: the mean over full rounds).

A grant round is ROUND_UNITS (20) units' applications under the 2021 round's rules,
its budget (2,000,000,000 KRW for 418 applications) scaled to them. Per round: one
organisation is not a registered non-profit and one had a poor past evaluation
(both excluded at screening); one reviewer declares a conflict
(ReviewConflictDeclared) and a third is assigned and scores; the selection is the
service's own (`services/grants/domain/rules.select`: 6 of 18, 30 %; 2021 chose
136 of 418); the selection committee withdraws the last pick (SelectionOverridden);
the first project kept spends 90 % of its award, the second falls short on
self-funding (PenaltyImposed, and OrganisationEvaluated "poor" on its
organisation, as the handler records it). The last round of a run may be smaller;
its budget scales with it.

Committee members' personal data is never in clear: each MemberAppointed carries it
as the committee service seals it (services/committee/app/personal.py): JSON of
`Personal` (a made-up name and birth date) encrypted with AES-256-GCM under a fresh
key for that person, key id `person-<member>` bound as associated data, stored as
base64(nonce ‖ ciphertext). The keys are dropped (as if erased from the start),
except for the sampled round, whose appointments `check_sample` opens again. The
youth decision is the rules' own (`CommitteeRules.is_youth` on the appointment day).

Payloads are dumped once per type from the real pydantic models and then varied by
id and amount; envelopes are sealed the way `shared.envelope.seal` does (canonical
JSON, SHA-256 chained per stream) but from plain dicts, which is ~10x faster.
`check_sample` proves the shortcut: sampled records equal `seal(...).to_json()` byte
for byte, are sealed, chain, decode with the services' registries into exactly their
payloads, and each committee and grants event is the one its aggregate's own command
makes from its stream's events before it (`Flows`).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import random
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.envelope import GENESIS_HASH, Envelope, canonical_json, seal
from shared.ids import new_id
from shared.topics import Topic, ensure_topics

SERVICES = ("submission", "scoring", "committee", "grants")
ROUND_UNITS = 20  # institution units (grant applications) per grant round
# Events per unit by service (grants: the mean over a full round; see the docstring).
EVENTS_PER_UNIT = {"submission": 3, "scoring": 11, "committee": 13.3, "grants": 7.28}
UNIT_EVENTS = sum(EVENTS_PER_UNIT.values())
INDICATORS = ["committee-openness", "committee-meetings", "governance-process",
              "governance-education", "governance-case", "governance-leadership"]
BASE_TIME = datetime(2021, 3, 31, 0, 0, tzinfo=timezone.utc)
APPOINTED = date(2021, 4, 15)  # after the youth quota (2021-04-01) took effect
# (role, channel) of a committee's four members; the first is the youth member.
POSITIONS = [("member", "open_call"), ("chair", "recommendation"),
             ("vice_chair", "open_call"), ("member", "recommendation")]
ROUND_BUDGET_2021, APPLIED_2021 = 2_000_000_000, 418


def _templates() -> dict[str, dict]:
    """One JSON-mode payload per event type, from the services' own models."""
    from scenarios import y2021
    from services.committee.domain import events as co
    from services.grants.domain import events as gr
    from services.scoring.domain import events as sc
    from services.submission.domain import events as su

    rng = random.Random(9)
    report = y2021.report_command("planning", rng)
    while len(report["results"]) < 4:
        report = y2021.report_command("planning", rng)
    kst = timezone(timedelta(hours=9))
    at = datetime(2021, 5, 3, 14, 0, tzinfo=kst)
    return {
        "registered": su.InstitutionRegistered(
            institution_id="X", name_ko="벤치마크 기관", kind="bureau",
            division_count=4).model_dump(mode="json"),
        "submitted": su.ReportSubmitted(
            cycle_id="2021", institution_id="X", submission_id="X",
            rulebook_ref="governance-capability/2021/v1",
            results=report["results"]).model_dump(mode="json"),
        "not_applicable": su.IndicatorMarkedNotApplicable(
            cycle_id="2021", institution_id="X", indicator_id="committee-openness",
            reason="해당 위원회 없음 (no committee of this kind)").model_dump(mode="json"),
        "headcount": sc.HeadcountRecorded(
            institution_id="X", headcount=120, as_of=date(2021, 3, 31),
            external_event_id="X", source_system="seoul-hr").model_dump(mode="json"),
        "completion": sc.CourseCompletionRecorded(
            institution_id="X", course_id="governance-and-citizens", learner_ref="X",
            completed_on=date(2020, 11, 1), external_event_id="X",
            source_system="seoul-mooc").model_dump(mode="json"),
        "score": sc.ScoreComputed(
            cycle_id="2021", institution_id="X", indicator_id="committee-openness",
            points=Decimal("12.5"), max_points=20, source="measured", weight=Decimal("1"),
            measure={"open_call_share": "0.35"}, inputs=["X"],
            explanation="공모 위원 비율 35% → 12.5점", rulebook_ref="governance-capability/2021/v1",
            ).model_dump(mode="json"),
        # committee
        "established": co.CommitteeEstablished(
            committee_id="X", institution_id="X", name_ko="협치위원회",
            kind="governance committee", city_committee=True).model_dump(mode="json"),
        "appointed": co.MemberAppointed(
            committee_id="X", member_id="X", role="member", channel="open_call",
            appointed_on=APPOINTED, youth=True,
            personal=co.SealedPersonal(key_id="X", ciphertext="X"),
            youth_rule_ref="youth-quota/v1").model_dump(mode="json"),
        "scheduled": co.MeetingScheduled(
            meeting_id="X", committee_id="X", institution_id="X", number=1, starts_at=at,
            place="서울시청 본관 8층 회의실").model_dump(mode="json"),
        "held": co.MeetingHeld(
            meeting_id="X", committee_id="X", institution_id="X", number=1,
            mode="in_person", starts_at=at, ends_at=at + timedelta(minutes=90),
            place="서울시청 본관 8층 회의실",
            attendees=[co.Attendee(member_id="X", attendance="in_person")],
            officials=[co.Official(post="협치기획팀장"), co.Official(post="담당 주무관")],
            agenda=[co.AgendaItem(number="2021-1", kind="report", owning_team="협치기획팀",
                                  title="2021년도 협치 추진 현황",
                                  opinions=["위원회 공모 위원 확대 필요"], result="보고"),
                    co.AgendaItem(number="2021-2", kind="advisory",
                                  owning_team="시정협치팀", title="위원회 운영 개선 방안",
                                  opinions=["원격 참석 수당 기준 안내 요청"],
                                  result="자문 의견 반영")],
            next_meeting=co.NextMeeting(number=2, starts_at=at)).model_dump(mode="json"),
        "costs": co.MeetingCostsRecorded(
            meeting_id="X", allowance_rule_ref="allowance/v2",
            allowances=[co.Allowance(member_id="X", attendance="in_person", amount=150000)],
            room_hours=2, room_rate=110000, refreshments=50000,
            total=150000 + 220000 + 50000).model_dump(mode="json"),
        "exception": co.YouthQuotaExceptionApproved(
            committee_id="X", member_id="X", approved_by=YOUTH_HEAD["id"],
            reason="위원장 우선 위촉, 청년위원 위촉 예정 (the youth member follows)").model_dump(
            mode="json"),
        "dismissed": co.MemberDismissed(
            committee_id="X", member_id="X", dismissed_on=date(2021, 7, 1),
            reason="본인 사임 (resigned)").model_dump(mode="json"),
        "erased": co.PersonalDataErased(
            member_id="X", key_id="X",
            reason="정보주체의 삭제 요구 (the person asked for erasure)").model_dump(
            mode="json"),
        "postponed": co.MeetingPostponed(
            meeting_id="X", starts_at=at,
            reason="위원장 일정 (the chair's schedule)").model_dump(mode="json"),
        "cancelled": co.MeetingCancelled(
            meeting_id="X", reason="정족수 미달 예상 (no quorum expected)").model_dump(
            mode="json"),
        "minutes": co.MinutesRecorded(
            meeting_id="X", disclosure="public", reason_code=None, retention_years=3,
            summary="회의 결과 보고", attachments=[co.Attachment(
                kind="minutes", title="회의록", disclosure="public")]).model_dump(mode="json"),
        # grants
        "organisation": gr.OrganisationRegistered(
            organisation_id="X", name_ko="비영리단체 X", registered_nonprofit=True,
            funded_before=False, past_evaluation=None).model_dump(mode="json"),
        "evaluated": gr.OrganisationEvaluated(
            organisation_id="X", round_id="X", evaluation="poor",
            reason="X").model_dump(mode="json"),
        "opened": gr.RoundOpened(round_id="X", rules={}, rules_ref="X").model_dump(
            mode="json"),
        "apps_closed": gr.ApplicationsClosed(round_id="X").model_dump(mode="json"),
        "received": gr.ApplicationReceived(
            application_id="X", round_id="X", organisation_id="X", field="community",
            requested_amount=20_000_000, self_funding_pledged=1_000_000,
            plan_summary="공익사업 계획 X", new_organisation=True).model_dump(mode="json"),
        "excluded": gr.ApplicationExcluded(
            application_id="X", round_id="X", reason_code="not_registered",
            detail="X").model_dump(mode="json"),
        "assigned": gr.ReviewerAssigned(application_id="X", reviewer_id="X").model_dump(
            mode="json"),
        "conflict": gr.ReviewConflictDeclared(
            application_id="X", reviewer_id="X",
            reason="신청단체 임원과 친족 관계 (a relative sits on its board)").model_dump(
            mode="json"),
        "scored": gr.ReviewScored(application_id="X", reviewer_id="X",
                                  scores={"public_benefit": 1}, total=1).model_dump(
            mode="json"),
        "decided": gr.SelectionDecided(
            round_id="X", rules_ref="X", decisions=[gr.DecisionRecord(
                application_id="X", selected=True, award=1, order=1, reason="X")],
            budget_committed=1).model_dump(mode="json"),
        "overridden": gr.SelectionOverridden(
            round_id="X", application_id="X", selected=False, award=0,
            reason="선정위원회 재심: 같은 사업의 중복 지원 확인 (funded twice)").model_dump(
            mode="json"),
        "revised": gr.PlanRevised(application_id="X", award=1,
                                  revised_summary="X").model_dump(mode="json"),
        "paid": gr.PaymentMade(application_id="X", amount=1).model_dump(mode="json"),
        "spent": gr.SpendingReported(application_id="X", grant_spent=1,
                                     self_funding_spent=1).model_dump(mode="json"),
        "checked": gr.SelfFundingChecked(
            application_id="X", execution_rate="1", required=1, actual=1, shortfall=0,
            rules_ref="X").model_dump(mode="json"),
        "penalty": gr.PenaltyImposed(
            application_id="X", organisation_id="X", amount=1, reason="X",
            next_round_effect="poor_past_evaluation").model_dump(mode="json"),
        "project_closed": gr.ProjectClosed(application_id="X").model_dump(mode="json"),
    }


SYSTEM = {"id": "scoring-service", "role": "system", "kind": "system"}
SUBMITTER = {"id": "submitter-bench", "role": "institution_submitter", "kind": "person"}
REGISTRY = {"id": "seoul-org-registry", "role": "city_system", "kind": "system"}
SECRETARY = {"id": "secretary-bench", "role": "committee_secretary", "kind": "person"}
YOUTH_HEAD = {"id": "youth-office-head", "role": "youth_office_head", "kind": "person"}
OFFICER = {"id": "grants-officer-1", "role": "grants_officer", "kind": "person"}
INTAKE = {"id": "seoul-grants-intake", "role": "city_system", "kind": "system"}


def reviewer(number: int) -> dict:
    return {"id": f"reviewer-{number}", "role": "grant_reviewer", "kind": "person"}


class Sealer:
    """Seals envelopes stream by stream, keeping each stream's head hash.

    One canonical dump per event: the hash covers the envelope without `hash`, and
    the body is that same text with `"hash":"…"` put in its sorted place, right
    before the top-level `occurred_at` (a string's quotes are escaped, so the first
    `,"occurred_at":"` is the top-level member's)."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str]] = {}

    def seal(self, stream_id: str, event_type: str, schema_version: int, payload: dict,
             at: str, actor: dict, source: str, correlation_id: str,
             causation_id: str | None = None) -> tuple[bytes, str]:
        version, prev = self.heads.get(stream_id, (0, GENESIS_HASH))
        fields = {"event_id": new_id(), "event_type": event_type,
                  "schema_version": schema_version, "stream_id": stream_id,
                  "stream_version": version + 1, "occurred_at": at, "recorded_at": at,
                  "actor": actor, "causation_id": causation_id,
                  "correlation_id": correlation_id, "source": source,
                  "payload": payload, "prev_hash": prev}
        text = canonical_json(fields).encode()
        digest = hashlib.sha256(text).hexdigest()
        self.heads[stream_id] = (version + 1, digest)
        at = text.index(b',"occurred_at":"')
        body = b"".join((text[:at], b',"hash":"', digest.encode(), b'"', text[at:]))
        return body, fields["event_id"]


def seal_personal(member_id: str, name: str, born: date,
                  keys: dict[str, bytes] | None = None) -> dict:
    """`SealedPersonal` as the committee service makes it (app/personal.py `seal`): a
    fresh AES-256 key for the person, the key id bound as associated data. The key
    is kept in `keys` when given, else dropped."""
    key_id = f"person-{member_id}"  # app/personal.py key_id_of
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    plain = json.dumps({"name": name, "birth_date": born.isoformat()},
                       ensure_ascii=False, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, key_id.encode())
    if keys is not None:
        keys[member_id] = key
    return {"key_id": key_id, "ciphertext": base64.b64encode(nonce + sealed).decode()}


class Units:
    """The records of institution units, a grant round's worth at a time, as
    (service, stream id, sealed body) in log order."""

    def __init__(self, run: str, templates: dict[str, dict] | None = None,
                 keys: dict[str, bytes] | None = None) -> None:
        from services.committee.domain.rules import load_rules as committee_rules
        from services.grants.domain.organisation import Organisation
        from services.grants.domain.rules import load_rules as grant_rules

        self.run, self.t, self.sealer = run, templates or _templates(), Sealer()
        self.keys = keys  # member id -> person key, while kept (the sampled block)
        self.committee_rules, self.grant_rules = committee_rules(), grant_rules(2021)
        # Why screening excludes an organisation, in the aggregate's own words.
        self.exclusions = {}
        for registered, past in ((False, None), (True, "poor")):
            org = Organisation("organisation-x", [self._org_event(registered, past)])
            reason = org.exclusion()
            self.exclusions[reason[0]] = reason[1]

    @staticmethod
    def _org_event(registered: bool, past: str | None):
        from services.grants.domain.events import OrganisationRegistered
        return OrganisationRegistered(organisation_id="x", name_ko="x",
                                      registered_nonprofit=registered,
                                      funded_before=True, past_evaluation=past)

    def block(self, b: int, first: int, size: int) -> list[tuple[str, str, bytes]]:
        """Grant round b: units first .. first + size - 1, then the round's screening,
        reviews, selection and the selected projects' execution."""
        from scenarios.grants2021 import FIELDS, scores_for, target_score

        out: list[tuple[str, str, bytes]] = []
        round_id = f"2021-{b + 1:05d}"
        budget = ROUND_BUDGET_2021 * size // APPLIED_2021 // 100_000 * 100_000
        rules = self.grant_rules.model_copy(update={"round_id": round_id,
                                                    "budget": budget})
        corr = f"bench-{self.run}-round-{b + 1}"
        self._add(out, "grants", f"round-{round_id}", "grants.RoundOpened", 1,
                  {**self.t["opened"], "round_id": round_id,
                   "rules": rules.model_dump(mode="json"), "rules_ref": rules.ref},
                  OFFICER, corr, self._at(first))
        apps = []
        for n in range(first, first + size):
            out += self._unit(n)
            inst, k = f"{self.run}-{n:07d}", n - first
            org, app = f"org-{inst}", f"2021-{inst}"
            poor = k == 13
            funded_before = poor or n % 5 < 2
            score = target_score(n)
            requested = 14_700_000 if score >= 85 else 30_000_000 if score < 50 else 20_000_000
            at, unit_corr = self._at(n), f"bench-{self.run}-{n}"
            self._add(out, "grants", f"organisation-{org}", "grants.OrganisationRegistered",
                      1, {**self.t["organisation"], "organisation_id": org,
                          "name_ko": f"비영리단체 {n}", "registered_nonprofit": k != 3,
                          "funded_before": funded_before,
                          "past_evaluation": "poor" if poor else None},
                      INTAKE, unit_corr, at)
            self._add(out, "grants", f"application-{app}", "grants.ApplicationReceived", 1,
                      {**self.t["received"], "application_id": app, "round_id": round_id,
                       "organisation_id": org, "field": FIELDS[n % len(FIELDS)],
                       "requested_amount": requested, "self_funding_pledged": requested // 20,
                       "plan_summary": f"공익사업 계획 {n}",
                       "new_organisation": not funded_before}, INTAKE, unit_corr, at)
            apps.append({"n": n, "k": k, "org": org, "app": app, "requested": requested,
                         "field": FIELDS[n % len(FIELDS)], "new": not funded_before,
                         "excluded": "not_registered" if k == 3 else
                         "poor_past_evaluation" if poor else None,
                         "scores": scores_for(n)})
        self._close_round(out, rules, apps, corr, self._at(first + size - 1))
        return out

    def _at(self, n: int) -> str:
        return (BASE_TIME + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _add(self, out, service, stream, event_type, version, payload, actor, corr, at,
             cause=None) -> str:
        body, event_id = self.sealer.seal(stream, event_type, version, payload, at, actor,
                                          service, corr, cause)
        out.append((service, stream, body))
        return event_id

    def _unit(self, n: int) -> list[tuple[str, str, bytes]]:
        """Unit n's submission, scoring and committee records."""
        t, inst = self.t, f"{self.run}-{n:07d}"
        at, corr = self._at(n), f"bench-{self.run}-{n}"
        out: list[tuple[str, str, bytes]] = []

        def add(service, stream, event_type, version, payload, actor, cause=None):
            return self._add(out, service, stream, event_type, version, payload, actor,
                             corr, at, cause)

        add("submission", f"institution-{inst}", "submission.InstitutionRegistered", 2,
            {**t["registered"], "institution_id": inst}, REGISTRY)
        report = f"report-2021-{inst}"
        cause = add("submission", report, "submission.ReportSubmitted", 1,
                    {**t["submitted"], "institution_id": inst,
                     "submission_id": f"2021-{inst}-0"}, SUBMITTER)
        add("submission", report, "submission.IndicatorMarkedNotApplicable", 1,
            {**t["not_applicable"], "institution_id": inst}, SUBMITTER, cause)
        hc = add("scoring", f"headcount-{inst}", "scoring.HeadcountRecorded", 1,
                 {**t["headcount"], "institution_id": inst, "headcount": 30 + n % 270,
                  "external_event_id": f"hr-{inst}"}, SYSTEM)
        for k in range(4):
            add("scoring", f"learning-{inst}", "scoring.CourseCompletionRecorded", 1,
                {**t["completion"], "institution_id": inst, "learner_ref": f"L{k:04d}",
                 "external_event_id": f"edu-{inst}-{k}"}, SYSTEM)
        for indicator in INDICATORS:
            add("scoring", f"scorecard-2021-{inst}", "scoring.ScoreComputed", 1,
                {**t["score"], "institution_id": inst, "indicator_id": indicator,
                 "inputs": [cause, hc]}, SYSTEM, cause)
        self._committee(n, inst, add)
        return out

    def _committee(self, n: int, inst: str, add) -> None:
        """A committee of four (the youth member first), two meetings: scheduled, held,
        their costs under the allowance rule in force, their minutes. Some units vary
        it (module docstring): a postponed or cancelled second meeting, a member who
        resigns between the meetings (replaced; half of them have their personal data
        erased), a chair appointed before the youth member with the youth office
        head's co-approval."""
        t, committee = self.t, f"cmt-{inst}"
        stream = f"committee-{committee}"
        city = n % 2 == 0
        add("committee", stream, "committee.CommitteeEstablished", 1,
            {**t["established"], "committee_id": committee, "institution_id": inst,
             "city_committee": city}, SECRETARY)
        order = [1, 0, 2, 3] if n % 20 == 10 else [0, 1, 2, 3]
        if n % 20 == 10:  # the chair first: below the quota until the youth member comes
            add("committee", stream, "committee.YouthQuotaExceptionApproved", 1,
                {**t["exception"], "committee_id": committee,
                 "member_id": f"{committee}-m1"}, YOUTH_HEAD)
        members = {}
        for k in order:
            role, channel = POSITIONS[k]
            born = (date(1990 + n % 10, 1 + n % 12, 1 + n % 28) if k == 0 else
                    date(1956 + (n + k) % 24, 1 + (n + k) % 12, 1 + (n + 3 * k) % 28))
            members[k] = self._appoint(add, stream, committee, k, role, channel, born,
                                       APPOINTED, n)
        days = [date(2021, 5, 3 + n % 25), date(2021, 9, 1 + n % 28)]
        announced = f"{days[1].isoformat()}T14:00:00+09:00"
        for number in (1, 2):
            if number == 2 and n % 10 == 7:  # a member resigns; another is appointed
                gone = f"{committee}-m3"
                add("committee", stream, "committee.MemberDismissed", 1,
                    {**t["dismissed"], "committee_id": committee, "member_id": gone},
                    SECRETARY)
                if n % 20 == 17:  # and asks for their personal data to be erased
                    add("committee", f"person-{gone}", "committee.PersonalDataErased", 1,
                        {**t["erased"], "member_id": gone, "key_id": f"person-{gone}"},
                        SECRETARY)
                del members[3]
                members[4] = self._appoint(add, stream, committee, 4, "member",
                                           "open_call", date(1968 + n % 10, 6, 1 + n % 28),
                                           date(2021, 7, 15), n)
            self._meeting(add, n, inst, committee, number, days[number - 1], announced,
                          list(members.values()))

    def _appoint(self, add, stream, committee, k, role, channel, born, on, n):
        member = f"{committee}-m{k}"
        add("committee", stream, "committee.MemberAppointed", 2,
            {**self.t["appointed"], "committee_id": committee, "member_id": member,
             "role": role, "channel": channel, "appointed_on": on.isoformat(),
             "youth": self.committee_rules.is_youth(born, on),
             "personal": seal_personal(member, f"벤치 위원 {n}-{k}", born, self.keys),
             "youth_rule_ref": self.committee_rules.youth_quota_on(on).ref}, SECRETARY)
        return member, role

    def _meeting(self, add, n, inst, committee, number, day, announced, members) -> None:
        t, meeting = self.t, f"{committee}-{number}"
        ms = f"meeting-{meeting}"
        starts = f"{day.isoformat()}T14:00:00+09:00"
        ids = dict(meeting_id=meeting, committee_id=committee, institution_id=inst,
                   number=number)
        add("committee", ms, "committee.MeetingScheduled", 1,
            {**t["scheduled"], **ids, "starts_at": starts}, SECRETARY)
        if number == 2 and n % 8 == 3:  # no quorum expected: called off
            add("committee", ms, "committee.MeetingCancelled", 1,
                {**t["cancelled"], "meeting_id": meeting}, SECRETARY)
            return
        if number == 2 and n % 4 == 1:  # a week later
            day += timedelta(days=7)
            starts = f"{day.isoformat()}T14:00:00+09:00"
            add("committee", ms, "committee.MeetingPostponed", 1,
                {**t["postponed"], "meeting_id": meeting, "starts_at": starts}, SECRETARY)
        if number == 1:  # all four, in the room
            attendees = [(m, "in_person", role) for m, role in members]
        else:  # hybrid: one member away, one remote
            away = 1 + n % 3
            attendees = [(m, "remote" if j == 1 + (away % 3) else "in_person", role)
                         for j, (m, role) in enumerate(members) if j != away]
        add("committee", ms, "committee.MeetingHeld", 1,
            {**t["held"], **ids, "mode": "in_person" if number == 1 else "hybrid",
             "starts_at": starts, "ends_at": f"{day.isoformat()}T15:30:00+09:00",
             "attendees": [{"member_id": m, "attendance": a} for m, a, _ in attendees],
             "agenda": [{**item, "number": f"2021-{2 * number - 2 + i}"}
                        for i, item in enumerate(t["held"]["agenda"], start=1)],
             "next_meeting": {"number": 2, "starts_at": announced} if number == 1
             else None}, SECRETARY)
        rule = self.committee_rules.allowance_on(day)
        allowances = [{"member_id": m, "attendance": a,
                       "amount": rule.for_attendance(role, a)} for m, a, role in attendees]
        refreshments = 30_000 + n % 12 * 10_000
        add("committee", ms, "committee.MeetingCostsRecorded", 1,
            {**t["costs"], "meeting_id": meeting, "allowance_rule_ref": rule.ref,
             "allowances": allowances, "refreshments": refreshments,
             "total": sum(a["amount"] for a in allowances) + 2 * 110_000 + refreshments},
            SECRETARY)
        if number == 1:
            minutes = {**t["minutes"], "meeting_id": meeting,
                       "summary": f"제{number}차 회의 결과 보고"}
        else:  # members' remarks withheld: partly public, legal ground 6
            minutes = {**t["minutes"], "meeting_id": meeting, "disclosure": "partly_public",
                       "reason_code": "6",
                       "summary": f"제{number}차 회의 발언 요지 (비공개 부분 포함)",
                       "attachments": [
                           {"kind": "signature_sheet", "title": f"제{number}차 회의 서명부",
                            "disclosure": "closed"},
                           {"kind": "minutes", "title": f"제{number}차 회의록",
                            "disclosure": "closed"}]}
        add("committee", ms, "committee.MinutesRecorded", 1, minutes, SECRETARY)

    def _close_round(self, out, rules, apps: list[dict], corr: str, at: str) -> None:
        """Closed for applications, screened, reviewed, selected (the service's own
        selection), one pick withdrawn, the others paid, reported, checked, closed."""
        from services.grants.domain.rules import Candidate, check_self_funding, select

        t, round_id = self.t, rules.round_id

        def add(stream, event_type, payload, actor=OFFICER):
            return self._add(out, "grants", stream, event_type, 1, payload, actor, corr, at)

        add(f"round-{round_id}", "grants.ApplicationsClosed",
            {**t["apps_closed"], "round_id": round_id})
        candidates = []
        for a in apps:
            stream = f"application-{a['app']}"
            if a["excluded"]:
                add(stream, "grants.ApplicationExcluded",
                    {**t["excluded"], "application_id": a["app"], "round_id": round_id,
                     "reason_code": a["excluded"], "detail": self.exclusions[a["excluded"]]})
                continue
            first, second = 1 + a["n"] % 15, 16 + a["n"] % 15
            conflict = a["k"] == 5
            scorers = (second, 31) if conflict else (first, second)
            for r in (first, second):
                add(stream, "grants.ReviewerAssigned",
                    {**t["assigned"], "application_id": a["app"],
                     "reviewer_id": f"reviewer-{r}"})
            if conflict:  # the first steps aside; a third one is assigned
                add(stream, "grants.ReviewConflictDeclared",
                    {**t["conflict"], "application_id": a["app"],
                     "reviewer_id": f"reviewer-{first}"}, reviewer(first))
                add(stream, "grants.ReviewerAssigned",
                    {**t["assigned"], "application_id": a["app"], "reviewer_id": "reviewer-31"})
            for r in scorers:
                add(stream, "grants.ReviewScored",
                    {**t["scored"], "application_id": a["app"], "reviewer_id": f"reviewer-{r}",
                     "scores": a["scores"], "total": sum(a["scores"].values())}, reviewer(r))
            mean = Decimal(sum(a["scores"].values())).quantize(Decimal("0.01"))  # both alike
            candidates.append(Candidate(a["app"], a["field"], a["requested"], mean, a["new"]))
        decisions = select(rules, candidates)
        add(f"round-{round_id}", "grants.SelectionDecided",
            {**t["decided"], "round_id": round_id, "rules_ref": rules.ref,
             "decisions": [dict(application_id=d.application_id, selected=d.selected,
                                award=d.award, order=d.order, reason=d.reason)
                           for d in decisions],
             "budget_committed": sum(d.award for d in decisions if d.selected)})
        picks = sorted((d for d in decisions if d.selected), key=lambda d: d.order)
        if len(picks) >= 3:  # the committee withdraws the last pick
            add(f"round-{round_id}", "grants.SelectionOverridden",
                {**t["overridden"], "round_id": round_id,
                 "application_id": picks[-1].application_id})
            picks = picks[:-1]
        by_id = {a["app"]: a for a in apps}
        for i, d in enumerate(picks):
            a, stream = by_id[d.application_id], f"application-{d.application_id}"
            if d.award < a["requested"]:
                add(stream, "grants.PlanRevised",
                    {**t["revised"], "application_id": d.application_id, "award": d.award,
                     "revised_summary": f"공익사업 계획 {a['n']} (지원액 {d.award:,}원에 맞춰 축소)"})
            add(stream, "grants.PaymentMade",
                {**t["paid"], "application_id": d.application_id, "amount": d.award})
            spent = d.award * 9 // 10 // 10_000 * 10_000 if i == 0 else d.award
            required = check_self_funding(rules, d.award, spent, 0).required
            own = max(0, required - 200_000) if i == 1 else required
            add(stream, "grants.SpendingReported",
                {**t["spent"], "application_id": d.application_id, "grant_spent": spent,
                 "self_funding_spent": own})
            result = check_self_funding(rules, d.award, spent, own)
            add(stream, "grants.SelfFundingChecked",
                {**t["checked"], "application_id": d.application_id,
                 "execution_rate": str(result.execution_rate), "required": result.required,
                 "actual": result.actual, "shortfall": result.shortfall,
                 "rules_ref": rules.ref})
            if result.shortfall:  # as the service's handler records it
                reason = (f"self-funding {result.actual:,} under the required "
                          f"{result.required:,} ({rules.self_funding_share:.0%} at execution "
                          f"rate {result.execution_rate})")
                add(stream, "grants.PenaltyImposed",
                    {**t["penalty"], "application_id": d.application_id,
                     "organisation_id": a["org"], "amount": result.penalty,
                     "reason": reason,
                     "next_round_effect": rules.penalty.next_round_effect})
                add(f"organisation-{a['org']}", "grants.OrganisationEvaluated",
                    {**t["evaluated"], "organisation_id": a["org"], "round_id": round_id,
                     "evaluation": "poor", "reason": reason})
            add(stream, "grants.ProjectClosed",
                {**t["project_closed"], "application_id": d.application_id})


def check_sample(records: list[tuple[str, str, bytes]],
                 keys: dict[str, bytes] | None = None) -> int:
    """The shortcut equals the real sealing: same bytes as `seal().to_json()`, sealed,
    chained, decodable by the owning service's registry into exactly its payload; and
    committee and grants events are what their aggregates make (`Flows`; `keys` opens
    the sampled appointments' personal data). Returns records checked."""
    from services.committee.domain.events import registry as committee
    from services.grants.domain.events import registry as grants
    from services.scoring.domain.events import registry as scoring
    from services.submission.domain.events import registry as submission
    registries = {"submission": submission, "scoring": scoring, "committee": committee,
                  "grants": grants}
    heads: dict[str, str] = {}
    flows = Flows(keys or {})
    for service, stream, body in records:
        env = Envelope.from_json(body)
        again = seal(env.model_dump(exclude={"hash"}))
        assert again.to_json().encode() == body, f"{stream}: not canonical as sealed"
        assert env.is_sealed() and env.prev_hash == heads.get(stream, GENESIS_HASH)
        assert env.stream_id == stream and env.source == service, stream
        registry = registries[service]
        event = registry.decode(env.event_type, env.schema_version, env.payload)
        if env.schema_version == registry.latest_version(env.event_type):
            assert env.payload == event.model_dump(mode="json"), \
                f"{stream}: {env.event_type} is not its model's own dump"
        heads[stream] = env.hash
        if service in ("committee", "grants"):
            flows.check(env, event, body)
    flows.done()
    return len(records)


class Flows:
    """Makes each committee and grants event of a sample again with its aggregate's
    own command (services/<name>/domain), from the stream's events before it, the
    way the service's handler calls it; the sample's event must be exactly that. So
    the generated stream orders are ones the domain accepts, and every derived field
    (youth, allowances, totals, selection, self-funding, penalty) is the domain's."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        from services.committee.domain.rules import load_rules
        self.keys, self.rules = keys, load_rules()
        self.history: dict[str, list] = {}
        self.owed: dict[str, list] = {}       # events a command made that are still due
        self.round_apps: dict[str, list[str]] = {}

    def _get(self, cls, stream: str):
        return cls(stream, self.history.get(stream, []))

    def check(self, env: Envelope, event, body: bytes) -> None:
        stream = env.stream_id
        if self.owed.get(stream):
            made = [self.owed[stream].pop(0)]
        else:
            made = self._make(env, event, body)
            assert made, f"{stream}: the aggregate makes nothing for {env.event_type}"
            self.owed[stream] = made[1:]
        assert made[0] == event, (f"{stream} v{env.stream_version}: {env.event_type} is "
                                  f"not what the aggregate makes: {made[0]!r} != {event!r}")
        self.history.setdefault(stream, []).append(event)

    def done(self) -> None:
        left = {s: e for s, e in self.owed.items() if e}
        assert not left, f"events the aggregates made are missing: {left}"

    def _make(self, env: Envelope, e, body: bytes) -> list:
        name = type(e).__name__
        if env.event_type.startswith("committee."):
            return self._committee(name, env, e, body)
        return self._grants(name, env, e)

    def _committee(self, name: str, env: Envelope, e, body: bytes) -> list:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as Aead
        from services.committee.domain.committee import (Committee, PersonRecord,
                                                         committee_stream)
        from services.committee.domain.events import Personal
        from services.committee.domain.meeting import Meeting

        if name == "CommitteeEstablished":
            return self._get(Committee, env.stream_id).establish(
                e.committee_id, e.institution_id, e.name_ko, e.kind, e.city_committee)
        if name == "YouthQuotaExceptionApproved":
            return self._get(Committee, env.stream_id).approve_youth_exception(
                e.committee_id, e.member_id, env.actor.id, e.reason)  # approver: the actor
        if name == "MemberDismissed":
            return self._get(Committee, env.stream_id).dismiss(
                e.committee_id, e.member_id, e.dismissed_on, e.reason)
        if name == "PersonalDataErased":
            assert e.key_id == f"person-{e.member_id}"  # app/personal.py key_id_of
            return self._get(PersonRecord, env.stream_id).erase(e.member_id, e.key_id,
                                                                e.reason)
        if name == "MemberAppointed":
            raw = base64.b64decode(e.personal.ciphertext)
            plain = Aead(self.keys[e.member_id]).decrypt(raw[:12], raw[12:],
                                                         e.personal.key_id.encode())
            personal = Personal.model_validate_json(plain)
            text = body.decode()
            assert personal.name not in text and personal.birth_date.isoformat() not in text
            return self._get(Committee, env.stream_id).appoint(
                e.committee_id, e.member_id, e.role, e.channel, e.appointed_on, personal,
                e.personal, self.rules)
        meeting = self._get(Meeting, env.stream_id)
        committee_id = getattr(e, "committee_id", None) or meeting.state.committee_id
        committee = self._get(Committee, committee_stream(committee_id))
        if name == "MeetingScheduled":
            return meeting.schedule(e.meeting_id, committee, e.number, e.starts_at, e.place)
        if name == "MeetingPostponed":
            return meeting.postpone(e.meeting_id, e.starts_at, e.reason)
        if name == "MeetingCancelled":
            return meeting.cancel(e.meeting_id, e.reason)
        if name == "MeetingHeld":
            return meeting.hold(e.meeting_id, committee, e.number, e.mode, e.starts_at,
                                e.ends_at, e.place, list(e.attendees), list(e.officials),
                                list(e.agenda), e.next_meeting)
        if name == "MeetingCostsRecorded":
            return meeting.record_costs(e.meeting_id, committee, self.rules, e.room_hours,
                                        e.room_rate, e.refreshments)
        if name == "MinutesRecorded":
            return meeting.record_minutes(e.meeting_id, e.disclosure, e.reason_code,
                                          e.retention_years, e.summary,
                                          list(e.attachments), self.rules)
        raise AssertionError(f"{env.stream_id}: no flow generates {name}")

    def _grants(self, name: str, env: Envelope, e) -> list:
        from services.grants.domain.application import Application, application_stream
        from services.grants.domain.events import OrganisationEvaluated
        from services.grants.domain.grant_round import GrantRound, round_stream
        from services.grants.domain.organisation import Organisation, organisation_stream
        from services.grants.domain.rules import Candidate, GrantRules

        if name == "RoundOpened":
            rules = GrantRules.model_validate(e.rules)
            return self._get(GrantRound, env.stream_id).open(rules)
        if name == "OrganisationRegistered":
            return self._get(Organisation, env.stream_id).register(
                e.organisation_id, e.name_ko, e.registered_nonprofit, e.funded_before,
                e.past_evaluation)
        if name in ("ApplicationsClosed", "SelectionDecided", "SelectionOverridden"):
            grant_round = self._get(GrantRound, env.stream_id)
            if name == "ApplicationsClosed":
                return grant_round.close_applications()
            if name == "SelectionOverridden":
                app = self._get(Application, application_stream(e.application_id))
                return grant_round.override(e.application_id, e.selected, e.award,
                                            app.state.received.requested_amount, e.reason)
            candidates, unreviewed = [], []  # as the handler gathers them
            for app_id in self.round_apps.get(e.round_id, []):
                app = self._get(Application, application_stream(app_id))
                if app.state.excluded:
                    continue
                score, r = app.mean_score(), app.state.received
                if score is None:
                    unreviewed.append(app_id)
                else:
                    candidates.append(Candidate(app_id, r.field, r.requested_amount, score,
                                                r.new_organisation))
            return grant_round.decide(candidates, unreviewed)
        app = self._get(Application, env.stream_id)
        received = app.state.received if app.exists else e
        grant_round = self._get(GrantRound, round_stream(received.round_id))
        rules, award = grant_round.state.rules, grant_round.award_of(received.application_id)
        org = self._get(Organisation, organisation_stream(received.organisation_id))
        if name == "ApplicationReceived":
            assert org.exists, f"{e.application_id}: organisation not registered first"
            earlier = self.round_apps.setdefault(e.round_id, [])
            assert not any(self._get(Application, application_stream(a)).state.received
                           .organisation_id == e.organisation_id for a in earlier)
            earlier.append(e.application_id)
            return app.receive(grant_round.must_accept(), e.application_id,
                               e.organisation_id, e.field, e.requested_amount,
                               e.self_funding_pledged, e.plan_summary,
                               new_organisation=not org.state.funded_before)
        if name == "ApplicationExcluded":
            return app.screen(rules, org.exclusion())
        if name == "ReviewerAssigned":
            if not app.state.reviewers:  # screened before review: nothing to exclude
                assert app.screen(rules, org.exclusion()) == [], env.stream_id
            return app.assign_reviewer(e.reviewer_id)
        if name == "ReviewConflictDeclared":
            assert env.actor.id == e.reviewer_id  # a reviewer declares their own
            return app.declare_conflict(e.reviewer_id, e.reason)
        if name == "ReviewScored":
            assert env.actor.id == e.reviewer_id  # and scores as themselves
            return app.score(rules, e.reviewer_id, dict(e.scores))
        if name == "PlanRevised":
            return app.revise_plan(award, e.revised_summary)
        if name == "PaymentMade":
            return app.pay(award, e.amount)
        if name == "SpendingReported":
            return app.report_spending(e.grant_spent, e.self_funding_spent)
        if name == "SelfFundingChecked":
            made = app.check_self_funding(rules, award)
            penalties = [p for p in made if type(p).__name__ == "PenaltyImposed"]
            if penalties:  # the handler marks the organisation down for the next round
                stream = organisation_stream(received.organisation_id)
                self.owed.setdefault(stream, []).append(OrganisationEvaluated(
                    organisation_id=received.organisation_id, round_id=received.round_id,
                    evaluation="poor", reason=penalties[0].reason))
            return made
        if name == "ProjectClosed":
            return app.close()
        raise AssertionError(f"{env.stream_id}: no flow generates {name} on its own")


def topics_for(prefix: str) -> dict[str, str]:
    return {s: f"{prefix}.{s}.events" for s in SERVICES}


def blocks(events: int) -> list[int]:
    """Units per grant round for at least `events` events: full rounds, then one
    sized to what is left (at the mean rate; `produce_events` adds one more if the
    last comes up short)."""
    full, rest = divmod(max(1, math.ceil(events / UNIT_EVENTS)), ROUND_UNITS)
    return [ROUND_UNITS] * full + ([rest] if rest else [])


async def produce_events(bootstrap: str, prefix: str, events: int,
                         progress=None) -> dict:
    """Create the four event topics of `prefix` and fill them with at least `events`
    sealed events; returns counts and timings."""
    names = topics_for(prefix)
    ensure_topics(bootstrap, [Topic(n, "bench") for n in names.values()])
    templates = _templates()
    keys: dict[str, bytes] = {}
    check = Units("chk", templates, keys)  # a full round and a short one
    check_sample(check.block(0, 0, ROUND_UNITS) + check.block(1, ROUND_UNITS, 3), keys)
    keys = {}
    units = Units(prefix, templates, keys)  # keys kept for the sampled round only
    # Idempotent: a retry (say, right after the topics were made) never doubles or
    # reorders a record, so each stream's chain arrives whole and in order.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=1 << 20, client_id="bench-generator")
    await producer.start()
    started, counts, sample = time.perf_counter(), dict.fromkeys(SERVICES, 0), []
    made_units = made_rounds = 0
    try:
        pending = []
        plan = blocks(events)
        while plan or sum(counts.values()) < events:
            size = plan.pop(0) if plan else min(ROUND_UNITS, max(1, math.ceil(
                (events - sum(counts.values())) / UNIT_EVENTS)))
            records = units.block(made_rounds, made_units, size)
            if made_rounds == 0:
                sample, units.keys = records, None
            made_units, made_rounds = made_units + size, made_rounds + 1
            for service, stream, body in records:
                pending.append(await producer.send(names[service], body,
                                                   key=stream.encode()))
                counts[service] += 1
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress(sum(counts.values()))
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    check_sample(sample, keys)
    return {"events": sum(counts.values()), "by_topic": {names[s]: c for s, c in
                                                          counts.items()},
            "by_service": counts, "units": made_units, "rounds": made_rounds,
            "seconds": time.perf_counter() - started}


def _main() -> None:  # python -m bench.generate BOOTSTRAP PREFIX EVENTS
    import sys
    result = asyncio.run(produce_events(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print(json.dumps(result))


if __name__ == "__main__":
    _main()
