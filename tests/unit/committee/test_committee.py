"""The Committee aggregate: establishment, members over time, the youth quota.

Full ages (만 나이) on the appointment date: born 1991-07-15 -> 29 in May 2021 (youth);
born 1960-03-02 -> 61 (not youth); born 1982-01-10 -> 39 in June 2021 (youth), 40 from
2022-01-10 (not). Boundaries by the day: tests/unit/committee/test_youth_age.py. The quota (15%, 19–39) applies to city
committees from 2021-04-01.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.committee.domain.committee import Committee, committee_stream
from services.committee.domain.errors import (CommitteeRefused, InvalidState, NotAMember,
                                              YouthQuotaBreached)
from services.committee.domain.events import (CommitteeEstablished, MemberAppointed,
                                              MemberDismissed, Personal,
                                              YouthQuotaExceptionApproved)

from .builders import (CID, INST, RULES, SEALED, SENIOR_BORN, YOUTH_BORN, appointed, committee,
                       dismissed, established, exception_for, members)

BEFORE_QUOTA = date(2020, 1, 1)
QUOTA_DAY = date(2021, 4, 1)
AFTER_QUOTA = date(2021, 5, 1)


def appoint(com: Committee, member_id: str, on: date, born: date = SENIOR_BORN,
            role: str = "member", channel: str = "open_call") -> list:
    return com.appoint(CID, member_id, role, channel, on,
                       Personal(name=f"위원 {member_id}", birth_date=born), SEALED, RULES)


class TestEstablish:
    def test_establish_decides_one_event(self):
        [event] = Committee(committee_stream(CID)).establish(
            CID, INST, "협치 분과위원회", "subcommittee", True)
        assert isinstance(event, CommitteeEstablished)
        assert (event.committee_id, event.institution_id, event.name_ko, event.kind,
                event.city_committee) == (CID, INST, "협치 분과위원회", "subcommittee", True)

    def test_folding_the_event_keeps_the_city_flag(self):
        assert committee(established(city=False)).state.city_committee is False
        assert committee(established(city=True)).state.city_committee is True

    def test_establish_twice_is_refused(self):
        com = committee(established())
        with pytest.raises(InvalidState, match=CID):
            com.establish(CID, INST, "협치 분과위원회", "subcommittee", True)


class TestMembers:
    def test_appoint_decides_member_appointed(self):
        [event] = appoint(committee(established()), "m-1", BEFORE_QUOTA, role="chair",
                          channel="recommendation")
        assert isinstance(event, MemberAppointed)
        assert (event.committee_id, event.member_id, event.role, event.channel,
                event.appointed_on) == (CID, "m-1", "chair", "recommendation", BEFORE_QUOTA)
        assert event.personal == SEALED  # only the sealed form is recorded

    def test_members_on_follows_appointment_and_dismissal_dates(self):
        com = committee(established(), appointed("m-1", date(2020, 3, 1)),
                        dismissed("m-1", date(2020, 9, 1)))
        assert com.members_on(date(2020, 2, 29)) == {}
        assert set(com.members_on(date(2020, 3, 1))) == {"m-1"}
        assert set(com.members_on(date(2020, 8, 31))) == {"m-1"}
        # a dismissed member does not serve on the dismissal day
        assert com.members_on(date(2020, 9, 1)) == {}
        assert com.members_on(date(2021, 1, 1)) == {}

    def test_members_on_lists_each_serving_member_with_role(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1), role="chair"),
                        appointed("m-2", date(2020, 6, 1)))
        on = com.members_on(date(2020, 3, 1))
        assert list(on) == ["m-1"]
        assert on["m-1"].role == "chair"
        assert set(com.members_on(date(2020, 6, 1))) == {"m-1", "m-2"}

    def test_dismiss_decides_member_dismissed(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1)))
        [event] = com.dismiss(CID, "m-1", date(2020, 9, 1), "사임")
        assert isinstance(event, MemberDismissed)
        assert (event.member_id, event.dismissed_on, event.reason) == (
            "m-1", date(2020, 9, 1), "사임")

    def test_dismissing_someone_never_appointed_names_them(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1)))
        with pytest.raises(NotAMember, match="ghost"):
            com.dismiss(CID, "ghost", date(2020, 9, 1), "사임")

    def test_dismissing_before_the_appointment_is_refused(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1)))
        with pytest.raises(NotAMember, match="m-1"):
            com.dismiss(CID, "m-1", date(2019, 12, 31), "사임")

    def test_dismissing_twice_is_refused(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1)),
                        dismissed("m-1", date(2020, 9, 1)))
        with pytest.raises(NotAMember, match="m-1"):
            com.dismiss(CID, "m-1", date(2020, 10, 1), "사임")

    def test_appointing_a_serving_member_is_refused(self):
        com = committee(established(), appointed("m-1", date(2020, 1, 1)))
        with pytest.raises(InvalidState, match="m-1"):
            appoint(com, "m-1", date(2020, 6, 1))

    def test_a_dismissed_member_may_be_appointed_again(self):
        com = committee(established(), appointed("m-1", date(2019, 1, 10)),
                        dismissed("m-1", date(2020, 1, 10)))
        [event] = appoint(com, "m-1", date(2021, 1, 10))
        assert event.appointed_on == date(2021, 1, 10)

    def test_reappointment_keeps_the_first_term_in_history(self):
        """BUG: a reappointment replaces the member's Membership, so the first term is lost
        and members_on() for a date in it no longer lists the member (a meeting of that
        date then refuses them as NotAMember)."""
        first = appointed("m-1", date(2019, 1, 10))
        com = committee(established(), first, dismissed("m-1", date(2020, 1, 10)))
        again = appoint(com, "m-1", date(2021, 1, 10))
        com = committee(established(), first, dismissed("m-1", date(2020, 1, 10)), *again)
        assert set(com.members_on(date(2021, 2, 1))) == {"m-1"}
        assert com.members_on(date(2020, 6, 1)) == {}
        assert set(com.members_on(date(2019, 6, 1))) == {"m-1"}


class TestYouthShare:
    def test_the_share_is_a_fact_before_the_quota_rule_too(self):
        # being 19-39 is a fact before 2021-04-01; only the refusal waits for the rule
        com = committee(established(), *members(3, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN))
        assert com.youth_share(com.members_on(date(2021, 3, 31))) == Decimal("0.25")

    def test_one_youth_of_four_is_a_quarter(self):
        com = committee(established(), *members(3, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN))
        assert com.youth_share(com.members_on(AFTER_QUOTA)) == Decimal("0.25")

    def test_no_share_without_members(self):
        assert Committee.youth_share(committee(established()).members_on(AFTER_QUOTA)) is None

    def test_youth_is_fixed_at_appointment(self):
        # born 1982-01-10: 39 (youth) when appointed in 2021; the share still counts the
        # member as youth in 2022 (the rule is about the share of youth appointments)
        com = committee(established(), appointed("m-1", date(2021, 6, 1)),
                        appointed("m-2", date(2021, 6, 1), date(1982, 1, 10)))
        assert com.youth_share(com.members_on(date(2021, 12, 31))) == Decimal("0.5")
        assert com.youth_share(com.members_on(date(2022, 1, 1))) == Decimal("0.5")

    def test_share_counts_only_members_serving_on_the_date(self):
        com = committee(established(), *members(3, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN),
                        dismissed("y-1", date(2021, 4, 15)))
        assert com.youth_share(com.members_on(date(2021, 4, 14))) == Decimal("0.25")
        assert com.youth_share(com.members_on(date(2021, 4, 15))) == Decimal(0)


class TestYouthQuota:
    def test_non_youth_appointment_below_15_percent_is_refused(self):
        # 5 seniors + 1 youth; a 7th, non-youth member: 1/7 = 14.3% -> "14%"
        com = committee(established(), *members(5, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN))
        with pytest.raises(YouthQuotaBreached) as refused:
            appoint(com, "new", AFTER_QUOTA)
        detail = refused.value.detail
        assert "14%" in detail
        assert "15%" in detail
        assert "youth office head" in detail
        assert "new" in detail
        assert isinstance(refused.value, CommitteeRefused)
        assert refused.value.category == "conflict"  # 409 at the HTTP edge

    def test_exactly_15_percent_passes(self):
        # 16 seniors + 3 youth; a 20th, non-youth member: 3/20 = 15% exactly
        com = committee(established(), *members(16, BEFORE_QUOTA),
                        *members(3, BEFORE_QUOTA, YOUTH_BORN, prefix="y"))
        [event] = appoint(com, "new", AFTER_QUOTA)
        assert event.member_id == "new"
        assert event.youth is False

    def test_one_member_more_falls_below_15_percent(self):
        # 17 seniors + 3 youth; a 21st, non-youth member: 3/21 = 14.3%
        com = committee(established(), *members(17, BEFORE_QUOTA),
                        *members(3, BEFORE_QUOTA, YOUTH_BORN, prefix="y"))
        with pytest.raises(YouthQuotaBreached, match="14%"):
            appoint(com, "new", AFTER_QUOTA)

    def test_quota_applies_from_2021_04_01_itself(self):
        com = committee(established(), *members(5, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN))
        with pytest.raises(YouthQuotaBreached):
            appoint(com, "new", QUOTA_DAY)

    def test_co_approved_exception_lets_the_appointment_pass(self):
        com = committee(established(), *members(5, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN), exception_for("new"))
        [event] = appoint(com, "new", AFTER_QUOTA)
        assert event.member_id == "new"
        assert event.youth is False
        assert event.youth_rule_ref == "youth-quota/v1"

    def test_exception_for_another_member_does_not_help(self):
        com = committee(established(), *members(5, BEFORE_QUOTA),
                        appointed("y-1", BEFORE_QUOTA, YOUTH_BORN), exception_for("other"))
        with pytest.raises(YouthQuotaBreached):
            appoint(com, "new", AFTER_QUOTA)

    def test_dismissed_youth_no_longer_count(self):
        # 4 seniors + 1 youth: a 6th senior gives 1/6 = 16.7% (passes) while the youth
        # serves; after the youth's dismissal it gives 0/5 = 0%
        events = [established(), *members(4, BEFORE_QUOTA),
                  appointed("y-1", BEFORE_QUOTA, YOUTH_BORN)]
        assert appoint(committee(*events), "new", date(2021, 4, 14))
        com = committee(*events, dismissed("y-1", date(2021, 4, 15)))
        with pytest.raises(YouthQuotaBreached, match="0%"):
            appoint(com, "new", AFTER_QUOTA)

    def test_non_city_committee_is_never_refused(self):
        com = committee(established(city=False), *members(10, BEFORE_QUOTA))
        [event] = appoint(com, "new", AFTER_QUOTA)
        assert event.member_id == "new"
        # even the first member of an empty committee (0% youth)
        assert appoint(committee(established(city=False)), "first", AFTER_QUOTA)

    def test_no_quota_before_2021_04_01(self):
        com = committee(established(), *members(10, BEFORE_QUOTA))
        [event] = appoint(com, "new", date(2021, 3, 31))
        assert event.youth_rule_ref is None
        assert event.youth is False

    def test_youth_flag_is_true_for_a_30_year_old(self):
        [event] = appoint(committee(established()), "y-new", AFTER_QUOTA,
                          born=date(1991, 4, 30))
        assert event.youth is True
        assert event.youth_rule_ref == "youth-quota/v1"
        assert "1991" not in event.model_dump_json()  # the date decided, and stays out

    def test_youth_flag_is_false_for_a_40_year_old(self):
        com = committee(established(city=False))
        [event] = appoint(com, "m-40", AFTER_QUOTA, born=date(1981, 4, 30))
        assert event.youth is False

    def test_appointing_a_youth_member_is_not_refused(self):
        """BUG (interpretation, see report): 10 seniors serve (appointed before the quota);
        appointing a youth member raises the share from 0% to 1/11 = 9% but is refused
        as YouthQuotaBreached, so a below-quota committee needs the youth office head's
        co-approval even to appoint the youth members that would fix its share."""
        com = committee(established(), *members(10, BEFORE_QUOTA))
        [event] = appoint(com, "y-new", AFTER_QUOTA, born=YOUTH_BORN)
        assert event.youth is True


class TestYouthException:
    def test_approve_decides_the_exception(self):
        [event] = committee(established()).approve_youth_exception(
            CID, "new", "youth-office-head", "후보 부족")
        assert isinstance(event, YouthQuotaExceptionApproved)
        assert (event.member_id, event.approved_by, event.reason) == (
            "new", "youth-office-head", "후보 부족")

    def test_approving_twice_is_refused(self):
        com = committee(established(), exception_for("new"))
        with pytest.raises(InvalidState, match="new"):
            com.approve_youth_exception(CID, "new", "youth-office-head", "again")


class TestPersonRecord:
    def test_erasure_is_recorded_once(self):
        from services.committee.domain.committee import PersonRecord
        from services.committee.domain.errors import InvalidState
        [erased] = PersonRecord("person-m-1").erase("m-1", "person-m-1", "본인 요청")
        assert (erased.member_id, erased.key_id) == ("m-1", "person-m-1")
        with pytest.raises(InvalidState):
            PersonRecord("person-m-1", [erased]).erase("m-1", "person-m-1", "again")
