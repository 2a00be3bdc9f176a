"""Command handlers of the committee service (위원회 명령 처리): one shape,
`handler(command, uow)`: load through the unit of work, let the domain decide, record.

Members' personal data is sealed with each member's own key in a write-side table;
handlers reach it through the `PersonalData` port (SQL in adapters/personal_data.py).
"""
from __future__ import annotations

from typing import Protocol

from shared.application import Handler, UnitOfWork
from shared.auth import Forbidden, require_committee

from ..domain.committee import Committee, PersonRecord, committee_stream, person_stream
from ..domain.errors import UnknownCommittee, UnknownMeeting, UnknownMember
from ..domain.events import Personal, SealedPersonal
from ..domain.meeting import Meeting, meeting_stream
from ..domain.rules import CommitteeRules, load_rules
from . import commands as c


class PersonalData(Protocol):
    """Members' keys and deposited personal data (SQL in adapters/personal_data.py)."""

    def key_id_of(self, member_id: str) -> str: ...

    async def take_deposit(self, uow: UnitOfWork, ref: str, committee_id: str,
                           member_id: str) -> Personal: ...

    async def seal(self, uow: UnitOfWork, member_id: str,
                   data: Personal) -> SealedPersonal: ...

    async def committees_of(self, uow: UnitOfWork, member_id: str) -> list[str]: ...

    async def destroy_key(self, uow: UnitOfWork, member_id: str) -> bool: ...


def _may_act_for(uow: UnitOfWork, committee_id: str) -> bool:
    try:
        require_committee(uow.principal, committee_id)
    except Forbidden:
        return False
    return True


async def _committee(uow: UnitOfWork, committee_id: str) -> Committee:
    return await uow.existing(Committee, committee_stream(committee_id),
                              UnknownCommittee(f"committee {committee_id!r} is not established"))


async def _meeting(uow: UnitOfWork, meeting_id: str, must_exist: bool = True) -> Meeting:
    found = await uow.get(Meeting, meeting_stream(meeting_id))
    if must_exist and not found.exists:
        raise UnknownMeeting(f"meeting {meeting_id!r} is not known")
    if found.exists:  # a secretary acts only for their committees' meetings
        require_committee(uow.principal, found.state.committee_id)
    return found


async def establish_committee(cmd: c.EstablishCommittee, uow: UnitOfWork) -> None:
    found = await uow.get(Committee, committee_stream(cmd.committee_id))
    uow.record(found, found.establish(cmd.committee_id, cmd.institution_id, cmd.name_ko,
                                      cmd.kind, cmd.city_committee))


def appoint_member(personal: PersonalData, rules: CommitteeRules) -> Handler:
    async def handle(cmd: c.AppointMember | c.AppointMemberByReference,
                     uow: UnitOfWork) -> None:
        committee = await _committee(uow, cmd.committee_id)
        data = getattr(cmd, "personal", None) or await personal.take_deposit(
            uow, cmd.personal_ref, cmd.committee_id, cmd.member_id)
        sealed = await personal.seal(uow, cmd.member_id, data)
        uow.record(committee, committee.appoint(cmd.committee_id, cmd.member_id, cmd.role,
                                                cmd.channel, cmd.appointed_on, data,
                                                sealed, rules))
    return handle


def erase_personal_data(personal: PersonalData) -> Handler:
    async def handle(cmd: c.ErasePersonalData, uow: UnitOfWork) -> None:
        committees = await personal.committees_of(uow, cmd.member_id)
        if committees and not any(_may_act_for(uow, c) for c in committees):
            require_committee(uow.principal, committees[0])  # says whose they are
        record = await uow.get(PersonRecord, person_stream(cmd.member_id))
        events = record.erase(cmd.member_id, personal.key_id_of(cmd.member_id), cmd.reason)
        if not await personal.destroy_key(uow, cmd.member_id):
            raise UnknownMember(f"no personal data is held for {cmd.member_id!r}")
        uow.record(record, events)
    return handle


