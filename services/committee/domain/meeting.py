"""A meeting (회의): scheduled, held with its agenda, postponed or cancelled; its costs
under the rules in force on its date; its minutes and their disclosure."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.aggregate import Aggregate

from .committee import Committee
from .errors import InvalidMeeting, InvalidState, NotAMember
from .events import (AgendaItem, Allowance, Attachment, Attendee, MeetingCancelled,
                     MeetingCostsRecorded, MeetingHeld, MeetingPostponed, MeetingScheduled,
                     MinutesRecorded, NextMeeting, Official)
from .rules import CommitteeRules


def meeting_stream(meeting_id: str) -> str:
    return f"meeting-{meeting_id}"


@dataclass(frozen=True)
class MeetingState:
    status: str = "none"  # scheduled | held | cancelled
    committee_id: str = ""
    number: int | None = None
    held: MeetingHeld | None = None
    costs_recorded: bool = False
    minutes_recorded: bool = False


class Meeting(Aggregate[MeetingState]):
    def initial(self) -> MeetingState:
        return MeetingState()

    def evolve(self, s: MeetingState, e) -> MeetingState:
        match e:
            case MeetingScheduled():
                return MeetingState("scheduled", e.committee_id, e.number)
            case MeetingHeld():
                return replace(s, status="held", committee_id=e.committee_id, held=e)
            case MeetingCancelled():
                return replace(s, status="cancelled")
            case MeetingCostsRecorded():
                return replace(s, costs_recorded=True)
            case MinutesRecorded():
                return replace(s, minutes_recorded=True)
        return s

    def schedule(self, meeting_id: str, committee: Committee, number: int,
                 starts_at: datetime, place: str) -> list:
        if self.exists:
            raise InvalidState(f"meeting {meeting_id} already exists")
        return [MeetingScheduled(meeting_id=meeting_id, committee_id=_id(committee),
                                 institution_id=committee.state.institution_id,
                                 number=number, starts_at=starts_at, place=place)]

    def hold(self, meeting_id: str, committee: Committee, number: int, mode: str,
             starts_at: datetime, ends_at: datetime, place: str, attendees: list[Attendee],
             officials: list[Official], agenda: list[AgendaItem],
             next_meeting: NextMeeting | None) -> list:
        if self.state.status in ("held", "cancelled"):
            raise InvalidState(f"meeting {meeting_id} is already {self.state.status}")
        if self.exists and self.state.committee_id != _id(committee):
            raise InvalidMeeting(f"meeting {meeting_id} was scheduled for "
                                 f"{self.state.committee_id}, not {_id(committee)}")
        if self.exists and self.state.number not in (None, number):
            raise InvalidMeeting(f"meeting {meeting_id} was scheduled as number "
                                 f"{self.state.number}, not {number}")
        if ends_at <= starts_at:
            raise InvalidMeeting(f"meeting {meeting_id} ends ({ends_at.isoformat()}) "
                                 f"before it starts ({starts_at.isoformat()})")
        serving = committee.members_on(starts_at.date())
        strangers = sorted({a.member_id for a in attendees} - set(serving))
        if strangers:
            raise NotAMember(f"{', '.join(strangers)} did not serve on {_id(committee)} on "
                             f"{starts_at.date().isoformat()} (officials attend by post)")
        numbers = [item.number for item in agenda]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise InvalidMeeting(f"agenda item number(s) {', '.join(repeated)} repeat")
        if len({a.member_id for a in attendees}) != len(attendees):
            raise InvalidMeeting("an attendee is listed twice")
        return [MeetingHeld(meeting_id=meeting_id, committee_id=_id(committee),
                            institution_id=committee.state.institution_id, number=number,
                            mode=mode, starts_at=starts_at, ends_at=ends_at, place=place,
                            attendees=attendees, officials=officials, agenda=agenda,
                            next_meeting=next_meeting)]

    def postpone(self, meeting_id: str, starts_at: datetime, reason: str) -> list:
        self._must_be_scheduled(meeting_id)
        return [MeetingPostponed(meeting_id=meeting_id, starts_at=starts_at, reason=reason)]

    def cancel(self, meeting_id: str, reason: str) -> list:
        self._must_be_scheduled(meeting_id)
        return [MeetingCancelled(meeting_id=meeting_id, reason=reason)]

    def record_costs(self, meeting_id: str, committee: Committee, rules: CommitteeRules,
                     room_hours: int, room_rate: int, refreshments: int) -> list:
        held = self._must_be_held(meeting_id)
        if self.state.costs_recorded:
            raise InvalidState(f"costs of meeting {meeting_id} are already recorded")
        day = held.starts_at.date()
        try:
            rule = rules.allowance_on(day)
        except LookupError as none:
            raise InvalidMeeting(f"meeting {meeting_id}: {none}") from none
        allowances = [Allowance(member_id=a.member_id, attendance=a.attendance,
                                amount=rule.for_attendance(
                                    committee.role_of(a.member_id, day), a.attendance))
                      for a in held.attendees]
        total = sum(a.amount for a in allowances) + room_hours * room_rate + refreshments
        return [MeetingCostsRecorded(meeting_id=meeting_id, allowance_rule_ref=rule.ref,
                                     allowances=allowances, room_hours=room_hours,
                                     room_rate=room_rate, refreshments=refreshments,
                                     total=total)]

    def record_minutes(self, meeting_id: str, disclosure: str, reason_code: str | None,
                       retention_years: int, summary: str, attachments: list[Attachment],
                       rules: CommitteeRules) -> list:
        self._must_be_held(meeting_id)
        if reason_code is not None and reason_code not in rules.disclosure.reason_codes:
            raise InvalidMeeting(f"disclosure reason code {reason_code!r} is not one of "
                                 f"{', '.join(rules.disclosure.reason_codes)}")
        if disclosure != "public" and not reason_code:
            raise InvalidMeeting(f"a {disclosure.replace('_', ' ')} record needs the legal "
                                 "reason code for withholding (e.g. 6)")
        if self.state.minutes_recorded:
            raise InvalidState(f"minutes of meeting {meeting_id} are already recorded")
        return [MinutesRecorded(meeting_id=meeting_id, disclosure=disclosure,
                                reason_code=reason_code, retention_years=retention_years,
                                summary=summary, attachments=attachments)]

    def _must_be_scheduled(self, meeting_id: str) -> None:
        if self.state.status != "scheduled":
            raise InvalidState(f"meeting {meeting_id} is not scheduled "
                               f"(status: {self.state.status})")

    def _must_be_held(self, meeting_id: str) -> MeetingHeld:
        if self.state.held is None:
            raise InvalidState(f"meeting {meeting_id} has not been held")
        return self.state.held


def _id(committee: Committee) -> str:
    return committee.stream_id.removeprefix("committee-")
