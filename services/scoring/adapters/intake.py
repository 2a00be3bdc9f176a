"""Intake: submission and committee events, and external city systems' facts, decoded
and handed to the application's policies (app/policies.py).

Each runs in the consumer's transaction with its inbox row: a redelivered message
changes nothing, and a score is recomputed in the same commit that learned the fact.
A fetched batch is one unit of work (`Reactions`): the streams its policies read are
loaded in one query, each fact recorded on behalf of its own sender, and everything
written in one insert at the end.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import TypeAdapter

from shared.application import Application, UnitOfWork
from shared.auth import Principal
from shared.consumer import Decoded, EventMessage
from shared.deadletter import Delivery

from ..app.scoring import SYSTEM, city_system
from .ingress_contract import ExternalMessage

EXTERNAL = TypeAdapter(ExternalMessage)


def on_service_event(app: Application):
    """Another service's event (submission, committee): scoring reacts as itself."""
    async def apply(conn, msg: EventMessage) -> None:
        if msg.event is None:
            return  # an event type scoring has no contract for
        env = msg.envelope
        uow = app.unit_of_work(conn, SYSTEM, env.correlation_id, env.event_id)
        await app.react(msg.event, uow)
        await uow.commit()
    return apply


Sender = Callable[[Any], tuple[Principal, str, str] | None]  # message → who, why


class Reactions:
    """One fetched batch of facts as one unit of work (the consumer's BatchApply)."""

    def __init__(self, app: Application, conn, sender: Sender, fact: Callable[[Any], Any]):
        self.app, self.conn, self.sender, self.fact = app, conn, sender, fact
        self.uow: UnitOfWork | None = None

    async def start(self, messages: Sequence[Any]) -> None:
        self.uow = self.app.unit_of_work(self.conn, SYSTEM, "")
        if self.app.prepare:
            await self.app.prepare([self.fact(m) for m in messages], self.uow)

    async def apply(self, message: Any) -> None:
        who = self.sender(message)
        if who is None:
            return  # an event type scoring has no contract for
        self.uow.on_behalf(*who)
        await self.app.react(self.fact(message), self.uow)

    async def finish(self) -> None:
        await self.uow.commit()


def _service_sender(msg: EventMessage):
    env = msg.envelope
    return None if msg.event is None else (SYSTEM, env.correlation_id, env.event_id)


def _external_sender(msg):
    return city_system(msg.source), msg.event_id, msg.event_id


def service_events_batch(app: Application):
    return lambda conn: Reactions(app, conn, _service_sender, lambda m: m.event)


def external_events_batch(app: Application):
    return lambda conn: Reactions(app, conn, _external_sender, lambda m: m)


def decode_external(delivery: Delivery) -> Decoded:
    if delivery.value is None:
        raise ValueError("empty record: an external event needs a JSON body")
    message = EXTERNAL.validate_json(delivery.value)
    return Decoded(f"ext:{message.source}:{message.event_id}", message)


def on_external_event(app: Application):
    """An external system's fact: recorded with that system as its actor."""
    async def apply(conn, msg) -> None:
        uow = app.unit_of_work(conn, city_system(msg.source), msg.event_id, msg.event_id)
        await app.react(msg, uow)
        await uow.commit()
    return apply
