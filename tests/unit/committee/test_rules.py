"""Committee rules in force on a date, read from services/committee/rules/committee-rules.json.

Hand-read from the file: allowance v1 from 2019-01-01 (in person 150,000, remote 100,000),
v2 from 2021-04-01 (both 150,000); paid roles chair, vice_chair, member; youth quota v1
from 2021-04-01: at least 15%, ages 19–39 (full age, 만 나이, on the appointment date;
a 29 February birthday counts as 1 March in common years).
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from services.committee.domain.rules import RULES_FILE, load_rules

RULES = load_rules()


class TestAllowance:
    def test_first_seed_meeting_date_is_under_v1(self):
        rule = RULES.allowance_on(date(2019, 3, 14))
        assert rule.version == 1
        assert rule.ref == "allowance/v1"
        assert rule.in_person == 150_000
        assert rule.remote == 100_000
        assert rule.for_attendance("member", "in_person") == 150_000
        assert rule.for_attendance("member", "remote") == 100_000

    @pytest.mark.parametrize("day", [date(2019, 1, 1), date(2020, 12, 31), date(2021, 3, 31)])
    def test_v1_holds_from_its_first_day_until_the_day_before_v2(self, day):
        assert RULES.allowance_on(day).ref == "allowance/v1"

    @pytest.mark.parametrize("day", [date(2021, 4, 1), date(2021, 5, 6), date(2030, 1, 1)])
    def test_v2_pays_remote_like_in_person_from_2021_04_01(self, day):
        rule = RULES.allowance_on(day)
        assert rule.version == 2
        assert rule.ref == "allowance/v2"
        assert rule.for_attendance("member", "remote") == 150_000
        assert rule.for_attendance("member", "in_person") == 150_000

    def test_no_rule_before_the_first_one_names_the_date(self):
        with pytest.raises(LookupError, match="2018-12-31"):
            RULES.allowance_on(date(2018, 12, 31))

    @pytest.mark.parametrize("day", [date(2019, 3, 14), date(2021, 5, 6)])
    @pytest.mark.parametrize("attendance", ["in_person", "remote"])
    def test_ex_officio_is_unpaid(self, day, attendance):
        assert RULES.allowance_on(day).for_attendance("ex_officio", attendance) == 0

    @pytest.mark.parametrize("role", ["chair", "vice_chair", "member"])
    def test_chair_vice_chair_and_member_are_paid(self, role):
        assert RULES.allowance_on(date(2019, 3, 14)).for_attendance(role, "in_person") == 150_000
        assert RULES.allowance_on(date(2019, 3, 14)).for_attendance(role, "remote") == 100_000

    def test_rule_in_force_does_not_depend_on_file_order(self, tmp_path):
        data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
        data["allowances"].reverse()
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        rules = load_rules(path)
        assert rules.allowance_on(date(2021, 3, 31)).version == 1
        assert rules.allowance_on(date(2021, 4, 1)).version == 2


class TestYouthQuota:
    def test_no_quota_the_day_before_2021_04_01(self):
        assert RULES.youth_quota_on(date(2021, 3, 31)) is None

    @pytest.mark.parametrize("day", [date(2021, 4, 1), date(2024, 1, 1)])
    def test_quota_from_2021_04_01_is_15_percent_for_ages_19_to_39(self, day):
        quota = RULES.youth_quota_on(day)
        assert quota is not None
        assert quota.version == 1
        assert quota.ref == "youth-quota/v1"
        assert quota.min_share == Decimal("0.15")
        assert (quota.age_min, quota.age_max) == (19, 39)

    @pytest.mark.parametrize("born, youth", [
        (date(2002, 6, 2), False),   # 18, 19 tomorrow
        (date(2002, 6, 1), True),    # 19 today
        (date(1991, 1, 1), True),    # 30
        (date(1981, 6, 2), True),    # 39, 40 tomorrow
        (date(1981, 6, 1), False),   # 40 today
    ])
    def test_is_youth_boundaries_in_2021(self, born, youth):
        quota = RULES.youth_quota_on(date(2021, 6, 1))
        assert quota.is_youth(born, date(2021, 6, 1)) is youth

    def test_the_leap_day_assumption_is_rule_data(self):
        data = json.loads(RULES_FILE.read_text(encoding="utf-8"))["youth_quota"][0]
        assert data["leap_day_birthday"] == "03-01"
        assert any("29 February" in a for a in data["assumptions"])
        assert RULES.youth_quota_on(date(2021, 6, 1)).leap_day_birthday == "03-01"