async def dismiss_member(cmd: c.DismissMember, uow: UnitOfWork) -> None:
    committee = await _committee(uow, cmd.committee_id)
    uow.record(committee, committee.dismiss(cmd.committee_id, cmd.member_id,
                                            cmd.dismissed_on, cmd.reason))


async def approve_youth_quota_exception(cmd: c.ApproveYouthQuotaException,
                                        uow: UnitOfWork) -> None:
    committee = await _committee(uow, cmd.committee_id)
    uow.record(committee, committee.approve_youth_exception(
        cmd.committee_id, cmd.member_id, uow.actor.id, cmd.reason))


async def schedule_meeting(cmd: c.ScheduleMeeting, uow: UnitOfWork) -> None:
    committee = await _committee(uow, cmd.committee_id)
    meeting = await _meeting(uow, cmd.meeting_id, must_exist=False)
    uow.record(meeting, meeting.schedule(cmd.meeting_id, committee, cmd.number,
                                         cmd.starts_at, cmd.place))


async def record_meeting_held(cmd: c.RecordMeetingHeld, uow: UnitOfWork) -> None:
    committee = await _committee(uow, cmd.committee_id)
    meeting = await _meeting(uow, cmd.meeting_id, must_exist=False)
    uow.record(meeting, meeting.hold(cmd.meeting_id, committee, cmd.number, cmd.mode,
                                     cmd.starts_at, cmd.ends_at, cmd.place,
                                     list(cmd.attendees), list(cmd.officials),
                                     list(cmd.agenda), cmd.next_meeting))


async def postpone_meeting(cmd: c.PostponeMeeting, uow: UnitOfWork) -> None:
    meeting = await _meeting(uow, cmd.meeting_id)
    uow.record(meeting, meeting.postpone(cmd.meeting_id, cmd.starts_at, cmd.reason))


async def cancel_meeting(cmd: c.CancelMeeting, uow: UnitOfWork) -> None:
    meeting = await _meeting(uow, cmd.meeting_id)
    uow.record(meeting, meeting.cancel(cmd.meeting_id, cmd.reason))


def record_meeting_costs(rules: CommitteeRules) -> Handler:
    async def handle(cmd: c.RecordMeetingCosts, uow: UnitOfWork) -> None:
        meeting = await _meeting(uow, cmd.meeting_id)
        committee = await _committee(uow, meeting.state.committee_id)
        uow.record(meeting, meeting.record_costs(cmd.meeting_id, committee, rules,
                                                 cmd.room_hours, cmd.room_rate,
                                                 cmd.refreshments))
    return handle


def record_minutes(rules: CommitteeRules) -> Handler:
    async def handle(cmd: c.RecordMinutes, uow: UnitOfWork) -> None:
        meeting = await _meeting(uow, cmd.meeting_id)
        uow.record(meeting, meeting.record_minutes(cmd.meeting_id, cmd.disclosure,
                                                   cmd.reason_code, cmd.retention_years,
                                                   cmd.summary, list(cmd.attachments),
                                                   rules))
    return handle


def handlers(personal: PersonalData,
             rules: CommitteeRules | None = None) -> dict[str, Handler]:
    """The handler table: command type → handler (an appointment over Kafka, by
    reference, has the same type as one over HTTP)."""
    rules = rules or load_rules()
    return {
        "EstablishCommittee": establish_committee,
        "AppointMember": appoint_member(personal, rules),
        "DismissMember": dismiss_member,
        "ApproveYouthQuotaException": approve_youth_quota_exception,
        "ScheduleMeeting": schedule_meeting, "RecordMeetingHeld": record_meeting_held,
        "PostponeMeeting": postpone_meeting, "CancelMeeting": cancel_meeting,
        "RecordMeetingCosts": record_meeting_costs(rules),
        "RecordMinutes": record_minutes(rules),
        "ErasePersonalData": erase_personal_data(personal),
    }
