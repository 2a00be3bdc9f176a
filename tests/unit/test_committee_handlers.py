"""Every committee command through the one dispatch, on an in-memory store and
in-memory personal data (keys and deposits): no database. A committee is set up,
holds and records a meeting, and a member's data is erased; refusals store nothing,
and a secretary acts only for their own committees."""
from __future__ import annotations

import base64
import typing
from datetime import date, datetime, timedelta, timezone

import pytest

from services.committee.adapters.access import POLICY
from services.committee.app import commands as c
from services.committee.app.handlers import handlers
from services.committee.domain.errors import (DepositRefused, InvalidState,
                                              UnknownCommittee, UnknownMeeting,
                                              UnknownMember, YouthQuotaBreached)
from services.committee.domain.events import Personal, SealedPersonal, registry
from shared.application import Application, Repository
from shared.auth import Forbidden, Principal
from tests.support.memory import InMemoryEvents, run

KST = timezone(timedelta(hours=9))
CID, OTHER = "gov-sub", "other-sub"
SECRETARY = Principal("sec-1", "committee_secretary", committees=frozenset({CID}))
OTHER_SECRETARY = Principal("sec-2", "committee_secretary", committees=frozenset({OTHER}))
YOUTH_HEAD = Principal("yoh-1", "youth_office_head")
YOUNG = Personal(name="청년 위원", birth_date=date(1991, 7, 15))
SENIOR = Personal(name="위원", birth_date=date(1960, 3, 2))
ON = date(2021, 6, 1)


class MemoryPersonalData:
    """Keys and deposits in dicts; committees of a member read from the stored
    appointments, as the SQL side reads them from the events table."""

    def __init__(self, events: InMemoryEvents):
        self.events, self.keys, self.deposits = events, set(), {}

    def key_id_of(self, member_id):
        return f"person-{member_id}"

    def deposit(self, ref, committee_id, member_id, data):
        self.deposits[ref] = (committee_id, member_id, data)

    async def take_deposit(self, uow, ref, committee_id, member_id):
        if ref not in self.deposits:
            raise DepositRefused(f"personal data deposit {ref} is unknown or already used")
        committee, member, data = self.deposits[ref]
        if (committee, member) != (committee_id, member_id):
            raise DepositRefused(f"personal data deposit {ref} was made for another "
                                 "appointment")
        del self.deposits[ref]
        return data

    async def seal(self, uow, member_id, data):
        self.keys.add(member_id)
        return SealedPersonal(key_id=self.key_id_of(member_id),
                              ciphertext=base64.b64encode(b"sealed").decode())

    async def committees_of(self, uow, member_id):
        return list(dict.fromkeys(
            e.payload["committee_id"] for e in self.events.all()
            if e.event_type == "committee.MemberAppointed"
            and e.payload["member_id"] == member_id))

    async def destroy_key(self, uow, member_id):
        self.deposits = {r: d for r, d in self.deposits.items() if d[1] != member_id}
        if member_id not in self.keys:
            return False
        self.keys.discard(member_id)
        return True


@pytest.fixture
def events():
    return InMemoryEvents("committee")


@pytest.fixture
def personal(events):
    return MemoryPersonalData(events)


@pytest.fixture
def app(events, personal):
    return Application(Repository(events, registry), handlers(personal), POLICY)


def _types(union) -> set[str]:
    return {m.model_fields["command_type"].default
            for m in typing.get_args(typing.get_args(union)[0])}


def test_the_handler_table_covers_every_command_type(events):
    table = set(handlers(MemoryPersonalData(events)))
    assert _types(c.Command) == table
    assert _types(c.KafkaCommand) == table  # an appointment by reference included


def at(day: int, hour: int = 14) -> datetime:
    return datetime(2021, 7, day, hour, tzinfo=KST)


def establish(cid: str = CID) -> c.EstablishCommittee:
    return c.EstablishCommittee(committee_id=cid, institution_id="seoul-governance",
                                name_ko="협치 분과위원회", kind="subcommittee")


