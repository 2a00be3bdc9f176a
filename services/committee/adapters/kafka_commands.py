"""Commands from other city systems over Kafka (topic hyeopchi.committee.commands):
see shared/commands.py for what happens to valid, refused and malformed ones."""
from shared.commands import command_applier, command_decoder

from ..app.commands import CommandMessage
from ..app.handlers import CommitteeHandlers, CommitteeRefused
from ..domain.events import CommandRejected
from .access import POLICY

decode_command = command_decoder(CommandMessage)


def apply_command(handlers: CommitteeHandlers):
    return command_applier(handlers.execute, handlers.store, CommandRejected,
                           (CommitteeRefused,), POLICY)
