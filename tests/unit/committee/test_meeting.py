"""The Meeting aggregate, checked against the two seed documents.

Seed 000 (2019-03-14 14:00–17:00, in person): allowance 150,000 × 5 = 750,000;
room 110,000 × 2 h = 220,000; refreshments 143,000; total 1,113,000 KRW.
Seed 001: the 13th governance subcommittee meeting, 2021-04-01 14:00–15:30, 4 members,
agenda 2021-11..14, next (14th) meeting 2021-05-06 14:00; record partly public (6),
retention 3 years.
"""
from __future__ import annotations

from datetime import date

import pytest

from services.committee.domain.errors import (CommitteeRefused, InvalidMeeting,
                                              InvalidState, NotAMember)
from services.committee.domain.events import (AgendaItem, Allowance, Attachment,
                                              MeetingCancelled, MeetingCostsRecorded,
                                              MeetingHeld, MeetingPostponed,
                                              MeetingScheduled, MinutesRecorded,
                                              NextMeeting, Official)

from .builders import (CID, INST, MID, RULES, appointed, at, committee, dismissed,
                       established, hold, held_meeting, in_person, meeting, members,
                       remote, scheduled)

FIVE = ["m-1", "m-2", "m-3", "m-4", "m-5"]
SEED_000_OFFICIALS = ("민관협력담당관", "협업조정팀장", "협치기획팀장", "협치총괄지원관", "협치지원관")
SEED_001_OFFICIALS = ("서울협치담당관", "협치기획팀장", "시정협치팀장", "공익활동지원팀장")
SEED_001_AGENDA = [
    AgendaItem(number="2021-11", kind="report", owning_team="협치기획팀",
               title="2021년도 협치역량평가 시행계획"),
    AgendaItem(number="2021-12", kind="report", owning_team="시정협치팀",
               title="위원회 관련 조례 시행규칙(2건) 개정계획 보고"),
    AgendaItem(number="2021-13", kind="report", owning_team="공익활동지원팀",
               title="공익활동 지원사업 선정결과 보고"),
    AgendaItem(number="2021-14", kind="advisory", owning_team="협치기획팀",
               title="민주주의 기본계획 - 협치분야"),
]


def advisory_group(*extra):
    """Seed 000's advisory group: five paid members appointed before 2019-03-14."""
    return committee(established(city=False), *members(5, date(2019, 3, 1)), *extra)


def seed_001_committee(*extra):
    """Seed 001's subcommittee: four members appointed before the 13th meeting."""
    return committee(established(), *members(4, date(2020, 1, 1)), *extra)


def seed_001_hold(com, m=None, **overrides):
    kwargs = dict(agenda=SEED_001_AGENDA, official_posts=SEED_001_OFFICIALS,
                  next_meeting=NextMeeting(number=14, starts_at=at(2021, 5, 6)))
    kwargs.update(overrides)
    attendees = kwargs.pop("attendees", in_person("m-1", "m-2", "m-3", "m-4"))
    starts = kwargs.pop("starts_at", at(2021, 4, 1, 14, 0))
    ends = kwargs.pop("ends_at", at(2021, 4, 1, 15, 30))
    return hold(com, starts, ends, attendees, m=m, **kwargs)


def costs(m, com):
    return m.record_costs(MID, com, RULES, room_hours=2, room_rate=110_000,
                          refreshments=143_000)


# ------------------------------------------------------------------ costs (seed 000)

