"""A fetched batch in one transaction (SQLite and PostgreSQL): one inbox query, one
inbox insert, one commit; a record that fails is taken alone and parked with its
reason while the others of its batch apply; duplicates and out-of-order records are
caught inside a batch as across batches."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from shared.consumer import ReliableHandler, envelope_decoder
from shared.db import Database
from shared.deadletter import DeadLetters, Delivery, header
from shared.envelope import GENESIS_HASH, seal
from shared.tables import backbone, inbox
from tests.conftest import BACKENDS
from tests.support import ledger
from tests.support.statements import statements

pytestmark = pytest.mark.integration
TOPIC = "hyeopchi.ledger.events"
T = datetime(2025, 3, 1, tzinfo=timezone.utc)


def chain(stream: str, amounts: list[int]) -> list[bytes]:
    """A stream's events, sealed and chained, as the relay would publish them."""
    out, head = [], GENESIS_HASH
    for version, amount in enumerate(amounts, start=1):
        env = seal({"event_id": f"{stream}-{version}", "event_type": "ledger.Deposited",
                    "schema_version": 2, "stream_id": stream, "stream_version": version,
                    "occurred_at": T, "recorded_at": T,
                    "actor": {"id": "clerk", "role": "teller"}, "correlation_id": "c",
                    "source": "ledger", "payload": {"amount": amount, "currency": "KRW"},
                    "prev_hash": head})
        head = env.hash
        out.append(env.to_json().encode())
    return out


def deliveries(values: list[bytes | None], first: int = 0) -> list[Delivery]:
    return [Delivery(TOPIC, 0, first + i, b"k", v) for i, v in enumerate(values)]


class Parked:
    def __init__(self):
        self.reasons: list[str] = []

    async def __call__(self, topic, value, key, headers):
        self.reasons.append(header(headers, "x-dlq-reason"))


async def handler(url: str, apply=ledger.add_to_total) -> tuple[ReliableHandler, Parked]:
    db = Database(url, backbone, ledger.effects_md)
    await db.create_tables()
    parked = Parked()
    return ReliableHandler("ledger-totals", db, envelope_decoder(ledger.registry), apply,
                           DeadLetters("ledger-totals", parked)), parked


async def totals(db: Database) -> dict[str, int]:
    async with db.reading() as conn:
        rows = await conn.execute(select(ledger.totals))
        return {r.account: r.total for r in rows}


async def applied(db: Database) -> int:
    async with db.reading() as conn:
        return await conn.scalar(select(func.count()).select_from(ledger.applications))


@BACKENDS
async def test_a_batch_is_one_transaction_with_one_inbox_query(make_db_url):
    h, parked = await handler(make_db_url())
    records = [v for pair in zip(chain("acct-a", [1, 2, 3]), chain("acct-b", [10, 20, 30]))
               for v in pair]
    with statements(h.db) as ran:
        outcomes = await h.handle_batch(deliveries(records))
    seen = [s for s, _ in ran]
    assert outcomes == ["applied"] * 6
    assert await totals(h.db) == {"acct-a": 6, "acct-b": 60}
    inbox_reads = [s for s in seen if s.startswith("SELECT") and "FROM INBOX" in s]
    inbox_writes = [s for s in seen if s.startswith("INSERT INTO INBOX")]
    assert (len(inbox_reads), len(inbox_writes)) == (1, 1)
    assert sum(s.startswith("COMMIT") for s in seen) <= 1  # SQLAlchemy commits by API
    await h.db.dispose()


@BACKENDS
async def test_redelivered_and_repeated_records_apply_once(make_db_url):
    h, _ = await handler(make_db_url())
    a = chain("acct-a", [1, 2, 3])
    assert await h.handle_batch(deliveries(a[:2])) == ["applied", "applied"]
    # The whole stream again (a redelivery after a crash before the offset commit),
    # with its last record twice in the same batch (a republishing relay).
    assert await h.handle_batch(deliveries([*a, a[2]])) == [
        "duplicate", "duplicate", "applied", "duplicate"]
    assert await totals(h.db) == {"acct-a": 6}
    assert await applied(h.db) == 3
    await h.db.dispose()


@BACKENDS
async def test_a_failing_record_is_parked_alone_and_the_rest_of_its_batch_applies(
        make_db_url):
    async def refuse_seven(conn, message):
        if message.event.amount == 7:
            raise RuntimeError("seven is refused by this test's rule")
        await ledger.add_to_total(conn, message)
    h, parked = await handler(make_db_url(), refuse_seven)
    good = chain("acct-a", [1, 2])
    bad = chain("acct-b", [7])
    outcomes = await h.handle_batch(deliveries([good[0], bad[0], b"\xffnot json", good[1]]))
    assert outcomes == ["applied", "dead-lettered", "dead-lettered", "applied"]
    assert await totals(h.db) == {"acct-a": 3}
    assert len(parked.reasons) == 2
    assert any("seven is refused" in r for r in parked.reasons)
    assert any(r.startswith("undecodable") for r in parked.reasons)
    async with h.db.reading() as conn:  # the parked one is not remembered as applied
        ids = set(await conn.scalars(select(inbox.c.event_id)))
    assert ids == {"acct-a-1", "acct-a-2"}
    await h.db.dispose()


@BACKENDS
async def test_a_gap_in_a_stream_is_refused_with_its_reason_inside_a_batch(make_db_url):
    h, parked = await handler(make_db_url())
    a = chain("acct-a", [1, 2, 3])
    b = chain("acct-b", [5])
    outcomes = await h.handle_batch(deliveries([a[0], a[2], b[0]]))
    assert outcomes == ["applied", "dead-lettered", "applied"]
    [why] = parked.reasons
    assert "acct-a" in why and "v3 after v1" in why and "earlier event is missing" in why
    assert await totals(h.db) == {"acct-a": 1, "acct-b": 5}
    # The missing event arrives later (v2); v3 needs redelivery from the DLQ.
    assert await h.handle_batch(deliveries([a[1]], first=10)) == ["applied"]
    assert await totals(h.db) == {"acct-a": 3, "acct-b": 5}
    await h.db.dispose()
