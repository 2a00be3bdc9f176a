"""Commands from other city systems over Kafka, the same way for every service.

A record that is not a valid command message goes to the DLQ with the validation
errors; a valid command the domain refuses becomes the service's `CommandRejected`
event (stream `command-<id>`), so the sender learns why. Either way nothing of the
command is stored, and a redelivered command id is a no-op (the inbox).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .consumer import Decoded
from .deadletter import Delivery
from .auth import Forbidden, Principal, verifier
from .envelope import UnencodableText
from .store import Metadata

class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    command_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    # v2: the sender is a signed SSO token (v1 carried a bare, unverifiable actor).
    schema_version: Literal[2] = 2
    token: str = Field(min_length=1, max_length=8192)
    correlation_id: str | None = Field(None, max_length=100)


@dataclass(frozen=True)
class AuthenticatedCommand:
    message: Any          # the validated command message
    principal: Principal  # who sent it, from its verified token


def command_message(name: str, command_union: Any) -> type[BaseModel]:
    """The message model of a command topic: id, version, token, and the command."""
    return create_model(name, __base__=_Message, command=(command_union, ...))


LOG_APPEND_TIME = 1  # Kafka's timestamp type: the broker's clock, not the producer's


@dataclass(frozen=True)
class Limits:
    """The trust boundary's bounds for a command record (shared/settings.py)."""

    max_bytes: int
    skew_s: int
    max_lifetime_s: int


@cache
def limits() -> Limits:
    from .settings import ServiceSettings  # noqa: PLC0415
    s = ServiceSettings()
    return Limits(s.max_body_bytes, s.token_clock_skew_s, s.command_token_max_lifetime_s)


def command_decoder(message_model: type[BaseModel]):
    """Validate the message and its token, judged at the moment the broker appended
    the record; anything wrong raises, and the record is dead-lettered with the reason.
    A record the broker did not stamp (a topic not on LogAppendTime) is refused: the
    producer's own timestamp would let an expired token through."""
    def decode(delivery: Delivery) -> Decoded:
        bounds = limits()
        if delivery.value is None:
            raise ValueError("empty record: a command needs a JSON body")
        if len(delivery.value) > bounds.max_bytes:
            raise ValueError(f"record of {len(delivery.value)} bytes is larger than the "
                             f"{bounds.max_bytes}-byte limit for a command")
        if delivery.timestamp_type != LOG_APPEND_TIME or not delivery.timestamp_ms:
            raise ValueError("the record carries no broker append time (the commands "
                             "topic must have message.timestamp.type=LogAppendTime): a "
                             "token is not judged by the sender's clock")
        message = message_model.model_validate_json(delivery.value)
        appended = datetime.fromtimestamp(delivery.timestamp_ms / 1000, UTC)
        who = verifier().verify(message.token, at=appended, skew_s=bounds.skew_s,
                                max_lifetime_s=bounds.max_lifetime_s)
        return Decoded(message.command_id, AuthenticatedCommand(message, who),
                       message.correlation_id)
    return decode


def command_applier(app: Any, rejected: type, refusals: tuple[type[Exception], ...]):
    """Dispatch the command through `app` (a shared.application.Application) in the
    consumer's transaction; record a refusal (the domain's, or the policy's
    `forbidden`) as `rejected`, so the sender learns why."""
    async def apply(conn, authenticated: AuthenticatedCommand) -> None:
        message, who = authenticated.message, authenticated.principal
        correlation = message.correlation_id or message.command_id
        try:
            async with conn.begin_nested():  # a refusal rolls back to here
                uow = app.unit_of_work(conn, who, correlation, message.command_id)
                await app.dispatch(message.command, uow)
                await uow.commit()
        except (*refusals, UnencodableText, Forbidden) as refused:
            event = rejected(command_id=message.command_id,
                             command_type=message.command.command_type,
                             refusal=getattr(refused, "kind", "invalid-text"),
                             detail=str(refused))
            meta = Metadata(actor=who.actor(), correlation_id=correlation,
                            causation_id=message.command_id)
            await app.repository.events.append(conn, f"command-{message.command_id}", 0,
                                               [event], meta)
    return apply
