"""Entry point of the committee service: `hyeopchi run committee`."""
from __future__ import annotations

import dataclasses
import sys

from shared import runtime
from shared.application import Application, Repository
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import events_topic

from .adapters import read_model
from .adapters.access import POLICY
from .adapters.http_api import build_api
from .adapters.migrations import VERSIONS
from .adapters.kafka_commands import decode_command
from .adapters.personal_data import SqlPersonalData
from .app import keys
from .app.handlers import handlers
from .app.personal import write_side
from .domain.errors import CommitteeRefused
from .domain.events import CommandRejected, registry

NAME = "committee"


def application() -> Application:
    store = EventStore(NAME, events_topic(NAME).name)
    return Application(Repository(store, registry), handlers(SqlPersonalData()), POLICY)


def spec() -> runtime.ServiceSpec:
    found = runtime.command_service(
        NAME, application=application, decode_command=decode_command,
        rejected=CommandRejected, refusals=(CommitteeRefused,), read_model=read_model,
        build_api=build_api, write_side=write_side, migrations=VERSIONS)
    # No KEK, no start; plain keys of an older database get wrapped first.
    return dataclasses.replace(found, on_start=keys.wrap_plain_keys)


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8103


def main() -> None:
    settings = Settings()
    try:  # fail before anything starts, in one line an operator can act on
        keys.load(settings.personal_data_kek_file)
    except keys.KekUnavailable as error:
        sys.exit(f"committee: refusing to start: {error}")
    runtime.main(spec, settings)


if __name__ == "__main__":
    main()
