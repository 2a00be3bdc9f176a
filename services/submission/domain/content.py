"""What an institution reports per indicator (협치이행 결과보고서), and its checks.

Shapes are code (a public contract); limits — caps, allowed process types, the MOOC
courses — come from the rulebook, so a new year changes data, not this file.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import RuleBroken, UnknownIndicator
from .rulebook import Rulebook

Text = Field(min_length=1, max_length=500)


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommitteeComposition(_Part):
    committee_id: str = Text
    members_total: int = Field(ge=1, le=500)
    members_open_call: int = Field(ge=0, le=500)

    @model_validator(mode="after")
    def _open_call_within_total(self):
        if self.members_open_call > self.members_total:
            raise ValueError(f"committee {self.committee_id}: {self.members_open_call} "
                             f"open-call members out of {self.members_total}")
        return self


class MeetingRecord(_Part):
    committee_id: str = Text
    held_on: date
    mode: Literal["in_person", "online", "hybrid"]
    minutes_ref: str = Text


class ProcessRun(_Part):
    type: str = Field(min_length=1, max_length=50)
    title: str = Text


class OfflineSession(_Part):
    held_on: date
    attendees: int = Field(ge=0, le=100_000)


class CaseDescription(_Part):
    title: str = Text
    summary: str = Field(min_length=1, max_length=4000)
    evidence_ref: str = Text


class LeadershipActivity(_Part):
    title: str = Text
    summary: str = Field(min_length=1, max_length=4000)


class IndicatorResult(_Part):
    """One indicator's results; exactly the part that belongs to it is filled."""

    indicator_id: str = Field(min_length=1, max_length=100)
    evidence_refs: list[str] = Field(default=[], max_length=100)
    committees: list[CommitteeComposition] | None = Field(None, max_length=200)
    meeting_records: list[MeetingRecord] | None = Field(None, max_length=1000)
    processes: list[ProcessRun] | None = Field(None, max_length=200)
    online_completions: dict[str, int] | None = None
    offline_sessions: list[OfflineSession] | None = Field(None, max_length=500)
    cases: list[CaseDescription] | None = Field(None, max_length=100)
    activities: list[LeadershipActivity] | None = Field(None, max_length=100)


class NotApplicable(_Part):
    indicator_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=1000)


# Which part of IndicatorResult carries each indicator's results.
PART_OF = {
    "committee-openness": ("committees",),
    "committee-meetings": ("meeting_records",),
    "governance-process": ("processes",),
    "governance-education": ("online_completions", "offline_sessions"),
    "governance-case": ("cases",),
    "governance-leadership": ("activities",),
}
PARTS = {p for parts in PART_OF.values() for p in parts}


def check_report(rulebook: Rulebook, results: list[IndicatorResult],
                 not_applicable: list[NotApplicable]) -> None:
    """Raise the first rule the report breaks, in words an institution understands."""
    ids = [r.indicator_id for r in results] + [n.indicator_id for n in not_applicable]
    if not ids:
        raise RuleBroken("the report has no indicator: submit results or mark "
                         "indicators not applicable with a reason")
    for indicator_id in ids:
        if rulebook.indicator(indicator_id) is None:
            raise UnknownIndicator(f"indicator {indicator_id!r} is not in rulebook "
                                   f"{rulebook.ref}; known: {', '.join(rulebook.indicator_ids)}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise RuleBroken(f"indicator(s) {', '.join(repeated)} appear more than once "
                         "(a result and a not-applicable mark exclude each other)")
    for result in results:
        _check_result(rulebook, result)


def _check_result(rulebook: Rulebook, result: IndicatorResult) -> None:
    rule = rulebook.indicator(result.indicator_id)
    own = PART_OF.get(rule.id, ())
    filled = {p for p in PARTS if getattr(result, p)}  # an empty list reports nothing
    foreign = sorted({p for p in PARTS if getattr(result, p) is not None} - set(own))
    if foreign:
        raise RuleBroken(f"{rule.id}: field(s) {', '.join(foreign)} do not belong to this "
                         f"indicator (it takes {', '.join(own)})")
    if not filled:
        raise RuleBroken(f"{rule.id}: no results given (fill {' or '.join(own)}, or mark "
                         "it not applicable with a reason)")
    for part, cap in rule.caps.items():
        count = len(getattr(result, part) or ())
        if count > cap:
            raise RuleBroken(f"{rule.id}: {count} {part.replace('_', ' ')} submitted; "
                             f"rulebook {rulebook.ref} allows at most {cap}")
    for process in result.processes or ():
        if process.type not in rule.process_types:
            raise RuleBroken(f"{rule.id}: process type {process.type!r} is not one of "
                             f"{', '.join(rule.process_types)}")
    for course in (result.online_completions or {}):
        if course not in rule.online_courses:
            raise RuleBroken(f"{rule.id}: online course {course!r} is not one of "
                             f"{', '.join(rule.online_courses)}")
    if any(n < 0 for n in (result.online_completions or {}).values()):
        raise RuleBroken(f"{rule.id}: completion counts cannot be negative")
