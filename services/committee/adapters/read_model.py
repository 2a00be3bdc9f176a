"""Read model of committees and meetings: no names or birth years, ever.

Rows depend on their own stream only (order-independent across partitions); the
per-institution report (meetings by mode, youth share, quota compliance, open-call
share, allowances) is derived when read.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, Text

from shared.projection import RowsProjection
from shared.read_rows import Rows
from shared.topics import events_topic

from ..domain import events as ev

metadata = MetaData()
ABSENT_AS_NULL = JSON(none_as_null=True)  # a column not given is NULL, not JSON null
committees = Table(
    "rm_committees", metadata,
    Column("committee_id", String(100), primary_key=True),
    Column("institution_id", String(100), nullable=False),
    Column("name_ko", String(200), nullable=False),
    Column("kind", String(200), nullable=False),
    Column("city_committee", Boolean, nullable=False))
members = Table(
    "rm_members", metadata,
    Column("committee_id", String(100), primary_key=True),
    Column("member_id", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("youth", Boolean, nullable=False),  # 19–39 when appointed
    Column("appointed_on", String(10), nullable=False),
    Column("dismissed_on", String(10)))
exceptions = Table(
    "rm_youth_exceptions", metadata,
    Column("committee_id", String(100), primary_key=True),
    Column("member_id", String(100), primary_key=True),
    Column("approved_by", String(200), nullable=False),
    Column("reason", Text, nullable=False))
meetings = Table(
    "rm_meetings", metadata,
    Column("meeting_id", String(100), primary_key=True),
    Column("committee_id", String(100), nullable=False),
    Column("institution_id", String(100), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("mode", String(20)),
    Column("starts_at", String(40), nullable=False),
    Column("ends_at", String(40)),
    Column("place", String(300), nullable=False),
    Column("attendance", ABSENT_AS_NULL),       # {"in_person": n, "remote": n}
    Column("officials", ABSENT_AS_NULL),        # posts, not names
    Column("agenda", ABSENT_AS_NULL),
    Column("next_meeting", ABSENT_AS_NULL),
    Column("allowance_rule_ref", String(50)),
    Column("allowance_total", Integer),
    Column("other_costs", Integer),
    Column("total_cost", Integer),
    Column("disclosure", String(20)),
    Column("reason_code", String(5)),
    Column("retention_years", Integer),
    Column("summary", Text),
    Column("attachments", ABSENT_AS_NULL))


class CommitteeProjection(RowsProjection):
    name = "committee-meetings"
    metadata = metadata
    registry = ev.registry

    def __init__(self) -> None:
        self.topics = (events_topic("committee").name,)

    async def _CommitteeEstablished(self, rows: Rows, env, e: ev.CommitteeEstablished):
        rows.insert(committees, committee_id=e.committee_id, institution_id=e.institution_id,
                    name_ko=e.name_ko, kind=e.kind, city_committee=e.city_committee)

    async def _MemberAppointed(self, rows: Rows, env, e: ev.MemberAppointed):
        # reappointed after a dismissal: the row is reused
        rows.insert(members, committee_id=e.committee_id, member_id=e.member_id,
                    role=e.role, channel=e.channel, youth=e.youth,
                    appointed_on=e.appointed_on.isoformat(), dismissed_on=None)

    async def _MemberDismissed(self, rows: Rows, env, e: ev.MemberDismissed):
        await rows.update(members, e.committee_id, e.member_id,
                          dismissed_on=e.dismissed_on.isoformat())

    async def _YouthQuotaExceptionApproved(self, rows: Rows, env, e):
        rows.insert(exceptions, committee_id=e.committee_id, member_id=e.member_id,
                    approved_by=e.approved_by, reason=e.reason)

    async def _MeetingScheduled(self, rows: Rows, env, e: ev.MeetingScheduled):
        rows.insert(meetings, meeting_id=e.meeting_id, committee_id=e.committee_id,
                    institution_id=e.institution_id, number=e.number, status="scheduled",
                    starts_at=e.starts_at.isoformat(), place=e.place)

    async def _MeetingHeld(self, rows: Rows, env, e: ev.MeetingHeld):
        attendance = {"in_person": sum(a.attendance == "in_person" for a in e.attendees),
                      "remote": sum(a.attendance == "remote" for a in e.attendees)}
        await _meeting(rows, e.meeting_id, dict(
            committee_id=e.committee_id, institution_id=e.institution_id, number=e.number,
            status="held", mode=e.mode, starts_at=e.starts_at.isoformat(),
            ends_at=e.ends_at.isoformat(), place=e.place, attendance=attendance,
            officials=[o.post for o in e.officials],
            agenda=[i.model_dump(mode="json") for i in e.agenda],
            next_meeting=e.next_meeting.model_dump(mode="json") if e.next_meeting else None))

    async def _MeetingPostponed(self, rows: Rows, env, e):
        await _meeting(rows, e.meeting_id, dict(starts_at=e.starts_at.isoformat(),
                                                status="postponed"))

    async def _MeetingCancelled(self, rows: Rows, env, e):
        await _meeting(rows, e.meeting_id, dict(status="cancelled"))

    async def _MeetingCostsRecorded(self, rows: Rows, env, e: ev.MeetingCostsRecorded):
        allowances = sum(a.amount for a in e.allowances)
        await _meeting(rows, e.meeting_id, dict(
            allowance_rule_ref=e.allowance_rule_ref, allowance_total=allowances,
            other_costs=e.total - allowances, total_cost=e.total))

    async def _MinutesRecorded(self, rows: Rows, env, e: ev.MinutesRecorded):
        await _meeting(rows, e.meeting_id, dict(
            disclosure=e.disclosure, reason_code=e.reason_code,
            retention_years=e.retention_years, summary=e.summary,
            attachments=[a.model_dump(mode="json") for a in e.attachments]))


async def _meeting(rows: Rows, meeting_id: str, values: dict) -> None:
    if not await rows.update(meetings, meeting_id, **values):  # held, not scheduled first
        rows.insert(meetings, meeting_id=meeting_id, **values)


PROJECTION = CommitteeProjection
