"""Refusals of the submission domain: each says exactly what is wrong."""


class SubmissionRefused(Exception):
    """Base: a command that must not change anything. `kind` names the rule."""

    kind = "refused"
    status = 422

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class UnknownInstitution(SubmissionRefused):
    kind, status = "unknown-institution", 404


class UnknownCycle(SubmissionRefused):
    kind, status = "unknown-cycle", 404


class UnknownIndicator(SubmissionRefused):
    kind = "unknown-indicator"


class WrongYear(SubmissionRefused):
    kind = "wrong-year"


class RuleBroken(SubmissionRefused):
    kind = "rulebook-violation"


class DuplicateSubmission(SubmissionRefused):
    kind, status = "duplicate-submission", 409


class DeadlinePassed(SubmissionRefused):
    kind, status = "deadline-passed", 409


class InvalidState(SubmissionRefused):
    kind, status = "invalid-state", 409
