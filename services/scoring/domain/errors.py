"""Refusals of the scoring domain, each naming the rule."""
from shared.refusal import Refusal


class ScoringRefused(Refusal):
    """Base of this service's refusals."""


class NotAssigned(ScoringRefused):
    kind, category = "expert-not-assigned", "forbidden"


class Conflicted(ScoringRefused):
    kind, category = "conflict-of-interest", "forbidden"


class OutOfRange(ScoringRefused):
    kind = "score-out-of-range"


class SignedOff(ScoringRefused):
    kind, category = "signed-off", "conflict"


class InvalidState(ScoringRefused):
    kind, category = "invalid-state", "conflict"


class UnknownTarget(ScoringRefused):
    kind, category = "unknown", "not-found"
