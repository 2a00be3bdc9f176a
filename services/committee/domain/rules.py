"""Committee rules in force on a date (수당, 청년위원 비율): data with effective dates.

Rules move (the 2021 change pays remote attendance like in-person; a youth quota of
15% from 2021; other texts speak of 10%), so each rule version says from when it
holds, and a decision records the version it was made under.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

RULES_FILE = Path(__file__).resolve().parents[1] / "rules" / "committee-rules.json"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    version: int
    effective_from: date


class AllowanceRule(_Rule):
    in_person: int
    remote: int
    paid_roles: list[str]

    @property
    def ref(self) -> str:
        return f"allowance/v{self.version}"

    def for_attendance(self, role: str, attendance: str) -> int:
        if role not in self.paid_roles:
            return 0
        return self.remote if attendance == "remote" else self.in_person


class YouthQuotaRule(_Rule):
    min_share: Decimal
    age_min: int
    age_max: int
    # In a common year a 29 February birthday falls on this day (rule data, stated in
    # committee-rules.json): "03-01" as Korean age reckoning usually has it, or "02-28".
    leap_day_birthday: Literal["03-01", "02-28"] = "03-01"

    @property
    def ref(self) -> str:
        return f"youth-quota/v{self.version}"

    def birthday_in(self, born: date, year: int) -> date:
        if (born.month, born.day) == (2, 29) and not _leap(year):
            month, day = map(int, self.leap_day_birthday.split("-"))
            return date(year, month, day)
        return born.replace(year=year)

    def age_on(self, born: date, on: date) -> int:
        """Full age (만 나이): whole years completed on `on`, a year more from the
        birthday on."""
        return on.year - born.year - (on < self.birthday_in(born, on.year))

    def is_youth(self, born: date, on: date) -> bool:
        return self.age_min <= self.age_on(born, on) <= self.age_max


class DisclosureRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    levels: list[str]
    reason_codes: list[str]


class CommitteeRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    allowances: list[AllowanceRule]
    youth_quota: list[YouthQuotaRule]
    disclosure: DisclosureRule

    def allowance_on(self, day: date) -> AllowanceRule:
        return _in_force(self.allowances, day, "attendance allowance")

    def youth_quota_on(self, day: date) -> YouthQuotaRule | None:
        try:
            return _in_force(self.youth_quota, day, "youth quota")
        except LookupError:
            return None  # no quota before the first rule took effect

    def is_youth(self, born: date, on: date) -> bool:
        """Youth (청년) by the full age on `on` and the age band in force, or by the
        first rule's band before any quota took effect: being 19–39 is a fact even
        where no quota applies."""
        band = self.youth_quota_on(on) or min(self.youth_quota, key=lambda r: r.effective_from)
        return band.is_youth(born, on)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _in_force(rules: list, day: date, what: str):
    found = [r for r in rules if r.effective_from <= day]
    if not found:
        raise LookupError(f"no {what} rule in force on {day.isoformat()}")
    return max(found, key=lambda r: r.effective_from)


def load_rules(path: Path = RULES_FILE) -> CommitteeRules:
    return CommitteeRules.model_validate(json.loads(path.read_text(encoding="utf-8")))
