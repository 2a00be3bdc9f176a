"""Refusals of the grants domain, each naming the rule."""
from shared.refusal import Refusal


class GrantRefused(Refusal):
    """Base of this service's refusals."""


class RoundClosed(GrantRefused):
    kind, category = "round-closed", "conflict"


class OverCap(GrantRefused):
    kind = "over-cap"


class OverBudget(GrantRefused):
    kind, category = "over-budget", "conflict"


class NotSelected(GrantRefused):
    kind, category = "not-selected", "conflict"


class UnknownTarget(GrantRefused):
    kind, category = "unknown", "not-found"


class Conflicted(GrantRefused):
    kind, category = "conflict-of-interest", "forbidden"


class InvalidState(GrantRefused):
    kind, category = "invalid-state", "conflict"