class TestCosts:
    def test_seed_000_meeting_costs_1_113_000(self):
        com = advisory_group()
        [held] = hold(com, at(2019, 3, 14, 14), at(2019, 3, 14, 17), in_person(*FIVE),
                      official_posts=SEED_000_OFFICIALS, number=1)
        assert [o.post for o in held.officials] == list(SEED_000_OFFICIALS)
        [event] = costs(meeting(held), com)
        assert isinstance(event, MeetingCostsRecorded)
        assert event.allowance_rule_ref == "allowance/v1"
        assert event.allowances == [Allowance(member_id=i, attendance="in_person",
                                              amount=150_000) for i in FIVE]
        assert sum(a.amount for a in event.allowances) == 750_000
        assert (event.room_hours, event.room_rate, event.refreshments) == (2, 110_000, 143_000)
        assert event.total == 1_113_000

    def test_remote_paid_like_in_person_under_v2(self):
        com = advisory_group()
        m, _ = held_meeting(com, at(2021, 5, 6, 14), at(2021, 5, 6, 17),
                            in_person("m-1", "m-2", "m-3") + remote("m-4", "m-5"))
        [event] = costs(m, com)
        assert event.allowance_rule_ref == "allowance/v2"
        assert [(a.member_id, a.attendance, a.amount) for a in event.allowances] == [
            ("m-1", "in_person", 150_000), ("m-2", "in_person", 150_000),
            ("m-3", "in_person", 150_000), ("m-4", "remote", 150_000),
            ("m-5", "remote", 150_000)]
        assert event.total == 1_113_000

    def test_remote_paid_100_000_under_v1_the_day_before_the_change(self):
        com = advisory_group()
        m, _ = held_meeting(com, at(2021, 3, 31, 14), at(2021, 3, 31, 17),
                            in_person("m-1", "m-2", "m-3") + remote("m-4", "m-5"))
        [event] = costs(m, com)
        assert event.allowance_rule_ref == "allowance/v1"
        assert [a.amount for a in event.allowances] == [150_000] * 3 + [100_000] * 2
        # 3 × 150,000 + 2 × 100,000 + 220,000 + 143,000
        assert event.total == 1_013_000

    def test_ex_officio_attendee_gets_nothing(self):
        com = advisory_group(appointed("ex-1", date(2019, 3, 1), role="ex_officio",
                                       channel="ex_officio"))
        m, _ = held_meeting(com, at(2019, 3, 14, 14), at(2019, 3, 14, 17),
                            in_person(*FIVE, "ex-1"))
        [event] = costs(m, com)
        assert event.allowances[-1] == Allowance(member_id="ex-1", attendance="in_person",
                                                 amount=0)
        assert event.total == 1_113_000

    def test_costs_before_the_meeting_is_held_are_refused(self):
        com = advisory_group()
        for m in (meeting(), meeting(scheduled(at(2019, 3, 14)))):
            with pytest.raises(InvalidState, match="not been held"):
                costs(m, com)

    def test_costs_twice_are_refused(self):
        com = advisory_group()
        m, held = held_meeting(com, at(2019, 3, 14, 14), at(2019, 3, 14, 17),
                               in_person(*FIVE))
        [recorded] = costs(m, com)
        with pytest.raises(InvalidState, match="already recorded"):
            costs(meeting(held, recorded), com)

    def test_costs_of_a_meeting_before_any_allowance_rule_are_a_refusal(self):
        """BUG: a meeting held before 2019-01-01 (the first allowance rule) makes
        record_costs raise a bare LookupError from rules.allowance_on, not a
        CommitteeRefused; the handler does not turn it into a rejection, so the consumer
        parks the command as a handler failure instead of answering CommandRejected."""
        com = committee(established(city=False), *members(5, date(2018, 6, 1)))
        m, _ = held_meeting(com, at(2018, 12, 20, 14), at(2018, 12, 20, 17),
                            in_person(*FIVE))
        with pytest.raises(CommitteeRefused, match="2018-12-20"):
            costs(m, com)


# ------------------------------------------------------------------ held (seed 001)

