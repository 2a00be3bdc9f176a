"""Intake: submission and committee events, and external city systems' facts, decoded
and handed to the application's policies (app/policies.py).

Each runs in the consumer's transaction with its inbox row: a redelivered message
changes nothing, and a score is recomputed in the same commit that learned the fact.
"""
from __future__ import annotations

from pydantic import TypeAdapter

from shared.application import Application
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
