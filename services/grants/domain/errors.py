"""Refusals of the grants domain, each naming the rule."""
from shared.refusal import Refusal


class GrantRefused(Refusal):
    """Base of this service's refusals."""


class RoundClosed(GrantRefused):
    kind, status = "round-closed", 409


class OverCap(GrantRefused):
    kind = "over-cap"


class OverBudget(GrantRefused):
    kind, status = "over-budget", 409


class NotSelected(GrantRefused):
    kind, status = "not-selected", 409


class UnknownTarget(GrantRefused):
    kind, status = "unknown", 404


class Conflicted(GrantRefused):
    kind, status = "conflict-of-interest", 403


class InvalidState(GrantRefused):
    kind, status = "invalid-state", 409
