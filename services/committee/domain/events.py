"""Facts of the committee service (past tense, versioned). Topic: hyeopchi.committee.events.

Streams: `committee-<id>` (establishment, members, youth-quota exceptions) and
`meeting-<id>` (scheduled, held, postponed, cancelled, costs, minutes).
Personal data (names, birth dates) travels only in the `personal` part of a member's
appointment, sealed with that person's own key (crypto-shredding, v2): erasing the key
makes it unreadable in every copy of the log, while the decision (youth or not, role,
channel, dates) stays readable. Read models and logs never carry it.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from shared.registry import DomainEvent, EventRegistry

registry = EventRegistry()
Reason = Field(min_length=1, max_length=2000)
Role = Literal["chair", "vice_chair", "member", "ex_officio"]
Channel = Literal["open_call", "recommendation", "ex_officio"]
Attendance = Literal["in_person", "remote"]
Disclosure = Literal["public", "partly_public", "closed"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST_BIRTH, LATEST_BIRTH = date(1900, 1, 1), date(2100, 12, 31)


def _iso_date_only(value):
    """A birth date is written YYYY-MM-DD: a number (a year, a timestamp) or any other
    ISO form is refused rather than guessed at."""
    if isinstance(value, str):
        if not ISO_DATE.fullmatch(value):
            raise ValueError(f"a birth date is an ISO 8601 date YYYY-MM-DD, not {value!r}")
        return date.fromisoformat(value)
    return value  # a date passes; anything else meets the strict date check


def _plausible(value: date) -> date:
    if not EARLIEST_BIRTH <= value <= LATEST_BIRTH:
        raise ValueError(f"a birth date between {EARLIEST_BIRTH} and {LATEST_BIRTH}, "
                         f"not {value}")
    return value


# Strict: pydantic's lax date would take 631152000 (a Unix time) or 1990 for a date.
BirthDate = Annotated[date, Strict(), BeforeValidator(_iso_date_only),
                      AfterValidator(_plausible)]


class Personal(_Part):
    """A member's personal data (개인정보): never in read models or logs."""
    name: str = Field(min_length=1, max_length=100)
    birth_date: BirthDate


class PersonalV1(_Part):
    """Personal data as recorded before birth dates were kept (birth year only): in
    MemberAppointed v1 and in data sealed then. Read as it is; no date is made up."""
    name: str = Field(min_length=1, max_length=100)
    birth_year: int = Field(ge=1900, le=2100)


class SealedPersonal(_Part):
    """`Personal` (or, sealed before birth dates, `PersonalV1`), encrypted (AES-256-GCM)
    with the person's own key (`key_id`); both None for an appointment recorded before
    sealing (v1, not carried forward)."""
    key_id: str | None = Field(None, max_length=200)
    ciphertext: str | None = Field(None, max_length=4000)  # base64: nonce ‖ sealed JSON


class Attendee(_Part):
    member_id: str
    attendance: Attendance


class Official(_Part):
    """A city official attending (not paid, not a member): by post, not by name."""
    post: str = Field(min_length=1, max_length=200)


class AgendaItem(_Part):
    """부의안건: numbered item, its kind, the team that owns it, and what came of it."""
    number: str = Field(pattern=r"^\d{4}-\d{1,3}$")
    kind: Literal["report", "advisory", "deliberation_resolution"]
    owning_team: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    opinions: list[str] = Field(default=[], max_length=100)
    result: str = Field(default="", max_length=4000)


class NextMeeting(_Part):
    number: int = Field(ge=1)
    starts_at: datetime


@registry.register
class CommitteeEstablished(DomainEvent):
    event_type = "committee.CommitteeEstablished"
    version = 1
    committee_id: str
    institution_id: str
    name_ko: str
    kind: str
    city_committee: bool  # the youth quota applies to city committees


@registry.register
class MemberAppointedV1(DomainEvent):
    """Version 1 carried personal data in the clear; kept only to read old logs."""
    event_type = "committee.MemberAppointed"
    version = 1
    committee_id: str
    member_id: str
    role: Role
    channel: Channel
    appointed_on: date
    youth: bool
    personal: PersonalV1
    youth_rule_ref: str | None


