"""The youth rule by full age (만 나이) on the appointment date, by the day.

Youth = 19–39 full years on the appointment date: youth from the 19th birthday on,
not youth from the 40th birthday on. A 29 February birthday counts as 1 March in
common years (rule data `leap_day_birthday`, committee-rules.json). Expected
birthdays are computed here independently of the rule's code.
"""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from services.committee.domain.committee import Committee, committee_stream
from services.committee.domain.events import Personal
from services.committee.domain.rules import RULES_FILE, load_rules

from .builders import CID, RULES, SEALED, established

ON = date(2021, 6, 1)
DAY = timedelta(days=1)
QUOTA = RULES.youth_quota_on(ON)


def birthday(born: date, age: int) -> date:
    """The day one is `age` full years old: in a common year, 1 March for 29 February."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return date(born.year + age, 3, 1)


def every_day(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += DAY


def youth_on_appointment(born: date, on: date) -> bool:
    """Through the aggregate, as a command would decide it."""
    [event] = Committee(committee_stream(CID), [established(city=False)]).appoint(
        CID, "m", "member", "open_call", on, Personal(name="위원", birth_date=born),
        SEALED, RULES)
    return event.youth


class TestTheBrief:
    def test_turning_40_the_day_after_the_appointment_is_still_youth(self):
        assert youth_on_appointment(date(1981, 6, 2), ON) is True

    def test_turning_40_on_the_appointment_day_is_not_youth(self):
        assert youth_on_appointment(date(1981, 6, 1), ON) is False

    def test_having_turned_40_the_day_before_is_not_youth(self):
        assert youth_on_appointment(date(1981, 5, 31), ON) is False

    def test_turning_19_the_day_after_the_appointment_is_not_youth(self):
        assert youth_on_appointment(date(2002, 6, 2), ON) is False

    def test_turning_19_on_the_appointment_day_is_youth(self):
        assert youth_on_appointment(date(2002, 6, 1), ON) is True

    def test_having_turned_19_the_day_before_is_youth(self):
        assert youth_on_appointment(date(2002, 5, 31), ON) is True


@pytest.mark.parametrize("birth_year", [1980, 1981, 1983, 1984, 2000, 2001])
def test_both_sides_of_both_bounds_for_every_birthday_of_the_year(birth_year):
    """Leap and common birth years: the day before and the day of the 19th and the
    40th birthday, and the day after, for all 365 or 366 birthdays."""
    wrong = []
    for born in every_day(date(birth_year, 1, 1), date(birth_year, 12, 31)):
        nineteen, forty = birthday(born, 19), birthday(born, 40)
        expected = {nineteen - DAY: False, nineteen: True, nineteen + DAY: True,
                    forty - DAY: True, forty: False, forty + DAY: False}
        wrong += [(born, on, want) for on, want in expected.items()
                  if QUOTA.is_youth(born, on) is not want]
    assert wrong == []


def test_the_age_rises_by_one_exactly_on_each_birthday_over_a_lifetime():
    for born in (date(1980, 2, 29), date(1981, 2, 28), date(1981, 3, 1),
                 date(1990, 12, 31), date(1991, 1, 1)):
        rises = [on for on in every_day(born + DAY, date(born.year + 45, 12, 31))
                 if QUOTA.age_on(born, on) != QUOTA.age_on(born, on - DAY)]
        assert rises == [birthday(born, n) for n in range(1, 46)
                         if birthday(born, n) <= date(born.year + 45, 12, 31)], born
        assert QUOTA.age_on(born, born) == 0


class TestLeapDayBirthday:
    """Assumption (rule data): a 29 February birthday is 1 March in common years."""

    def test_in_common_years_the_birthday_is_1_march(self):
        born = date(2000, 2, 29)
        assert QUOTA.age_on(born, date(2001, 2, 28)) == 0
        assert QUOTA.age_on(born, date(2001, 3, 1)) == 1
        assert QUOTA.age_on(born, date(2004, 2, 28)) == 3
        assert QUOTA.age_on(born, date(2004, 2, 29)) == 4  # a leap year: the day itself

    def test_19_on_1_march_of_a_common_year(self):
        born = date(2000, 2, 29)  # 2019 is a common year
        assert youth_on_appointment(born, date(2019, 2, 28)) is False
        assert youth_on_appointment(born, date(2019, 3, 1)) is True

    def test_40_on_29_february_of_a_leap_year(self):
        born = date(1980, 2, 29)  # 2020 is a leap year
        assert youth_on_appointment(born, date(2020, 2, 28)) is True
        assert youth_on_appointment(born, date(2020, 2, 29)) is False

    def test_40_on_1_march_when_the_40th_year_is_common(self):
        born = date(1860, 2, 29)  # 1900 is not a leap year (a century, not by 400)
        assert QUOTA.is_youth(born, date(1900, 2, 28)) is True
        assert QUOTA.is_youth(born, date(1900, 3, 1)) is False

    def test_the_other_reading_is_one_rule_edit_away(self, tmp_path):
        data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
        data["youth_quota"][0]["leap_day_birthday"] = "02-28"
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        quota = load_rules(path).youth_quota_on(ON)
        assert quota.is_youth(date(2000, 2, 29), date(2019, 2, 28)) is True
        assert quota.is_youth(date(2000, 2, 29), date(2019, 2, 27)) is False


def test_before_the_quota_rule_the_first_band_still_decides_youth():
    before = date(2020, 6, 1)
    assert RULES.youth_quota_on(before) is None
    assert RULES.is_youth(date(1980, 6, 2), before) is True    # 39, 40 tomorrow
    assert RULES.is_youth(date(1980, 6, 1), before) is False   # 40 today


def test_a_birth_date_after_the_appointment_is_not_youth():
    assert QUOTA.is_youth(date(2030, 1, 1), ON) is False