class TestHeld:
    def test_seed_001_thirteenth_meeting(self):
        com = seed_001_committee()
        [event] = seed_001_hold(com)
        assert isinstance(event, MeetingHeld)
        assert (event.meeting_id, event.committee_id, event.institution_id, event.number,
                event.mode) == (MID, CID, INST, 13, "in_person")
        assert (event.starts_at, event.ends_at) == (at(2021, 4, 1, 14, 0),
                                                    at(2021, 4, 1, 15, 30))
        assert [a.member_id for a in event.attendees] == ["m-1", "m-2", "m-3", "m-4"]
        assert event.officials == [Official(post=p) for p in SEED_001_OFFICIALS]
        assert [(i.number, i.kind, i.owning_team) for i in event.agenda] == [
            ("2021-11", "report", "협치기획팀"), ("2021-12", "report", "시정협치팀"),
            ("2021-13", "report", "공익활동지원팀"), ("2021-14", "advisory", "협치기획팀")]
        assert event.agenda[0].title == "2021년도 협치역량평가 시행계획"
        assert event.agenda[3].title == "민주주의 기본계획 - 협치분야"
        assert event.next_meeting == NextMeeting(number=14, starts_at=at(2021, 5, 6, 14))
        folded = meeting(event)
        assert folded.state.status == "held"
        assert folded.state.held == event

    def test_a_scheduled_meeting_can_be_held(self):
        com = seed_001_committee()
        [event] = seed_001_hold(com, m=meeting(scheduled(at(2021, 4, 1))))
        assert event.number == 13

    def test_end_before_start_names_both_times(self):
        with pytest.raises(InvalidMeeting) as refused:
            seed_001_hold(seed_001_committee(), ends_at=at(2021, 4, 1, 13, 0))
        assert "2021-04-01T14:00:00+09:00" in refused.value.detail
        assert "2021-04-01T13:00:00+09:00" in refused.value.detail

    def test_end_equal_to_start_is_refused(self):
        with pytest.raises(InvalidMeeting):
            seed_001_hold(seed_001_committee(), ends_at=at(2021, 4, 1, 14, 0))

    def test_attendee_appointed_after_the_meeting_is_not_a_member(self):
        com = seed_001_committee(appointed("late", date(2021, 4, 2)))
        with pytest.raises(NotAMember, match="late"):
            seed_001_hold(com, attendees=in_person("m-1", "late"))

    def test_attendee_dismissed_before_the_meeting_is_not_a_member(self):
        com = seed_001_committee(appointed("gone", date(2020, 1, 1)),
                                 dismissed("gone", date(2021, 3, 1)))
        with pytest.raises(NotAMember, match="gone"):
            seed_001_hold(com, attendees=in_person("m-1", "gone"))

    def test_attendee_dismissed_on_the_meeting_day_is_not_a_member(self):
        com = seed_001_committee(dismissed("m-4", date(2021, 4, 1)))
        with pytest.raises(NotAMember, match="m-4"):
            seed_001_hold(com)

    def test_unknown_attendee_is_not_a_member(self):
        with pytest.raises(NotAMember, match="stranger"):
            seed_001_hold(seed_001_committee(), attendees=in_person("stranger"))

    def test_repeated_agenda_number_is_named(self):
        agenda = SEED_001_AGENDA + [SEED_001_AGENDA[1]]
        with pytest.raises(InvalidMeeting, match="2021-12"):
            seed_001_hold(seed_001_committee(), agenda=agenda)

    def test_attendee_listed_twice_is_refused(self):
        with pytest.raises(InvalidMeeting):
            seed_001_hold(seed_001_committee(),
                          attendees=in_person("m-1", "m-2") + remote("m-1"))

    def test_holding_twice_is_refused(self):
        com = seed_001_committee()
        [event] = seed_001_hold(com)
        with pytest.raises(InvalidState, match="held"):
            seed_001_hold(com, m=meeting(event))

    def test_a_cancelled_meeting_cannot_be_held(self):
        m = meeting(scheduled(at(2021, 4, 1)),
                    MeetingCancelled(meeting_id=MID, reason="정족수 미달"))
        with pytest.raises(InvalidState, match="cancelled"):
            seed_001_hold(seed_001_committee(), m=m)

    def test_held_by_the_committee_it_was_scheduled_for(self):
        """BUG: hold() never compares the committee with the one in MeetingScheduled, so a
        meeting scheduled for one committee is recorded as held by another (the meeting
        stream then carries two committee ids)."""
        other = committee(established(cid="other"),
                          *[appointed(f"m-{i}", date(2020, 1, 1), cid="other")
                            for i in range(1, 5)], cid="other")
        m = meeting(scheduled(at(2021, 4, 1), cid=CID))
        with pytest.raises(CommitteeRefused):
            seed_001_hold(other, m=m)