@registry.register
class MemberAppointed(DomainEvent):
    event_type = "committee.MemberAppointed"
    version = 2
    committee_id: str
    member_id: str
    role: Role
    channel: Channel
    appointed_on: date
    youth: bool  # 19–39 on the appointment date, under the rule in force; never recomputed
    personal: SealedPersonal
    youth_rule_ref: str | None


@registry.upcaster("committee.MemberAppointed", from_version=1)
def _seal_nothing(payload: dict) -> dict:
    """Readers of v1 get no personal data: it is not re-exposed, only not sealed."""
    return {**payload, "personal": {"key_id": None, "ciphertext": None}}


@registry.register
class PersonalDataErased(DomainEvent):
    """A person's key was destroyed (right to erasure, 개인정보 파기): their sealed
    personal data is unreadable from now on, everywhere; decisions stay replayable."""
    event_type = "committee.PersonalDataErased"
    version = 1
    member_id: str
    key_id: str
    reason: str = Field(min_length=1, max_length=2000)


@registry.register
class MemberDismissed(DomainEvent):
    event_type = "committee.MemberDismissed"
    version = 1
    committee_id: str
    member_id: str
    dismissed_on: date
    reason: str = Reason


@registry.register
class YouthQuotaExceptionApproved(DomainEvent):
    """The youth office head (청년청장) co-approved an appointment below the quota."""
    event_type = "committee.YouthQuotaExceptionApproved"
    version = 1
    committee_id: str
    member_id: str
    approved_by: str
    reason: str = Reason


@registry.register
class MeetingScheduled(DomainEvent):
    event_type = "committee.MeetingScheduled"
    version = 1
    meeting_id: str
    committee_id: str
    institution_id: str
    number: int
    starts_at: datetime
    place: str


@registry.register
class MeetingHeld(DomainEvent):
    """The design card's MeetingHeld: who attended how, and each agenda item's outcome."""
    event_type = "committee.MeetingHeld"
    version = 1
    meeting_id: str
    committee_id: str
    institution_id: str
    number: int
    mode: Literal["in_person", "online", "hybrid"]
    starts_at: datetime
    ends_at: datetime
    place: str
    attendees: list[Attendee]
    officials: list[Official]
    agenda: list[AgendaItem]
    next_meeting: NextMeeting | None = None


@registry.register
class MeetingPostponed(DomainEvent):
    event_type = "committee.MeetingPostponed"
    version = 1
    meeting_id: str
    starts_at: datetime
    reason: str = Reason


@registry.register
class MeetingCancelled(DomainEvent):
    event_type = "committee.MeetingCancelled"
    version = 1
    meeting_id: str
    reason: str = Reason


class Allowance(_Part):
    member_id: str
    attendance: Attendance
    amount: int


@registry.register
class MeetingCostsRecorded(DomainEvent):
    """Allowances under the rule in force on the meeting date, and other costs (KRW)."""
    event_type = "committee.MeetingCostsRecorded"
    version = 1
    meeting_id: str
    allowance_rule_ref: str
    allowances: list[Allowance]
    room_hours: int = Field(ge=0, le=24)
    room_rate: int = Field(ge=0)
    refreshments: int = Field(ge=0)
    total: int


class Attachment(_Part):
    kind: Literal["minutes", "signature_sheet", "other"]
    title: str = Field(min_length=1, max_length=300)
    disclosure: Disclosure


@registry.register
class MinutesRecorded(DomainEvent):
    """Minutes and attachments with their disclosure (공개여부) and retention."""
    event_type = "committee.MinutesRecorded"
    version = 1
    meeting_id: str
    disclosure: Disclosure
    reason_code: str | None = None  # the legal ground for partial or no disclosure
    retention_years: int = Field(ge=1, le=100)
    summary: str = Field(default="", max_length=20000)
    attachments: list[Attachment] = []


@registry.register
class CommandRejected(DomainEvent):
    event_type = "committee.CommandRejected"
    version = 1
    command_id: str
    command_type: str
    refusal: str
    detail: str
