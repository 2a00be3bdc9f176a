"""Commands from other city systems over Kafka (topic hyeopchi.submission.commands):
see shared/commands.py for what happens to valid, refused and malformed ones."""
from shared.commands import command_applier, command_decoder

from ..app.commands import CommandMessage
from ..app.handlers import SubmissionHandlers, SubmissionRefused
from ..domain.events import CommandRejected
from .access import POLICY

decode_command = command_decoder(CommandMessage)


def apply_command(handlers: SubmissionHandlers):
    return command_applier(handlers.execute, handlers.store, CommandRejected,
                           (SubmissionRefused,), POLICY)