def appoint(member_id: str, data: Personal | None = YOUNG, ref: str | None = None,
            cid: str = CID) -> c.AppointMember:
    return c.AppointMember(committee_id=cid, member_id=member_id, role="member",
                           channel="open_call", appointed_on=ON, personal=data,
                           personal_ref=ref)


async def _committee(app, *members: str) -> None:
    await run(app, establish(), SECRETARY)
    for member in members:
        await run(app, appoint(member), SECRETARY)


def _held(meeting_id: str = "mt-1", attendees=("m-1", "m-2")) -> c.RecordMeetingHeld:
    return c.RecordMeetingHeld(
        meeting_id=meeting_id, committee_id=CID, number=1, mode="in_person",
        starts_at=at(1), ends_at=at(1, 16), place="회의실",
        attendees=[{"member_id": m, "attendance": "in_person"} for m in attendees])


async def test_a_committee_is_established_and_members_come_and_go(app, events, personal):
    await _committee(app, "m-1", "m-2")
    # an appointment sent over Kafka, its personal data deposited over HTTPS before
    personal.deposit("pd-1", CID, "m-3", YOUNG)
    await run(app, c.AppointMemberByReference(
        committee_id=CID, member_id="m-3", role="member", channel="open_call",
        appointed_on=ON, personal_ref="pd-1"), SECRETARY)
    assert "pd-1" not in personal.deposits  # used once
    await run(app, c.DismissMember(committee_id=CID, member_id="m-2",
                                   dismissed_on=date(2021, 7, 1), reason="사임"), SECRETARY)
    assert events.types("committee-gov-sub") == [
        "committee.CommitteeEstablished", *["committee.MemberAppointed"] * 3,
        "committee.MemberDismissed"]
    appointed = events.streams["committee-gov-sub"][1].payload
    assert appointed["youth"] is True and "name" not in str(appointed)  # sealed only
    assert personal.keys == {"m-1", "m-2", "m-3"}
    assert {e.actor.id for e in events.all()} == {"sec-1"}


async def test_below_the_youth_quota_only_with_the_youth_office_heads_approval(app, events):
    await run(app, establish(), SECRETARY)
    with pytest.raises(YouthQuotaBreached):
        await run(app, appoint("m-1", SENIOR), SECRETARY)
    assert events.types("committee-gov-sub") == ["committee.CommitteeEstablished"]
    await run(app, c.ApproveYouthQuotaException(committee_id=CID, member_id="m-1",
                                                reason="청년위원 후보 부족"), YOUTH_HEAD)
    await run(app, appoint("m-1", SENIOR), SECRETARY)
    stored = events.streams["committee-gov-sub"]
    assert stored[1].payload["approved_by"] == "yoh-1"
    assert stored[-1].event_type == "committee.MemberAppointed"


async def test_a_meeting_from_schedule_to_minutes(app, events):
    await _committee(app, "m-1", "m-2")
    await run(app, c.ScheduleMeeting(meeting_id="mt-1", committee_id=CID, number=1,
                                     starts_at=at(1), place="회의실"), SECRETARY)
    await run(app, c.PostponeMeeting(meeting_id="mt-1", starts_at=at(1), reason="일정"),
              SECRETARY)
    await run(app, _held(), SECRETARY)
    await run(app, c.RecordMeetingCosts(meeting_id="mt-1", room_hours=2, room_rate=10_000,
                                        refreshments=5_000), SECRETARY)
    await run(app, c.RecordMinutes(meeting_id="mt-1", disclosure="public",
                                   retention_years=10, summary="요약"), SECRETARY)
    assert events.types("meeting-mt-1") == [
        "committee.MeetingScheduled", "committee.MeetingPostponed", "committee.MeetingHeld",
        "committee.MeetingCostsRecorded", "committee.MinutesRecorded"]
    costs = events.streams["meeting-mt-1"][3].payload
    assert costs["total"] == 2 * 150_000 + 2 * 10_000 + 5_000
    await run(app, c.ScheduleMeeting(meeting_id="mt-2", committee_id=CID, number=2,
                                     starts_at=at(8), place="회의실"), SECRETARY)
    await run(app, c.CancelMeeting(meeting_id="mt-2", reason="안건 없음"), SECRETARY)
    assert events.types("meeting-mt-2")[-1] == "committee.MeetingCancelled"
    with pytest.raises(InvalidState):
        await run(app, c.CancelMeeting(meeting_id="mt-2", reason="again"), SECRETARY)


