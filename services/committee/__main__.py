"""Entry point of the committee service: `hyeopchi run committee`."""
from __future__ import annotations

from shared import runtime
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import events_topic

from .adapters import read_model
from .adapters.http_api import build_api
from .adapters.kafka_commands import apply_command, decode_command
from .app.handlers import CommitteeHandlers
from .app.personal import write_side

NAME = "committee"


def handlers_for(_service=None) -> CommitteeHandlers:
    return CommitteeHandlers(EventStore(NAME, events_topic(NAME).name))


def spec() -> runtime.ServiceSpec:
    return runtime.command_service(NAME, handlers_for, decode_command, apply_command,
                                   read_model, build_api, write_side)


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8103


def main() -> None:
    runtime.main(spec(), Settings())


if __name__ == "__main__":
    main()
