"""Entry point of the submission service: `hyeopchi run submission`."""
from __future__ import annotations

from pydantic import Field

from shared import runtime
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import events_topic

from .adapters import read_model
from .adapters.http_api import build_api
from .adapters.kafka_commands import apply_command, decode_command
from .app.handlers import SubmissionHandlers
from .app.tables import write_side

NAME = "submission"


def handlers_for(_service=None) -> SubmissionHandlers:
    return SubmissionHandlers(EventStore(NAME, events_topic(NAME).name))


def spec() -> runtime.ServiceSpec:
    return runtime.command_service(NAME, handlers_for, decode_command, apply_command,
                                   read_model, build_api, write_side)


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8101
    rulebook_dir: str = Field("", description="Folder of rulebook JSON files "
                              "(`<year>.json`, `<year>-v<n>.json`); empty = the rulebooks "
                              "shipped in services/submission/rulebooks/.")


def main() -> None:
    runtime.main(spec(), Settings())


if __name__ == "__main__":
    main()