async def test_refusals_name_their_rule_and_store_nothing(app, events, personal):
    with pytest.raises(UnknownCommittee):
        await run(app, appoint("m-1"), SECRETARY)
    with pytest.raises(UnknownMeeting):
        await run(app, c.CancelMeeting(meeting_id="mt-9", reason="없음"), SECRETARY)
    with pytest.raises(UnknownMeeting):
        await run(app, c.RecordMinutes(meeting_id="mt-9", disclosure="public",
                                       retention_years=10), SECRETARY)
    with pytest.raises(UnknownMeeting):
        await run(app, c.RecordMeetingCosts(meeting_id="mt-9", room_hours=0, room_rate=0,
                                            refreshments=0), SECRETARY)
    assert events.all() == []
    await _committee(app, "m-1")
    with pytest.raises(InvalidState, match="already exists"):
        await run(app, establish(), SECRETARY)
    with pytest.raises(InvalidState, match="already serves"):
        await run(app, appoint("m-1"), SECRETARY)
    with pytest.raises(DepositRefused, match="unknown or already used"):
        await run(app, appoint("m-2", None, ref="pd-none"), SECRETARY)
    personal.deposit("pd-2", CID, "m-3", YOUNG)
    with pytest.raises(DepositRefused, match="another appointment"):
        await run(app, appoint("m-2", None, ref="pd-2"), SECRETARY)
    assert len(events.all()) == 2


async def test_a_secretary_acts_only_for_their_committees_meetings(app, events):
    await _committee(app, "m-1", "m-2")
    await run(app, establish(OTHER), OTHER_SECRETARY)
    await run(app, _held(), SECRETARY)
    before = len(events.all())
    # these name no committee: the scope is read from the loaded meeting
    for command in (c.RecordMinutes(meeting_id="mt-1", disclosure="public",
                                    retention_years=10),
                    c.RecordMeetingCosts(meeting_id="mt-1", room_hours=0, room_rate=0,
                                         refreshments=0),
                    c.PostponeMeeting(meeting_id="mt-1", starts_at=at(2), reason="x"),
                    c.CancelMeeting(meeting_id="mt-1", reason="x")):
        with pytest.raises(Forbidden):
            await run(app, command, OTHER_SECRETARY)
    # one naming another committee is refused by the policy before any handler runs
    with pytest.raises(Forbidden):
        await run(app, c.ScheduleMeeting(meeting_id="mt-3", committee_id=CID, number=3,
                                         starts_at=at(9), place="회의실"), OTHER_SECRETARY)
    assert len(events.all()) == before


async def test_erasure_destroys_the_key_and_records_it_once(app, events, personal):
    await _committee(app, "m-1")
    personal.deposit("pd-unused", CID, "m-1", YOUNG)
    with pytest.raises(Forbidden):  # the member serves on a committee not theirs
        await run(app, c.ErasePersonalData(member_id="m-1", reason="요청"), OTHER_SECRETARY)
    assert "m-1" in personal.keys
    await run(app, c.ErasePersonalData(member_id="m-1", reason="정보주체 요청"), SECRETARY)
    assert events.types("person-m-1") == ["committee.PersonalDataErased"]
    assert events.streams["person-m-1"][0].payload["key_id"] == "person-m-1"
    assert "m-1" not in personal.keys and "pd-unused" not in personal.deposits
    with pytest.raises(InvalidState, match="already erased"):
        await run(app, c.ErasePersonalData(member_id="m-1", reason="again"), SECRETARY)
    with pytest.raises(UnknownMember):
        await run(app, c.ErasePersonalData(member_id="m-404", reason="없음"), SECRETARY)
    assert "person-m-404" not in events.streams
