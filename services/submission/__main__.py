"""Entry point of the submission service: `hyeopchi run submission`."""
from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field

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
from .adapters.submission_ids import SqlSubmissionIds, write_side
from .app.handlers import Rulebooks, handlers
from .domain.errors import SubmissionRefused
from .domain.events import CommandRejected, registry
from .domain.rulebook import load_rulebook

NAME = "submission"


def rulebooks() -> Rulebooks:
    """The operators' rulebooks (the RULEBOOK_DIR setting), else the shipped ones."""
    directory = Settings().rulebook_dir
    return functools.partial(load_rulebook, directory=Path(directory)) if directory \
        else load_rulebook


def application() -> Application:
    store = EventStore(NAME, events_topic(NAME).name)
    return Application(Repository(store, registry),
                       handlers(SqlSubmissionIds(), rulebooks=rulebooks()), POLICY)


def spec() -> runtime.ServiceSpec:
    return runtime.command_service(
        NAME, application=application, decode_command=decode_command,
        rejected=CommandRejected, refusals=(SubmissionRefused,), read_model=read_model,
        build_api=functools.partial(build_api, rulebooks=rulebooks()),
        write_side=write_side, migrations=VERSIONS)


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8101
    rulebook_dir: str = Field("", description="Folder of rulebook JSON files "
                              "(`<year>.json`, `<year>-v<n>.json`); empty = the rulebooks "
                              "shipped in services/submission/rulebooks/.")


def main() -> None:
    runtime.main(spec, Settings())


if __name__ == "__main__":
    main()
