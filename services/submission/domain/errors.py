"""Refusals of the submission domain: each says exactly what is wrong."""
from shared.refusal import Refusal


class SubmissionRefused(Refusal):
    """Base of this service's refusals."""


class UnknownInstitution(SubmissionRefused):
    kind, category = "unknown-institution", "not-found"


class UnknownCycle(SubmissionRefused):
    kind, category = "unknown-cycle", "not-found"


class UnknownIndicator(SubmissionRefused):
    kind = "unknown-indicator"


class WrongYear(SubmissionRefused):
    kind = "wrong-year"


class RuleBroken(SubmissionRefused):
    kind = "rulebook-violation"


class DuplicateSubmission(SubmissionRefused):
    kind, category = "duplicate-submission", "conflict"


class DeadlinePassed(SubmissionRefused):
    kind, category = "deadline-passed", "conflict"


class InvalidState(SubmissionRefused):
    kind, category = "invalid-state", "conflict"
