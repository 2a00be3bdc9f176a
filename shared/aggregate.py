"""Aggregates as pure functions of their events (no I/O), with an explicit version."""
from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Generic, TypeVar

from .registry import DomainEvent

S = TypeVar("S")


class Aggregate(Generic[S]):
    """Folds events into state. Subclasses give `initial()` and `evolve(state, event)`;
    commands are plain methods that return new events and never mutate."""

    # False for a log whose state is its length: loading it reads only its head
    # (`at_version`), however long it grows.
    needs_history: ClassVar[bool] = True

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

    @classmethod
    def at_version(cls, stream_id: str, version: int) -> "Aggregate[S]":
        """The aggregate at `version` without its events: only for a `needs_history`
        False kind, whose state follows from its version alone."""
        raise TypeError(f"{cls.__name__} needs its events to be loaded")


class Log(Aggregate[int]):
    """An append-only log of reports (its state: how many it holds). Its history
    never decides anything, so a unit of work loads only its head."""

    needs_history = False

    def initial(self) -> int:
        return 0

    def evolve(self, state: int, event: DomainEvent) -> int:
        return state + 1

    @classmethod
    def at_version(cls, stream_id: str, version: int) -> "Log":
        log = cls(stream_id)
        log.version = log.state = version
        return log
