"""Kafka clients configured the one way this project uses them."""
from __future__ import annotations

from aiokafka import AIOKafkaProducer

from .deadletter import Delivery


def reliable_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: an acknowledged record is durable and not doubled
    by the producer's own retries; order per partition is kept."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=client_id,
                            acks="all", enable_idempotence=True, linger_ms=2,
                            max_batch_size=1 << 20, request_timeout_ms=30000)


def producer_send(producer: AIOKafkaProducer):
    """Adapt a producer to DeadLetters' send(topic, value, key, headers)."""
    async def send(topic: str, value: bytes, key: bytes | None,
                   headers: list[tuple[str, bytes]]) -> None:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    return send


def delivery_of(record) -> Delivery:  # aiokafka ConsumerRecord
    return Delivery(record.topic, record.partition, record.offset, record.key,
                    record.value, tuple(record.headers or ()))


async def partitions_of(bootstrap: str, topics: tuple[str, ...] | list[str]) -> list:
    """Every TopicPartition of the given topics; a missing topic is an error."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    parts = []
    for topic in described:
        if topic.get("error_code") or not topic.get("partitions"):
            raise LookupError(f"topic {topic.get('topic')!r} does not exist (create it first)")
        parts += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return sorted(parts)
