"""Commands from other city systems over Kafka (topic hyeopchi.grants.commands):
see shared/commands.py for what happens to valid, refused and malformed ones."""
from shared.commands import command_decoder

from ..app.commands import CommandMessage

decode_command = command_decoder(CommandMessage)
