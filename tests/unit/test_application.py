"""The shared application layer (shared/application.py) on an in-memory store: one
dispatch authorizes and runs the command's handler; a unit of work appends what its
handlers recorded together, with the versions they loaded; later handlers in the same
unit see earlier ones' events; a refusal or a lost race stores nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from pydantic import BaseModel

from shared.aggregate import Aggregate, Log
from shared.application import Application, Repository, StillConflicting, UnknownCommand
from shared.auth import Forbidden, Policy, Principal
from shared.refusal import Refusal
from shared.registry import DomainEvent, EventRegistry
from shared.store import ConcurrencyError
from tests.support.memory import InMemoryEvents, run, unit_of_work

registry = EventRegistry()


@registry.register
class Counted(DomainEvent):
    event_type = "test.Counted"
    by: int


class Limit(Refusal):
    kind = "over-limit"


class Counter(Aggregate[int]):
    def initial(self) -> int:
        return 0

    def evolve(self, state: int, event: DomainEvent) -> int:
        return state + event.by

    def count(self, by: int) -> list[DomainEvent]:
        if self.state + by > 10:
            raise Limit(f"{self.stream_id} would pass 10")
        return [Counted(by=by)]


class Count(BaseModel):
    command_type: Literal["Count"] = "Count"
    counter: str
    by: int


async def count(cmd: Count, uow) -> None:
    counter = await uow.get(Counter, cmd.counter)
    uow.record(counter, counter.count(cmd.by))


async def count_twice(cmd: Count, uow) -> None:
    await count(cmd, uow)
    await count(cmd, uow)


CLERK = Principal("clerk-1", "clerk")
POLICY = Policy(commands={"Count": frozenset({"clerk"}), "Twice": frozenset({"clerk"})})


@pytest.fixture
def events() -> InMemoryEvents:
    return InMemoryEvents("test")


@pytest.fixture
def app(events) -> Application:
    return Application(Repository(events, registry), {"Count": count}, POLICY)


async def test_a_command_is_dispatched_to_its_handler_and_its_events_appended(app, events):
    appended = await run(app, Count(counter="c1", by=3), CLERK, correlation_id="corr-1")
    assert [(e.event_type, e.stream_version, e.payload) for e in appended] == [
        ("test.Counted", 1, {"by": 3})]
    assert appended[0].actor.id == "clerk-1" and appended[0].correlation_id == "corr-1"
    await run(app, Count(counter="c1", by=4), CLERK)
    assert [e.payload["by"] for e in events.streams["c1"]] == [3, 4]
    assert events.streams["c1"][1].prev_hash == events.streams["c1"][0].hash


async def test_the_policy_is_checked_before_the_handler_runs(app, events):
    with pytest.raises(Forbidden):
        await run(app, Count(counter="c1", by=1), Principal("someone", "auditor"))
    assert events.streams == {}


async def test_a_refusal_stores_nothing(app, events):
    await run(app, Count(counter="c1", by=9), CLERK)
    with pytest.raises(Limit):
        await run(app, Count(counter="c1", by=2), CLERK)
    assert [e.payload["by"] for e in events.streams["c1"]] == [9]


async def test_later_handlers_in_one_unit_of_work_see_earlier_events(app, events):
    uow = unit_of_work(app, CLERK)
    for by in (2, 3, 4):
        await app.dispatch(Count(counter="c1", by=by), uow)
    await app.dispatch(Count(counter="c2", by=1), uow)
    with pytest.raises(Limit):  # 2 + 3 + 4 + 2 > 10: the pending events count
        await app.dispatch(Count(counter="c1", by=2), uow)
    assert events.streams == {}, "nothing is written before commit"
    appended = await uow.commit()
    assert [(e.stream_id, e.stream_version) for e in appended] == [
        ("c1", 1), ("c1", 2), ("c1", 3), ("c2", 1)]


async def test_a_concurrent_writer_makes_the_commit_fail_whole(app, events):
    uow = unit_of_work(app, CLERK)
    await app.dispatch(Count(counter="c1", by=1), uow)
    await run(app, Count(counter="c1", by=5), CLERK)  # another writer, first
    with pytest.raises(ConcurrencyError):
        await uow.commit()
    assert [e.payload["by"] for e in events.streams["c1"]] == [5]


async def test_events_recorded_against_a_stale_copy_are_refused(app):
    uow = unit_of_work(app, CLERK)
    stale = await uow.get(Counter, "c1")
    uow.record(stale, stale.count(1))
    with pytest.raises(RuntimeError, match="stale"):
        uow.record(stale, stale.count(1))


async def test_an_unknown_command_type_is_a_programming_error(app):
    class Other(BaseModel):
        command_type: Literal["Other"] = "Other"
    with pytest.raises(UnknownCommand):
        await run(app, Other(), CLERK)


@dataclass
class CountingDb:
    """Transactions without a database (the store is in memory), counted."""
    attempts: int = 0

    def transaction(self):
        db = self

        class Tx:
            async def __aenter__(self):
                db.attempts += 1
                return object()

            async def __aexit__(self, *exc):
                return False
        return Tx()


async def test_execute_decides_again_after_a_lost_race_then_gives_up(events):
    losses = {"left": 2}

    async def racing(cmd, uow):
        if losses["left"]:
            losses["left"] -= 1
            raise ConcurrencyError(cmd.counter, 0, 1)
        await count(cmd, uow)
    app = Application(Repository(events, registry), {"Count": racing}, POLICY)
    db = CountingDb()
    appended = await app.execute(db, Count(counter="c1", by=1), CLERK, "corr")
    assert db.attempts == 3 and len(appended) == 1
    losses["left"] = 100
    with pytest.raises(StillConflicting):
        await app.execute(CountingDb(), Count(counter="c2", by=1), CLERK, "c")
    assert "c2" not in events.streams


async def test_flush_gives_ids_early_and_commit_writes_every_event_once(app, events):
    uow = unit_of_work(app, CLERK)
    await app.dispatch(Count(counter="c1", by=1), uow)
    flushed = await uow.flush()
    # Sealed (ids, versions, hashes) but not written: the store is untouched until commit.
    assert [e.stream_version for e in flushed] == [1] and events.types("c1") == []
    assert [e.event_id for e in uow.envelopes("c1")] == [flushed[0].event_id]
    await app.dispatch(Count(counter="c1", by=2), uow)
    appended = await uow.commit()
    assert [e.event_id for e in appended] == [e.event_id for e in events.streams["c1"]]
    assert appended[0].event_id == flushed[0].event_id
    assert appended[1].prev_hash == appended[0].hash


async def test_one_unit_carries_facts_on_behalf_of_each_sender(app, events):
    """A batch: each fact's events carry its own sender, correlation and causation,
    also when two facts extend the same stream; the chain runs through both."""
    await run(app, Count(counter="c1", by=1), CLERK)
    uow = unit_of_work(app, CLERK)
    await uow.preload(Counter, ["c1", "c2"])
    for who, corr, counter in (("hr-a", "m-1", "c1"), ("hr-b", "m-2", "c2"),
                               ("hr-c", "m-3", "c1")):
        uow.on_behalf(Principal(who, "city_system"), corr, corr)
        await count(Count(counter=counter, by=1), uow)
    appended = await uow.commit()
    assert [(e.stream_id, e.stream_version, e.actor.id, e.correlation_id, e.causation_id)
            for e in appended] == [("c1", 2, "hr-a", "m-1", "m-1"),
                                   ("c1", 3, "hr-c", "m-3", "m-3"),
                                   ("c2", 1, "hr-b", "m-2", "m-2")]
    chain = events.streams["c1"]
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]


async def test_a_stale_preload_stores_nothing_for_any_stream(app, events):
    uow = unit_of_work(app, CLERK)
    await uow.preload(Counter, ["c1", "c2"])
    await run(app, Count(counter="c2", by=1), CLERK)  # another writer moves c2 meanwhile
    await count(Count(counter="c1", by=1), uow)
    await count(Count(counter="c2", by=1), uow)
    with pytest.raises(ConcurrencyError):
        await uow.commit()
    assert "c1" not in events.streams and len(events.streams["c2"]) == 1

class Tally(Log):
    def tick(self) -> list[DomainEvent]:
        return [Counted(by=1)]


async def test_a_log_is_loaded_by_its_head_and_appended_to_in_chain(app, events):
    for _ in range(3):
        uow = unit_of_work(app, CLERK)
        log = await uow.get(Tally, "t1")
        uow.record(log, log.tick())
        await uow.commit()
    reads: list[str] = []
    events.read_stream = lambda conn, s: reads.append(s)  # a log's history is never read
    uow = unit_of_work(app, CLERK)
    log = await uow.get(Tally, "t1")
    assert (log.version, log.state, reads) == (3, 3, [])
    uow.record(log, log.tick())
    uow.record(again := await uow.get(Tally, "t1"), again.tick())
    await uow.commit()
    chain = events.streams["t1"]
    assert [e.stream_version for e in chain] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
