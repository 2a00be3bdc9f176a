"""Command handlers of the committee service: load, let the domain decide, append."""
from __future__ import annotations

from shared.auth import may_act_for, require_committee_of_caller
from shared.envelope import Actor, Envelope
from shared.store import EventStore, Metadata

from ..domain.committee import Committee, PersonRecord, committee_stream, person_stream
from ..domain.errors import (CommitteeRefused, UnknownCommittee, UnknownMeeting,
                             UnknownMember)
from ..domain.events import registry
from ..domain.meeting import Meeting, meeting_stream
from ..domain.rules import CommitteeRules, load_rules
from . import commands as c
from . import personal


class CommitteeHandlers:
    def __init__(self, store: EventStore, rules: CommitteeRules | None = None):
        self.store, self.rules = store, rules or load_rules()

    async def execute(self, conn, command, actor: Actor, correlation_id: str,
                      causation_id: str | None = None) -> list[Envelope]:
        meta = Metadata(actor=actor, correlation_id=correlation_id, causation_id=causation_id)
        aggregate, events = await getattr(self, f"_{command.command_type}")(conn, command,
                                                                            actor)
        return await self.store.append(conn, aggregate.stream_id, aggregate.version, events,
                                       meta)

    async def _load(self, conn, kind, stream: str):
        envelopes = await self.store.read_stream(conn, stream)
        return kind(stream, [registry.decode(e.event_type, e.schema_version, e.payload)
                             for e in envelopes])

    async def _committee(self, conn, committee_id: str) -> Committee:
        found = await self._load(conn, Committee, committee_stream(committee_id))
        if not found.exists:
            raise UnknownCommittee(f"committee {committee_id!r} is not established")
        return found

    async def _meeting(self, conn, meeting_id: str, must_exist: bool = True) -> Meeting:
        found = await self._load(conn, Meeting, meeting_stream(meeting_id))
        if must_exist and not found.exists:
            raise UnknownMeeting(f"meeting {meeting_id!r} is not known")
        if found.exists:  # a secretary acts only for their committees' meetings
            require_committee_of_caller(found.state.committee_id)
        return found

    async def _EstablishCommittee(self, conn, cmd: c.EstablishCommittee, actor):
        found = await self._load(conn, Committee, committee_stream(cmd.committee_id))
        return found, found.establish(cmd.committee_id, cmd.institution_id, cmd.name_ko,
                                      cmd.kind, cmd.city_committee)

    async def _AppointMember(self, conn, cmd: c.AppointMember | c.AppointMemberByReference,
                             actor):
        committee = await self._committee(conn, cmd.committee_id)
        data = getattr(cmd, "personal", None) or await personal.take_deposit(
            conn, cmd.personal_ref, cmd.committee_id, cmd.member_id)
        sealed = await personal.seal(conn, cmd.member_id, data)
        return committee, committee.appoint(cmd.committee_id, cmd.member_id, cmd.role,
                                            cmd.channel, cmd.appointed_on, data,
                                            sealed, self.rules)

    async def _ErasePersonalData(self, conn, cmd: c.ErasePersonalData, actor):
        committees = await personal.committees_of(conn, cmd.member_id)
        if committees and not any(may_act_for(c) for c in committees):
            require_committee_of_caller(committees[0])  # says whose they are
        record = await self._load(conn, PersonRecord, person_stream(cmd.member_id))
        events = record.erase(cmd.member_id, personal.key_id_of(cmd.member_id), cmd.reason)
        if not await personal.destroy_key(conn, cmd.member_id):
            raise UnknownMember(f"no personal data is held for {cmd.member_id!r}")
        return record, events

    async def _DismissMember(self, conn, cmd: c.DismissMember, actor):
        committee = await self._committee(conn, cmd.committee_id)
        return committee, committee.dismiss(cmd.committee_id, cmd.member_id,
                                            cmd.dismissed_on, cmd.reason)

    async def _ApproveYouthQuotaException(self, conn, cmd: c.ApproveYouthQuotaException,
                                          actor):
        committee = await self._committee(conn, cmd.committee_id)
        return committee, committee.approve_youth_exception(cmd.committee_id, cmd.member_id,
                                                            actor.id, cmd.reason)

    async def _ScheduleMeeting(self, conn, cmd: c.ScheduleMeeting, actor):
        committee = await self._committee(conn, cmd.committee_id)
        meeting = await self._meeting(conn, cmd.meeting_id, must_exist=False)
        return meeting, meeting.schedule(cmd.meeting_id, committee, cmd.number,
                                         cmd.starts_at, cmd.place)

    async def _RecordMeetingHeld(self, conn, cmd: c.RecordMeetingHeld, actor):
        committee = await self._committee(conn, cmd.committee_id)
        meeting = await self._meeting(conn, cmd.meeting_id, must_exist=False)
        return meeting, meeting.hold(cmd.meeting_id, committee, cmd.number, cmd.mode,
                                     cmd.starts_at, cmd.ends_at, cmd.place,
                                     list(cmd.attendees), list(cmd.officials),
                                     list(cmd.agenda), cmd.next_meeting)

    async def _PostponeMeeting(self, conn, cmd: c.PostponeMeeting, actor):
        meeting = await self._meeting(conn, cmd.meeting_id)
        return meeting, meeting.postpone(cmd.meeting_id, cmd.starts_at, cmd.reason)

    async def _CancelMeeting(self, conn, cmd: c.CancelMeeting, actor):
        meeting = await self._meeting(conn, cmd.meeting_id)
        return meeting, meeting.cancel(cmd.meeting_id, cmd.reason)

    async def _RecordMeetingCosts(self, conn, cmd: c.RecordMeetingCosts, actor):
        meeting = await self._meeting(conn, cmd.meeting_id)
        committee = await self._committee(conn, meeting.state.committee_id)
        return meeting, meeting.record_costs(cmd.meeting_id, committee, self.rules,
                                             cmd.room_hours, cmd.room_rate, cmd.refreshments)

    async def _RecordMinutes(self, conn, cmd: c.RecordMinutes, actor):
        meeting = await self._meeting(conn, cmd.meeting_id)
        return meeting, meeting.record_minutes(cmd.meeting_id, cmd.disclosure,
                                               cmd.reason_code, cmd.retention_years,
                                               cmd.summary, list(cmd.attachments),
                                               self.rules)


__all__ = ["CommitteeHandlers", "CommitteeRefused"]
