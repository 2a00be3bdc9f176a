"""Builders for the committee unit tests: events folded into aggregates, no I/O.

Birth dates used throughout (full age, 만 나이, on the appointment date):
  YOUTH_BORN 1991-07-15 -> 29 or 30 in 2021 (youth);
  SENIOR_BORN 1960-03-02 -> 60 or 61 in 2021 (not youth).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from services.committee.domain.committee import Committee, committee_stream
from services.committee.domain.events import (Attendee, CommitteeEstablished,
                                              MeetingHeld, MeetingScheduled,
                                              MemberAppointed, MemberDismissed, Official,
                                              Personal, SealedPersonal,
                                              YouthQuotaExceptionApproved)
from services.committee.domain.meeting import Meeting, meeting_stream
from services.committee.domain.rules import load_rules

KST = timezone(timedelta(hours=9))
RULES = load_rules()
CID = "gov-sub"
INST = "seoul-governance"
MID = "meeting-13"
YOUTH_BORN = date(1991, 7, 15)
SENIOR_BORN = date(1960, 3, 2)
SEALED = SealedPersonal(key_id="person-x", ciphertext="c2VhbGVk")  # opaque to the domain


def at(y: int, mo: int, d: int, h: int = 14, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=KST)


def established(city: bool = True, cid: str = CID) -> CommitteeEstablished:
    return CommitteeEstablished(committee_id=cid, institution_id=INST,
                                name_ko="협치 분과위원회", kind="subcommittee",
                                city_committee=city)


def appointed(member_id: str, on: date, born: date = SENIOR_BORN, role: str = "member",
              channel: str = "open_call", cid: str = CID) -> MemberAppointed:
    """A stored appointment event (youth as the rules define it on that date)."""
    quota = RULES.youth_quota_on(on)
    return MemberAppointed(committee_id=cid, member_id=member_id, role=role,
                           channel=channel, appointed_on=on,
                           youth=RULES.is_youth(born, on),
                           personal=SEALED,
                           youth_rule_ref=quota.ref if quota else None)


def dismissed(member_id: str, on: date, cid: str = CID) -> MemberDismissed:
    return MemberDismissed(committee_id=cid, member_id=member_id, dismissed_on=on,
                           reason="임기 중 사임")


def exception_for(member_id: str, cid: str = CID) -> YouthQuotaExceptionApproved:
    return YouthQuotaExceptionApproved(committee_id=cid, member_id=member_id,
                                       approved_by="youth-office-head",
                                       reason="청년위원 후보 부족")


def committee(*events, cid: str = CID) -> Committee:
    return Committee(committee_stream(cid), list(events))


def members(n: int, on: date, born: date = SENIOR_BORN, prefix: str = "m",
            start: int = 1) -> list[MemberAppointed]:
    return [appointed(f"{prefix}-{i}", on, born) for i in range(start, start + n)]


def in_person(*ids: str) -> list[Attendee]:
    return [Attendee(member_id=i, attendance="in_person") for i in ids]


def remote(*ids: str) -> list[Attendee]:
    return [Attendee(member_id=i, attendance="remote") for i in ids]


def officials(*posts: str) -> list[Official]:
    return [Official(post=p) for p in posts]


def scheduled(starts_at: datetime, mid: str = MID, cid: str = CID) -> MeetingScheduled:
    return MeetingScheduled(meeting_id=mid, committee_id=cid, institution_id=INST,
                            number=13, starts_at=starts_at, place="회의실")


def meeting(*events, mid: str = MID) -> Meeting:
    return Meeting(meeting_stream(mid), list(events))


def hold(com: Committee, starts_at: datetime, ends_at: datetime, attendees, *,
         m: Meeting | None = None, agenda=(), official_posts=(), next_meeting=None,
         mode: str = "in_person", number: int = 13) -> list:
    """Decide MeetingHeld on a (by default new) meeting."""
    m = m if m is not None else meeting()
    return m.hold(MID, com, number, mode, starts_at, ends_at, "회의실", list(attendees),
                  officials(*official_posts), list(agenda), next_meeting)


def held_meeting(com: Committee, starts_at: datetime, ends_at: datetime,
                 attendees) -> tuple[Meeting, MeetingHeld]:
    """A meeting aggregate whose stream holds the MeetingHeld decided by the domain."""
    [event] = hold(com, starts_at, ends_at, attendees)
    return meeting(event), event
