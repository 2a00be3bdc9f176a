"""Refusals of the submission domain: each says exactly what is wrong."""
from shared.refusal import Refusal


class SubmissionRefused(Refusal):
    """Base of this service's refusals."""


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
