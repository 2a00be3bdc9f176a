"""Refusals of the committee domain, each naming the rule."""
from shared.refusal import Refusal


class CommitteeRefused(Refusal):
    """Base of this service's refusals."""


class UnknownCommittee(CommitteeRefused):
    kind, status = "unknown-committee", 404


class UnknownMeeting(CommitteeRefused):
    kind, status = "unknown-meeting", 404


class NotAMember(CommitteeRefused):
    kind = "not-a-member"


class YouthQuotaBreached(CommitteeRefused):
    kind, status = "youth-quota", 409


class InvalidMeeting(CommitteeRefused):
    kind = "invalid-meeting"


class InvalidState(CommitteeRefused):
    kind, status = "invalid-state", 409


class UnknownMember(CommitteeRefused):
    kind, status = "unknown-member", 404


class DepositRefused(CommitteeRefused):
    """An appointment's personal-data reference that cannot be used."""
    status, kind = 422, "unknown-deposit"
