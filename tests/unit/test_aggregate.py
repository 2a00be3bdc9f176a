"""Aggregate folding, with a tiny counter aggregate defined here."""
from __future__ import annotations

from shared.aggregate import Aggregate
from shared.registry import DomainEvent


class Added(DomainEvent):
    event_type = "test.Added"
    n: int


class Doubled(DomainEvent):
    event_type = "test.Doubled"


class Counter(Aggregate[tuple[int, ...]]):
    """State is the history of totals, so the fold order is visible."""

    def initial(self) -> tuple[int, ...]:
        return (0,)

    def evolve(self, state, event):
        last = state[-1]
        return state + ((last + event.n) if isinstance(event, Added) else last * 2,)


def test_new_aggregate_has_no_version_and_does_not_exist():
    counter = Counter("c-1")
    assert counter.stream_id == "c-1"
    assert (counter.version, counter.exists, counter.state) == (0, False, (0,))


def test_each_event_counts_one_version():
    counter = Counter("c-1", [Added(n=5), Added(n=5), Added(n=5)])
    assert counter.version == 3
    assert counter.exists
    assert counter.state[-1] == 15


def test_evolve_folds_in_order():
    # (0 + 1) * 2 + 3 = 5, whereas 0 * 2 + 1 + 3 = 4 and (0 + 1 + 3) * 2 = 8
    assert Counter("c", [Added(n=1), Doubled(), Added(n=3)]).state == (0, 1, 2, 5)
    assert Counter("c", [Doubled(), Added(n=1), Added(n=3)]).state == (0, 0, 1, 4)


def test_events_can_be_any_iterable_consumed_once():
    counter = Counter("c", (Added(n=i) for i in range(1, 5)))
    assert (counter.version, counter.state[-1]) == (4, 10)
