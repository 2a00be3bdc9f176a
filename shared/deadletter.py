"""Dead letters: what a consumer cannot apply is parked with its reason, never dropped."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .ids import utcnow
from .reasons import reason as reason_of, scrub
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
    timestamp_ms: int | None = None  # the record's time (see timestamp_type)
    timestamp_type: int | None = None  # 0: the producer's CreateTime, 1: the broker's LogAppendTime


class DeadLetters:
    """Publishes the original bytes and headers plus `x-dlq-*` headers saying why."""

    def __init__(self, consumer: str, send: Send):
        self.consumer = consumer
        self._send = send

    async def park(self, delivery: Delivery, reason: str | BaseException) -> None:
        """`reason`: words built with shared.reasons.reason(), or the error itself;
        either way no value of the record is repeated in the header."""
        why = reason_of(reason) if isinstance(reason, BaseException) else scrub(reason)
        original = [h for h in delivery.headers if not h[0].startswith("x-dlq-")]
        ours = [
            ("x-dlq-reason", why[:4000].encode()),
            ("x-dlq-consumer", self.consumer.encode()),
            ("x-dlq-original-topic", delivery.topic.encode()),
            ("x-dlq-original-partition", str(delivery.partition).encode()),
            ("x-dlq-original-offset", str(delivery.offset).encode()),
            ("x-dlq-at", utcnow().isoformat().encode()),
        ]
        value = delivery.value or b""
        # A record near the broker's limit plus our headers would not fit the DLQ:
        # publishing would fail and the record come again forever, blocking its
        # partition. Keep what fits and say so; the whole record stays where it was
        # (topics keep every record).
        room = MAX_DEAD_LETTER_BYTES - _size(ours) - len(delivery.key or b"")
        if len(value) + _size(original) > room:
            if _size(original) > room // 2:
                original = []
            cut = max(0, room - _size(original) - 200)
            ours.append(("x-dlq-truncated", f"{len(value)} bytes and "
                         f"{len(delivery.headers)} headers; this copy keeps the first "
                         f"{min(cut, len(value))} bytes".encode()))
            value = value[:cut]
        await self._send(dead_letter_topic(delivery.topic), value, delivery.key,
                         original + ours)
        DEAD_LETTERS.labels(self.consumer).inc()


# What a dead letter may weigh: the producers' max_request_size is 1 MiB.
MAX_DEAD_LETTER_BYTES = 1_000_000


def _size(headers: list[tuple[str, bytes]]) -> int:
    return sum(len(k.encode()) + len(v) + 16 for k, v in headers)


def header(headers: tuple[tuple[str, bytes], ...] | list, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None
