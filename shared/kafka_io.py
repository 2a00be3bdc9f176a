"""Kafka clients configured the one way this project uses them."""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import KafkaAdminClient

from .deadletter import Delivery
from .settings import ServiceSettings


def client_security(settings: ServiceSettings | None = None) -> dict[str, Any]:
    """How every Kafka client of this process authenticates: the keyword arguments
    aiokafka and kafka-python both take (same names), from KAFKA_SECURITY_PROTOCOL and
    KAFKA_SASL_* (the environment when no settings are given). {} for PLAINTEXT.
    The password is read from KAFKA_SASL_PASSWORD_FILE on each call (a rotated
    secret is picked up by the next client); it is never logged."""
    s = settings if settings is not None else ServiceSettings()
    if s.kafka_security_protocol == "PLAINTEXT":
        return {}
    if not (s.kafka_sasl_username and s.kafka_sasl_password_file):
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol} needs "
                         "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE")
    found = dict(security_protocol=s.kafka_security_protocol,
                 sasl_mechanism=s.kafka_sasl_mechanism,
                 sasl_plain_username=s.kafka_sasl_username,
                 sasl_plain_password=Path(s.kafka_sasl_password_file).read_text().strip())
    if s.kafka_security_protocol == "SASL_SSL":
        found["ssl_context"] = ssl.create_default_context(cafile=s.kafka_ssl_cafile or None)
    return found


def broker_security(settings: ServiceSettings | None = None):
    """client_security() for a FastStream KafkaBroker (`security=`); None for PLAINTEXT."""
    found = client_security(settings)
    if not found:
        return None
    from faststream.security import SASLPlaintext, SASLScram256, SASLScram512
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256,
            "PLAIN": SASLPlaintext}[found["sasl_mechanism"]]
    return kind(found["sasl_plain_username"], found["sasl_plain_password"],
                ssl_context=found.get("ssl_context"),
                use_ssl=found["security_protocol"] == "SASL_SSL")


@contextmanager
def kafka_admin(bootstrap: str, security: dict | None = None,
                client_id: str = "hyeopchi-admin") -> Iterator[KafkaAdminClient]:
    """The house's one admin client, kafka-python's (aiokafka's has no ACL or SCRAM
    API), closed on leaving. `security`: client keyword arguments (default: this
    process's client_security()). It blocks: async code uses `with_admin`."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id,
                             **(client_security() if security is None else security))
    try:
        yield admin
    finally:
        admin.close()


T = TypeVar("T")


async def with_admin(bootstrap: str, use: Callable[[KafkaAdminClient], T]) -> T:
    """`use(admin)` in a worker thread, so the event loop goes on meanwhile."""
    def run() -> T:
        with kafka_admin(bootstrap) as admin:
            return use(admin)
    return await asyncio.to_thread(run)


def reliable_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: an acknowledged record is durable and not doubled
    by the producer's own retries; order per partition is kept."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=client_id,
                            acks="all", enable_idempotence=True, linger_ms=0,
                            max_batch_size=1 << 20, request_timeout_ms=30000,
                            **client_security())


def producer_send(producer: AIOKafkaProducer):
    """Adapt a producer to DeadLetters' send(topic, value, key, headers)."""
    async def send(topic: str, value: bytes, key: bytes | None,
                   headers: list[tuple[str, bytes]]) -> None:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    return send


def delivery_of(record) -> Delivery:  # aiokafka ConsumerRecord
    return Delivery(record.topic, record.partition, record.offset, record.key,
                    record.value, tuple(record.headers or ()), record.timestamp,
                    record.timestamp_type)


async def partitions_of(bootstrap: str, topics: tuple[str, ...] | list[str]) -> list:
    """Every TopicPartition of the given topics; a missing topic is an error."""
    from aiokafka import TopicPartition
    from aiokafka.errors import TopicAuthorizationFailedError

    described = await with_admin(bootstrap, lambda admin: admin.describe_topics(list(topics)))
    parts = []
    for topic in described:  # kafka-python 3: name, partitions[].partition_index
        if topic["error_code"] == TopicAuthorizationFailedError.errno:
            raise TopicAuthorizationFailedError(topic["name"])  # secured: no READ/DESCRIBE
        if topic["error_code"] or not topic["partitions"]:
            raise LookupError(f"topic {topic['name']!r} does not exist (create it first)")
        parts += [TopicPartition(topic["name"], p["partition_index"])
                  for p in topic["partitions"]]
    return sorted(parts)


async def read_topic(bootstrap: str, topic: str, timeout: float = 10.0) -> list:
    """Every record of a topic from offset 0 to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest",
                                **client_security())
    await consumer.start()
    try:
        parts = await partitions_of(bootstrap, [topic])
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any([await consumer.position(tp) < end[tp] for tp in parts]):
            if loop.time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def existing_topics(bootstrap: str) -> set[str]:
    return set(await with_admin(bootstrap, KafkaAdminClient.list_topics))


async def group_lag(consumer: AIOKafkaConsumer | None) -> int | None:
    """Records not yet applied over a group consumer's assigned partitions, from the
    group's committed offsets (acknowledged only after the DB commit); None while it
    has no assignment (not started, or still joining its group)."""
    if consumer is None or not (parts := list(consumer.assignment())):
        return None
    ends = await consumer.end_offsets(parts)
    starts = await consumer.beginning_offsets(parts)
    done = dict(zip(parts, await asyncio.gather(*map(consumer.committed, parts))))
    return sum(ends[tp] - (done[tp] if done[tp] is not None else starts[tp])
               for tp in parts)
