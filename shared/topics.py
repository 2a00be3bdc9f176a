"""Kafka topics: named, documented, created explicitly, each kind with its retention.

- **events** topics are the audit trail auditors replay: kept forever
  (`retention.ms=-1`, `cleanup.policy=delete`, no compaction).
- **input** topics (commands from other city systems, ingress facts) are not
  evidence: what they carry is recorded as events once applied. They hold bearer
  tokens and raw input, so they keep a record for COMMANDS_RETENTION_MS only (7 days),
  and their time is the broker's (`message.timestamp.type=LogAppendTime`): a token
  is judged at the moment the broker appended the record, not a time the sender chose.
- **dead-letter** topics (`<topic>.dlq`) keep a parked record for
  DEAD_LETTER_RETENTION_MS (30 days): long enough to mend and re-drive, not forever.

These settings are made when a topic is created and checked at every start
(`ensure_topics`): a topic whose settings drifted is set right where the principal
may, or the service refuses to start, saying which setting of which topic is wrong.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from .settings import ServiceSettings

DEFAULT_PREFIX: str = ServiceSettings.model_fields["topic_prefix"].default
Kind = Literal["events", "input"]


_PREFIX: ContextVar[str | None] = ContextVar("topic_prefix", default=None)
_process_prefix = DEFAULT_PREFIX


def use_prefix(name: str) -> None:
    """This process's prefix, from its settings (ServiceSettings.topic_prefix, env
    TOPIC_PREFIX): set once at start, before anything names a topic."""
    global _process_prefix
    _process_prefix = name


def prefix() -> str:
    """The prefix separates deployments sharing one cluster (staging, tests); a tool
    naming another deployment's topics says so with `prefixed`."""
    return _PREFIX.get() or _process_prefix


@contextmanager
def prefixed(name: str | None) -> Iterator[None]:
    """Topic names (and the specs built meanwhile) under `name`; None: the process's."""
    token = _PREFIX.set(name)
    try:
        yield
    finally:
        _PREFIX.reset(token)


FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class Topic:
    name: str
    carries: str
    partitions: int = 3
    kind: Kind = "events"


@dataclass(frozen=True)
class Retention:
    """How long input and dead-letter topics keep a record (events: forever)."""

    input_ms: int = 7 * 86_400_000
    dead_letter_ms: int = 30 * 86_400_000

    @classmethod
    def configured(cls) -> Retention:
        s = ServiceSettings()
        return cls(s.commands_retention_ms, s.dead_letter_retention_ms)

    def of(self, kind: Kind | Literal["dead-letter"]) -> dict[str, str]:
        if kind == "events":
            return dict(FOREVER)
        keep = self.input_ms if kind == "input" else self.dead_letter_ms
        return {"retention.ms": str(keep), "retention.bytes": "-1",
                "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"}


def events_topic(service: str) -> Topic:
    return Topic(f"{prefix()}.{service}.events",
                 f"facts recorded by the {service} service (envelopes, key = stream id)")


def commands_topic(service: str) -> Topic:
    return Topic(f"{prefix()}.{service}.commands",
                 f"commands other city systems send to the {service} service (JSON)",
                 kind="input")


def ingress_topic(system: str, carries: str) -> Topic:
    """Facts another city system reports (`<prefix>.ingress.<system>`)."""
    return Topic(f"{prefix()}.ingress.{system}", carries, kind="input")


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` parks what it cannot apply, with the reason."""
    return f"{topic}.dlq"


class TopicSettingsDrift(RuntimeError):
    """A topic's retention or time settings differ from its kind's and may not be fixed
    by this principal: the operator (admin) must set them."""


def wanted_configs(topics: list[Topic],
                   retention: Retention | None = None) -> dict[str, tuple[int, dict]]:
    """Topic name → (partitions, settings), dead-letter topics included; the first
    mention of a name wins (a service's own topic before the same name consumed)."""
    retention = retention or Retention.configured()
    wanted: dict[str, tuple[int, dict]] = {}
    for t in topics:
        wanted.setdefault(t.name, (t.partitions, retention.of(t.kind)))
        wanted.setdefault(dead_letter_topic(t.name), (1, retention.of("dead-letter")))
    return wanted


# replication -1: the broker's default.replication.factor (3 on a cluster, with its
# min.insync.replicas), so a service's topics survive the loss of a broker.
def ensure_topics(bootstrap: str, topics: list[Topic], replication: int = -1,
                  min_insync: int | None = None, security: dict | None = None,
                  retention: Retention | None = None) -> list[str]:
    """Create missing topics (and their dead-letter topics) and check the settings of
    the others; return the names made. `security`: client keyword arguments (default:
    this process's client_security()); a principal sees only the topics it may describe
    (see tools/kafka_security.py)."""
    from .kafka_io import kafka_admin  # noqa: PLC0415 (kafka_io → deadletter → topics)
    wanted = wanted_configs(topics, retention)
    with kafka_admin(bootstrap, security) as admin:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, parts, replication, topic_configs={
            **config, **({"min.insync.replicas": str(min_insync)} if min_insync else {})})
            for name, (parts, config) in wanted.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another service created it meanwhile
        made = {t.name for t in missing}
        _set_right(admin, {n: c for n, (_, c) in wanted.items() if n not in made})
        return sorted(made)


def _set_right(admin: KafkaAdminClient, wanted: dict[str, dict]) -> None:
    drift = topic_drift(admin, wanted)
    if not drift:
        return
    try:
        answer = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name,
                                                     configs=dict(changes))
                                      for name, changes in drift.items()])
    except Exception as error:  # noqa: BLE001 (no ALTER_CONFIGS right, old broker…)
        raise TopicSettingsDrift(_drift_text(drift, error)) from error
    failed = {n: e for r in answer.values() for n, e in r.items()
              if getattr(e, "errno", 0)}
    if failed:
        raise TopicSettingsDrift(_drift_text(drift, failed))


def topic_drift(admin: KafkaAdminClient, wanted: dict[str, dict]) -> dict[str, dict]:
    """Topic → {setting: wanted value} where the broker's value differs."""
    if not wanted:
        return {}
    found = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=None) for name in wanted],
        config_filter="all")
    actual = {name: {k: v.get("value") if isinstance(v, dict) else v
                     for k, v in configs.items()}
              for name, configs in found.get("topic", {}).items()}
    drift = {}
    for name, config in wanted.items():
        differs = {k: v for k, v in config.items() if actual.get(name, {}).get(k) != v}
        if differs:
            drift[name] = differs
    return drift


def _drift_text(drift: dict[str, dict], why) -> str:
    lines = "; ".join(f"{n}: {', '.join(f'{k}={v}' for k, v in c.items())}"
                      for n, c in sorted(drift.items()))
    return (f"topic settings differ from their kind's and could not be set ({why}); "
            f"an operator must set: {lines}")[:4000]
