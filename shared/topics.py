"""Kafka topics: named, documented, created explicitly, kept forever.

Every topic keeps its records forever (`retention.ms=-1`, `cleanup.policy=delete`,
no compaction): the log *is* the audit trail that auditors replay.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

DEFAULT_PREFIX = "hyeopchi"


def prefix() -> str:
    """TOPIC_PREFIX separates deployments sharing one cluster (staging, tests)."""
    return os.environ.get("TOPIC_PREFIX", DEFAULT_PREFIX)
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class Topic:
    name: str
    carries: str
    partitions: int = 3


def events_topic(service: str) -> Topic:
    return Topic(f"{prefix()}.{service}.events",
                 f"facts recorded by the {service} service (envelopes, key = stream id)")


def commands_topic(service: str) -> Topic:
    return Topic(f"{prefix()}.{service}.commands",
                 f"commands other city systems send to the {service} service (JSON)")


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` parks what it cannot apply, with the reason."""
    return f"{topic}.dlq"


# replication -1: the broker's default.replication.factor (3 on a cluster, with its
# min.insync.replicas), so a service's topics survive the loss of a broker.
def ensure_topics(bootstrap: str, topics: list[Topic], replication: int = -1,
                  min_insync: int | None = None, security: dict | None = None) -> list[str]:
    """Create missing topics (and their dead-letter topics); return the names made.
    `security`: client keyword arguments (default: this process's client_security());
    a principal sees only the topics it may describe (see shared/kafka_security.py)."""
    from .kafka_io import client_security  # noqa: PLC0415 (kafka_io → deadletter → topics)
    config = dict(FOREVER)
    if min_insync:
        config["min.insync.replicas"] = str(min_insync)
    wanted = []
    for t in {t.name: t for t in topics}.values():  # one request may not name a topic twice
        wanted.append(NewTopic(t.name, t.partitions, replication, topic_configs=config))
        wanted.append(NewTopic(dead_letter_topic(t.name), 1, replication, topic_configs=config))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hyeopchi-admin",
                             **(client_security() if security is None else security))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another service created it meanwhile
        return [t.name for t in missing]
    finally:
        admin.close()
