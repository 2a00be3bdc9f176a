"""Dead letters: what a consumer cannot apply is parked with its reason, never dropped."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .ids import utcnow
from .telemetry import DEAD_LETTERS
from .topics import dead_letter_topic

Send = Callable[[str, bytes, bytes | None, list[tuple[str, bytes]]], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """One record as it came off the broker: exactly what a DLQ entry preserves."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)
    timestamp_ms: int | None = None  # when the producer sent it (broker's record time)


class DeadLetters:
    """Publishes the original bytes and headers plus `x-dlq-*` headers saying why."""

    def __init__(self, consumer: str, send: Send):
        self.consumer = consumer
        self._send = send

    async def park(self, delivery: Delivery, reason: str) -> None:
        headers = [h for h in delivery.headers if not h[0].startswith("x-dlq-")] + [
            ("x-dlq-reason", reason[:4000].encode()),
            ("x-dlq-consumer", self.consumer.encode()),
            ("x-dlq-original-topic", delivery.topic.encode()),
            ("x-dlq-original-partition", str(delivery.partition).encode()),
            ("x-dlq-original-offset", str(delivery.offset).encode()),
            ("x-dlq-at", utcnow().isoformat().encode()),
        ]
        await self._send(dead_letter_topic(delivery.topic), delivery.value or b"",
                         delivery.key, headers)
        DEAD_LETTERS.labels(self.consumer).inc()


def header(headers: tuple[tuple[str, bytes], ...] | list, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None
