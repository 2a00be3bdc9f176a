"""Refusals of the committee domain, each naming the rule."""


class CommitteeRefused(Exception):
    kind = "refused"
    status = 422

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


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