# ------------------------------------------------------------------ schedule, postpone, cancel

class TestSchedule:
    def test_schedule_decides_meeting_scheduled(self):
        [event] = meeting().schedule(MID, seed_001_committee(), 14, at(2021, 5, 6), "회의실")
        assert isinstance(event, MeetingScheduled)
        assert (event.committee_id, event.institution_id, event.number, event.starts_at) == (
            CID, INST, 14, at(2021, 5, 6))
        assert meeting(event).state.status == "scheduled"

    def test_schedule_twice_is_refused(self):
        with pytest.raises(InvalidState):
            meeting(scheduled(at(2021, 5, 6))).schedule(MID, seed_001_committee(), 14,
                                                        at(2021, 5, 6), "회의실")

    def test_postpone_and_cancel_a_scheduled_meeting(self):
        m = meeting(scheduled(at(2021, 5, 6)))
        [postponed] = m.postpone(MID, at(2021, 5, 13), "위원 일정")
        assert isinstance(postponed, MeetingPostponed)
        assert postponed.starts_at == at(2021, 5, 13)
        [cancelled] = m.cancel(MID, "정족수 미달")
        assert isinstance(cancelled, MeetingCancelled)

    def test_a_postponed_meeting_is_still_scheduled(self):
        m = meeting(scheduled(at(2021, 5, 6)),
                    MeetingPostponed(meeting_id=MID, starts_at=at(2021, 5, 13), reason="일정"))
        assert m.state.status == "scheduled"
        assert m.cancel(MID, "정족수 미달")

    def test_postpone_or_cancel_unscheduled_meetings_is_refused(self):
        com = seed_001_committee()
        [held] = seed_001_hold(com)
        cancelled = MeetingCancelled(meeting_id=MID, reason="정족수 미달")
        for m, status in ((meeting(), "none"), (meeting(held), "held"),
                          (meeting(scheduled(at(2021, 5, 6)), cancelled), "cancelled")):
            with pytest.raises(InvalidState, match=status):
                m.postpone(MID, at(2021, 5, 13), "일정")
            with pytest.raises(InvalidState, match=status):
                m.cancel(MID, "정족수 미달")


# ------------------------------------------------------------------ minutes

class TestMinutes:
    ATTACHMENTS = [Attachment(kind="signature_sheet", title="제13차 협치분과위원회 서명부",
                              disclosure="closed"),
                   Attachment(kind="minutes", title="제13차 협치분과위원회 회의록",
                              disclosure="closed")]

    def held(self):
        [event] = seed_001_hold(seed_001_committee())
        return meeting(event)

    @pytest.mark.parametrize("disclosure", ["partly_public", "closed"])
    def test_withheld_record_without_reason_code_is_refused(self, disclosure):
        with pytest.raises(InvalidMeeting, match="reason code"):
            self.held().record_minutes(MID, disclosure, None, 3, "", self.ATTACHMENTS, RULES)

    def test_partly_public_with_reason_6_kept_3_years(self):
        [event] = self.held().record_minutes(MID, "partly_public", "6", 3, "요약",
                                             self.ATTACHMENTS, RULES)
        assert isinstance(event, MinutesRecorded)
        assert (event.meeting_id, event.disclosure, event.reason_code,
                event.retention_years) == (MID, "partly_public", "6", 3)
        assert event.attachments == self.ATTACHMENTS

    def test_public_record_needs_no_reason_code(self):
        [event] = self.held().record_minutes(MID, "public", None, 3, "", [], RULES)
        assert event.reason_code is None

    def test_minutes_before_the_meeting_is_held_are_refused(self):
        with pytest.raises(InvalidState, match="not been held"):
            meeting(scheduled(at(2021, 4, 1))).record_minutes(MID, "public", None, 3, "", [], RULES)

    def test_minutes_twice_are_refused(self):
        m = self.held()
        [first] = m.record_minutes(MID, "partly_public", "6", 3, "", [], RULES)
        with pytest.raises(InvalidState, match="already recorded"):
            meeting(m.state.held, first).record_minutes(MID, "public", None, 3, "", [], RULES)
