"""Commands of the committee service: the JSON contract for Kafka and HTTP alike.

On Kafka (topic hyeopchi.committee.commands) a command travels in a CommandMessage;
over HTTP the command object alone is the request body.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.commands import command_message

from ..domain.events import (AgendaItem, Attachment, Attendee, Channel, Disclosure,
                             NextMeeting, Official, Personal, Role)

Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EstablishCommittee(_Command):
    command_type: Literal["EstablishCommittee"] = "EstablishCommittee"
    committee_id: Id
    institution_id: Id
    name_ko: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=200)
    city_committee: bool = True


Ref = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^pd-[A-Za-z0-9_-]+$")]


class _Appointment(_Command):
    command_type: Literal["AppointMember"] = "AppointMember"
    committee_id: Id
    member_id: Id
    role: Role
    channel: Channel
    appointed_on: date


class AppointMember(_Appointment):
    """Over HTTPS: the member's personal data in the body, or the reference of a
    deposit made before (POST /personal-data); exactly one of the two."""
    personal: Personal | None = None
    personal_ref: Ref | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "AppointMember":
        if (self.personal is None) == (self.personal_ref is None):
            raise ValueError("give exactly one of personal and personal_ref")
        return self


class AppointMemberByReference(_Appointment):
    """Over Kafka: personal data never travels on a topic (topics outlive an erasure);
    the sender deposits it over HTTPS (POST /personal-data) and sends the reference."""
    personal_ref: Ref


class DepositPersonalData(_Command):
    """A member's personal data, deposited over HTTPS for an appointment sent over
    Kafka: sealed with the member's own key at once, used once, expiring unused."""
    command_type: Literal["DepositPersonalData"] = "DepositPersonalData"
    committee_id: Id
    member_id: Id
    personal: Personal


class DismissMember(_Command):
    command_type: Literal["DismissMember"] = "DismissMember"
    committee_id: Id
    member_id: Id
    dismissed_on: date
    reason: Reason


class ApproveYouthQuotaException(_Command):
    """The youth office head (the actor) co-approves an appointment below the quota."""
    command_type: Literal["ApproveYouthQuotaException"] = "ApproveYouthQuotaException"
    committee_id: Id
    member_id: Id
    reason: Reason


class ScheduleMeeting(_Command):
    command_type: Literal["ScheduleMeeting"] = "ScheduleMeeting"
    meeting_id: Id
    committee_id: Id
    number: int = Field(ge=1, le=10_000)
    starts_at: AwareDatetime
    place: str = Field(min_length=1, max_length=300)


class RecordMeetingHeld(_Command):
    command_type: Literal["RecordMeetingHeld"] = "RecordMeetingHeld"
    meeting_id: Id
    committee_id: Id
    number: int = Field(ge=1, le=10_000)
    mode: Literal["in_person", "online", "hybrid"]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str = Field(min_length=1, max_length=300)
    attendees: list[Attendee] = Field(max_length=500)
    officials: list[Official] = Field(default=[], max_length=100)
    agenda: list[AgendaItem] = Field(default=[], max_length=200)
    next_meeting: NextMeeting | None = None


class PostponeMeeting(_Command):
    command_type: Literal["PostponeMeeting"] = "PostponeMeeting"
    meeting_id: Id
    starts_at: AwareDatetime
    reason: Reason


class CancelMeeting(_Command):
    command_type: Literal["CancelMeeting"] = "CancelMeeting"
    meeting_id: Id
    reason: Reason


class RecordMeetingCosts(_Command):
    command_type: Literal["RecordMeetingCosts"] = "RecordMeetingCosts"
    meeting_id: Id
    room_hours: int = Field(ge=0, le=24)
    room_rate: int = Field(ge=0, le=100_000_000)
    refreshments: int = Field(ge=0, le=100_000_000)


class RecordMinutes(_Command):
    command_type: Literal["RecordMinutes"] = "RecordMinutes"
    meeting_id: Id
    disclosure: Disclosure
    reason_code: str | None = Field(None, pattern=r"^[1-8]$")
    retention_years: int = Field(ge=1, le=100)
    summary: str = Field(default="", max_length=20000)
    attachments: list[Attachment] = Field(default=[], max_length=50)


class ErasePersonalData(_Command):
    """A person's right to erasure: destroy their key; decisions stay as recorded."""
    command_type: Literal["ErasePersonalData"] = "ErasePersonalData"
    member_id: Id
    reason: str = Field(min_length=1, max_length=2000)


_OTHERS = (DismissMember, ApproveYouthQuotaException, ScheduleMeeting, RecordMeetingHeld,
           PostponeMeeting, CancelMeeting, RecordMeetingCosts, RecordMinutes,
           ErasePersonalData)
Command = Annotated[Union[(EstablishCommittee, AppointMember, *_OTHERS)],
                    Field(discriminator="command_type")]
# On Kafka an appointment carries a reference, never the personal data itself.
KafkaCommand = Annotated[Union[(EstablishCommittee, AppointMemberByReference, *_OTHERS)],
                         Field(discriminator="command_type")]
CommandMessage = command_message("CommitteeCommandMessage", KafkaCommand)
