"""A toy ledger domain used only to test the backbone (not a hyeopchi service).

Run as a process so tests can kill it for real:
  python -m tests.support.ledger relay   --db URL --bootstrap B
  python -m tests.support.ledger consume --db URL --bootstrap B --topic T --group G --expect N
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from faststream.kafka import KafkaBroker
from sqlalchemy import (Column, Integer, MetaData, String, Table, func, insert, select,
                        update)
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.consumer import EventMessage, ReliableHandler, envelope_decoder
from shared.db import Database
from shared.deadletter import DeadLetters
from shared.envelope import Envelope
from shared.faststream_binding import broker_send, subscribe
from shared.outbox import OutboxRelay
from shared.projection import Projection
from shared.registry import DomainEvent, EventRegistry
from shared.tables import backbone, inbox

registry = EventRegistry()


@registry.register
class DepositedV1(DomainEvent):
    event_type = "ledger.Deposited"
    version = 1
    amount: int


@registry.register
class Deposited(DomainEvent):
    event_type = "ledger.Deposited"
    version = 2
    amount: int
    currency: str


@registry.upcaster("ledger.Deposited", from_version=1)
def _add_currency(payload: dict) -> dict:
    return {**payload, "currency": "KRW"}  # v1 predates currencies: all were won


# -- the consumer's effects: a running total that would double on a double apply --
effects_md = MetaData()
totals = Table("totals", effects_md, Column("account", String(100), primary_key=True),
               Column("total", Integer, nullable=False))
applications = Table("applications", effects_md,
                     Column("id", Integer, primary_key=True, autoincrement=True),
                     Column("event_id", String(36), nullable=False))


async def add_to_total(conn: AsyncConnection, message: EventMessage) -> None:
    account, amount = message.envelope.stream_id, message.event.amount
    changed = await conn.execute(update(totals).where(totals.c.account == account)
                                 .values(total=totals.c.total + amount))
    if changed.rowcount == 0:
        await conn.execute(insert(totals).values(account=account, total=amount))
    await conn.execute(insert(applications).values(event_id=message.envelope.event_id))


# -- a projection: balances per account --
class Balances(Projection):
    name = "balances"
    metadata = MetaData()
    table = Table("balances", metadata, Column("account", String(100), primary_key=True),
                  Column("total", Integer, nullable=False),
                  Column("deposits", Integer, nullable=False),
                  Column("last_event_id", String(36), nullable=False))
    registry = registry

    def __init__(self, topic: str):
        self.topics = (topic,)

    async def apply(self, conn, envelope: Envelope, event: DomainEvent) -> None:
        t = self.table
        changed = await conn.execute(update(t).where(t.c.account == envelope.stream_id)
                                     .values(total=t.c.total + event.amount,
                                             deposits=t.c.deposits + 1,
                                             last_event_id=envelope.event_id))
        if changed.rowcount == 0:
            await conn.execute(insert(t).values(account=envelope.stream_id,
                                                total=event.amount, deposits=1,
                                                last_event_id=envelope.event_id))


async def run_relay(db_url: str, bootstrap: str) -> dict:
    db = Database(db_url, backbone)
    relay = OutboxRelay(db, bootstrap, "ledger", batch_size=20)
    await relay.start()
    try:
        return {"published": await relay.drain()}
    finally:
        await relay.stop()
        await db.dispose()


async def run_consumer(db_url: str, bootstrap: str, topic: str, group: str,
                       expect: int, idle: float = 3.0, timeout: float = 90.0) -> dict:
    db = Database(db_url, backbone, effects_md)
    await db.create_tables()
    broker = KafkaBroker(bootstrap, client_id="ledger-consumer")
    handler = ReliableHandler("ledger-totals", db, envelope_decoder(registry), add_to_total,
                              DeadLetters("ledger-totals", broker_send(broker)))
    subscribe(broker, handler, topic, group_id=group)
    await broker.start()
    try:
        await _until_quiet(db, handler, expect, idle, timeout)
    finally:
        await broker.stop()
        await db.dispose()
    return handler.counts


async def _until_quiet(db, handler, expect, idle, timeout) -> None:
    """Wait until `expect` events are applied and nothing arrived for `idle` s."""
    loop = asyncio.get_running_loop()
    deadline, last, quiet_since = loop.time() + timeout, None, loop.time()
    while loop.time() < deadline:
        async with db.reading() as conn:
            done = await conn.scalar(select(func.count()).select_from(inbox))
        seen = sum(handler.counts.values())
        if seen != last:
            last, quiet_since = seen, loop.time()
        if done >= expect and loop.time() - quiet_since >= idle:
            return
        await asyncio.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["relay", "consume"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--expect", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "relay":
        result = asyncio.run(run_relay(args.db, args.bootstrap))
    else:
        result = asyncio.run(run_consumer(args.db, args.bootstrap, args.topic, args.group,
                                          args.expect))
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
