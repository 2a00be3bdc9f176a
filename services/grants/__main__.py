"""Entry point of the grants service: `hyeopchi run grants`."""
from __future__ import annotations

from shared import runtime
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import commands_topic, events_topic

from .adapters import read_model
from .adapters.http_api import build_api
from .adapters.kafka_commands import apply_command, decode_command
from .app.handlers import GrantsHandlers, write_side

NAME = "grants"


def handlers_for(_service=None) -> GrantsHandlers:
    return GrantsHandlers(EventStore(NAME, events_topic(NAME).name))


def spec() -> runtime.ServiceSpec:
    commands = commands_topic(NAME)
    return runtime.ServiceSpec(
        name=NAME,
        owns=[events_topic(NAME), commands],
        metadatas=[write_side, read_model.metadata],
        consumers=[runtime.ConsumerSpec(
            name="commands", topics=(commands.name,), decoder=decode_command,
            apply=lambda svc: apply_command(handlers_for(svc)))],
        projections=[read_model.GrantsProjection],
        http=lambda svc: build_api(svc, handlers_for(svc)),
    )


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8104


def main() -> None:
    runtime.main(spec(), Settings())


if __name__ == "__main__":
    main()
