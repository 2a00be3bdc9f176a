"""Commands from other city systems over Kafka (topic hyeopchi.submission.commands).

A message that is not a valid CommandMessage goes to the DLQ with the validation
errors. A valid command the domain refuses becomes a `CommandRejected` event (on
hyeopchi.submission.events, stream `command-<id>`) so the sender learns why.
Either way nothing of the command is stored, and a redelivered command id is a no-op.
"""
from __future__ import annotations

from shared.consumer import Decoded
from shared.deadletter import Delivery
from shared.envelope import UnencodableText
from shared.store import Metadata

from ..app.commands import CommandMessage
from ..app.handlers import SubmissionHandlers, SubmissionRefused
from ..domain.events import CommandRejected


def decode_command(delivery: Delivery) -> Decoded:
    if delivery.value is None:
        raise ValueError("empty record: a command needs a JSON body")
    message = CommandMessage.model_validate_json(delivery.value)
    return Decoded(message.command_id, message, message.correlation_id)


def command_applier(handlers: SubmissionHandlers):
    async def apply(conn, message: CommandMessage) -> None:
        correlation = message.correlation_id or message.command_id
        try:
            async with conn.begin_nested():  # a refusal rolls back to here
                await handlers.execute(conn, message.command, message.actor, correlation,
                                       causation_id=message.command_id)
        except (SubmissionRefused, UnencodableText) as refused:
            await _record_rejection(handlers, conn, message, correlation, refused)
    return apply


async def _record_rejection(handlers, conn, message: CommandMessage, correlation: str,
                            refused: Exception) -> None:
    kind = getattr(refused, "kind", "invalid-text")
    event = CommandRejected(command_id=message.command_id,
                            command_type=message.command.command_type,
                            refusal=kind, detail=str(refused))
    meta = Metadata(actor=message.actor, correlation_id=correlation,
                    causation_id=message.command_id)
    await handlers.store.append(conn, f"command-{message.command_id}", 0, [event], meta)
