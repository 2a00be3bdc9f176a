"""Entry point of the scoring service: `hyeopchi run scoring`.

Scoring takes commands over HTTP only (no commands topic) and consumes other services'
events and external facts, so its spec is built here rather than by
`runtime.command_service`."""
from __future__ import annotations

import functools

from shared import runtime
from shared.application import Application, Repository
from shared.consumer import envelope_decoder
from shared.settings import ServiceSettings
from shared.store import EventStore
from shared.topics import Topic, events_topic, ingress_topic

from .adapters import intake, read_model
from .adapters.access import POLICY
from .adapters.committee_contract import committee_events
from .adapters.facts_store import SqlFacts, write_side
from .adapters.http_api import build_api
from .adapters.ingress_contract import ExternalMessage
from .adapters.migrations import VERSIONS
from .adapters.submission_contract import submission_events
from .app.handlers import handlers
from .app.policies import policies, preparation
from .domain.events import registry

NAME = "scoring"


def ingress_topics() -> list[Topic]:
    return [ingress_topic("hr", "headcounts from the HR system (JSON)"),
            ingress_topic("education",
                          "MOOC course completions from the education platform (JSON)")]


def application() -> Application:
    store, facts = EventStore(NAME, events_topic(NAME).name), SqlFacts()
    return Application(Repository(store, registry), handlers(facts), POLICY,
                       policies(facts), preparation(facts))


def spec() -> runtime.ServiceSpec:
    made = functools.cache(application)  # one per process: every edge shares it
    return runtime.ServiceSpec(
        name=NAME,
        owns=[events_topic(NAME), *ingress_topics()],
        migrations=VERSIONS,
        metadatas=[write_side, read_model.metadata],
        consumers=[
            runtime.ConsumerSpec(
                name="submission-facts", topics=(events_topic("submission").name,),
                decoder=envelope_decoder(submission_events, only_known=True),
                apply=lambda _svc: intake.on_service_event(made()),
                batch=lambda _svc: intake.service_events_batch(made())),
            runtime.ConsumerSpec(
                name="committee-facts", topics=(events_topic("committee").name,),
                decoder=envelope_decoder(committee_events, only_known=True),
                apply=lambda _svc: intake.on_service_event(made()),
                batch=lambda _svc: intake.service_events_batch(made())),
            runtime.ConsumerSpec(
                name="external-facts", topics=tuple(t.name for t in ingress_topics()),
                decoder=intake.decode_external, message=ExternalMessage,
                apply=lambda _svc: intake.on_external_event(made()),
                batch=lambda _svc: intake.external_events_batch(made())),
        ],
        projections=[read_model.ScorecardProjection],
        http=lambda svc: build_api(svc, made()),
    )


class Settings(ServiceSettings):
    service_name: str = NAME
    http_port: int = 8102


def main() -> None:
    runtime.main(spec, Settings())


if __name__ == "__main__":
    main()
