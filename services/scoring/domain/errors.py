"""Refusals of the scoring domain, each naming the rule."""
from shared.refusal import Refusal


class ScoringRefused(Refusal):
    """Base of this service's refusals."""


class NotAssigned(ScoringRefused):
    kind, status = "expert-not-assigned", 403


class Conflicted(ScoringRefused):
    kind, status = "conflict-of-interest", 403


class OutOfRange(ScoringRefused):
    kind = "score-out-of-range"


class SignedOff(ScoringRefused):
    kind, status = "signed-off", 409


class InvalidState(ScoringRefused):
    kind, status = "invalid-state", 409


class UnknownTarget(ScoringRefused):
    kind, status = "unknown", 404
