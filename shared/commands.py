"""Commands from other city systems over Kafka, the same way for every service.

A record that is not a valid command message goes to the DLQ with the validation
errors; a valid command the domain refuses becomes the service's `CommandRejected`
event (stream `command-<id>`), so the sender learns why. Either way nothing of the
command is stored, and a redelivered command id is a no-op (the inbox).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .consumer import Decoded
from .deadletter import Delivery
from .envelope import Actor, UnencodableText
from .store import EventStore, Metadata

Execute = Callable[..., Awaitable[Any]]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    command_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    schema_version: Literal[1] = 1
    actor: Actor
    correlation_id: str | None = Field(None, max_length=100)


def command_message(name: str, command_union: Any) -> type[BaseModel]:
    """The message model of a command topic: id, version, actor, and the command."""
    return create_model(name, __base__=_Message, command=(command_union, ...))


def command_decoder(message_model: type[BaseModel]):
    def decode(delivery: Delivery) -> Decoded:
        if delivery.value is None:
            raise ValueError("empty record: a command needs a JSON body")
        message = message_model.model_validate_json(delivery.value)
        return Decoded(message.command_id, message, message.correlation_id)
    return decode


def command_applier(execute: Execute, store: EventStore, rejected: type,
                    refusals: tuple[type[Exception], ...]):
    """Run the command in the consumer's transaction; record a refusal as `rejected`."""
    async def apply(conn, message) -> None:
        correlation = message.correlation_id or message.command_id
        try:
            async with conn.begin_nested():  # a refusal rolls back to here
                await execute(conn, message.command, message.actor, correlation,
                              causation_id=message.command_id)
        except (*refusals, UnencodableText) as refused:
            event = rejected(command_id=message.command_id,
                             command_type=message.command.command_type,
                             refusal=getattr(refused, "kind", "invalid-text"),
                             detail=str(refused))
            meta = Metadata(actor=message.actor, correlation_id=correlation,
                            causation_id=message.command_id)
            await store.append(conn, f"command-{message.command_id}", 0, [event], meta)
    return apply
