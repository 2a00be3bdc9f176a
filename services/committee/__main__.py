"""Entry point of the committee service: `hyeopchi run committee`."""
from __future__ import annotations

import sys

from shared import runtime
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import events_topic

from .adapters import read_model
from .adapters.http_api import build_api
from .adapters.kafka_commands import apply_command, decode_command
from .app import keys
from .app.handlers import CommitteeHandlers
from .app.personal import write_side

NAME = "committee"


def handlers_for(_service=None) -> CommitteeHandlers:
    return CommitteeHandlers(EventStore(NAME, events_topic(NAME).name))


def spec() -> runtime.ServiceSpec:
    found = runtime.command_service(NAME, handlers_for, decode_command, apply_command,
                                    read_model, build_api, write_side)
    found.on_start = keys.wrap_plain_keys  # no KEK, no start; plain keys get wrapped
    return found


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8103


def main() -> None:
    settings = Settings()
    try:  # fail before anything starts, in one line an operator can act on
        keys.load(settings.personal_data_kek_file)
    except keys.KekUnavailable as error:
        sys.exit(f"committee: refusing to start: {error}")
    runtime.main(spec(), settings)


if __name__ == "__main__":
    main()
