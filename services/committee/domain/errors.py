"""Refusals of the committee domain, each naming the rule."""
from shared.refusal import Refusal


class CommitteeRefused(Refusal):
    """Base of this service's refusals."""


class UnknownCommittee(CommitteeRefused):
    kind, category = "unknown-committee", "not-found"


class UnknownMeeting(CommitteeRefused):
    kind, category = "unknown-meeting", "not-found"


class NotAMember(CommitteeRefused):
    kind = "not-a-member"


class YouthQuotaBreached(CommitteeRefused):
    kind, category = "youth-quota", "conflict"


class InvalidMeeting(CommitteeRefused):
    kind = "invalid-meeting"


class InvalidState(CommitteeRefused):
    kind, category = "invalid-state", "conflict"


class UnknownMember(CommitteeRefused):
    kind, category = "unknown-member", "not-found"


class DepositRefused(CommitteeRefused):
    """An appointment's personal-data reference that cannot be used."""
    kind = "unknown-deposit"
