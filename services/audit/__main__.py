"""Entry point of the audit service: `hyeopchi run audit` (read side, deployed alone)."""
from __future__ import annotations

from shared import runtime
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import events_topic

from .adapters import timeline
from .adapters.http_api import build_api
from .adapters.migrations import VERSIONS

NAME = "audit"


def spec() -> runtime.ServiceSpec:
    store = EventStore(NAME, events_topic(NAME).name)
    return runtime.ServiceSpec(
        name=NAME,
        # The topics it follows are created if missing, so it may start first.
        owns=[events_topic(NAME), *[events_topic(s) for s in timeline.SERVICES]],
        migrations=VERSIONS,
        metadatas=[timeline.metadata],
        projections=[lambda: timeline.Timeline(store)],
        http=build_api,
    )


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8105


def main() -> None:
    runtime.main(spec, Settings())


if __name__ == "__main__":
    main()
