"""Aggregates as pure functions of their events (no I/O), with an explicit version."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from .registry import DomainEvent

S = TypeVar("S")


class Aggregate(Generic[S]):
    """Folds events into state. Subclasses give `initial()` and `evolve(state, event)`;
    commands are plain methods that return new events and never mutate."""

    def __init__(self, stream_id: str, events: Iterable[DomainEvent] = ()):
        self.stream_id = stream_id
        self.version = 0
        self.state: S = self.initial()
        for event in events:
            self.state = self.evolve(self.state, event)
            self.version += 1

    def initial(self) -> S:
        raise NotImplementedError

    def evolve(self, state: S, event: DomainEvent) -> S:
        raise NotImplementedError

    @property
    def exists(self) -> bool:
        return self.version > 0
