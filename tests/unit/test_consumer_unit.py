"""ReliableHandler's decode-failure path and dead-letter headers, with no broker or DB.

Only undecodable input is exercised here: it is parked before any database work, so
`db=None` is never touched. Apply paths need a real database (integration tests).
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.consumer import ReliableHandler, envelope_decoder
from shared.deadletter import DeadLetters, Delivery, header
from shared.envelope import GENESIS_HASH, seal
from tests.support.ledger import registry

TOPIC = "hyeopchi.ledger.events"
ORIGINAL_HEADERS = (("traceparent", b"00-abc-01"), ("x-dlq-reason", b"stale reason"))


class RecordingSend:
    def __init__(self):
        self.calls: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    async def __call__(self, topic, value, key, headers):
        self.calls.append((topic, value, key, headers))


def make_handler(send: RecordingSend) -> ReliableHandler:
    async def apply(conn, message):  # must never run for undecodable input
        raise AssertionError("apply called for an undecodable delivery")

    return ReliableHandler("ledger-totals", None, envelope_decoder(registry), apply,
                           DeadLetters("ledger-totals", send))


def delivery(value: bytes | None) -> Delivery:
    return Delivery(TOPIC, partition=2, offset=41, key=b"account-1", value=value,
                    headers=ORIGINAL_HEADERS)


def forged_envelope() -> bytes:
    t = datetime(2025, 3, 1, tzinfo=timezone.utc)
    env = seal({"event_id": "evt-1", "event_type": "ledger.Deposited", "schema_version": 2,
                "stream_id": "account-1", "stream_version": 1, "occurred_at": t,
                "recorded_at": t, "actor": {"id": "clerk", "role": "teller"},
                "correlation_id": "c", "source": "ledger",
                "payload": {"amount": 100, "currency": "KRW"}, "prev_hash": GENESIS_HASH})
    raw = env.to_json()
    assert '"amount":100,' in raw
    return raw.replace('"amount":100,', '"amount":100000,').encode()


CASES = {
    "garbage": (b"\xff\x00not json", b"\xff\x00not json", "ValidationError"),
    "tombstone": (None, b"", "tombstone"),
    "forged-hash": (forged_envelope(), forged_envelope(), "does not match its hash"),
}


@pytest.mark.parametrize("case", CASES)
async def test_undecodable_delivery_is_dead_lettered_with_reason(case):
    value, expected_bytes, why = CASES[case]
    send = RecordingSend()
    handler = make_handler(send)

    assert await handler.handle(delivery(value)) == "dead-lettered"
    assert handler.counts == {"applied": 0, "duplicate": 0, "dead-lettered": 1}

    [(topic, sent, key, headers)] = send.calls
    assert topic == f"{TOPIC}.dlq"
    assert sent == expected_bytes
    assert key == b"account-1"
    assert ("traceparent", b"00-abc-01") in headers
    reason = header(headers, "x-dlq-reason")
    assert reason.startswith("undecodable: ") and why in reason
    assert [k for k, _ in headers].count("x-dlq-reason") == 1  # stale one replaced
    assert header(headers, "x-dlq-consumer") == "ledger-totals"
    assert header(headers, "x-dlq-original-topic") == TOPIC
    assert header(headers, "x-dlq-original-partition") == "2"
    assert header(headers, "x-dlq-original-offset") == "41"
    assert datetime.fromisoformat(header(headers, "x-dlq-at")).tzinfo is not None


async def test_unknown_schema_version_is_dead_lettered():
    send = RecordingSend()
    t = datetime(2025, 3, 1, tzinfo=timezone.utc)
    env = seal({"event_id": "evt-9", "event_type": "ledger.Deposited", "schema_version": 3,
                "stream_id": "a", "stream_version": 1, "occurred_at": t, "recorded_at": t,
                "actor": {"id": "x", "role": "y"}, "correlation_id": "c", "source": "s",
                "payload": {"amount": 1}, "prev_hash": GENESIS_HASH})
    outcome = await make_handler(send).handle(delivery(env.to_json().encode()))
    assert outcome == "dead-lettered"
    assert "UnknownSchemaVersion" in header(send.calls[0][3], "x-dlq-reason")


def test_decoder_accepts_a_sealed_envelope():
    t = datetime(2025, 3, 1, tzinfo=timezone.utc)
    env = seal({"event_id": "evt-2", "event_type": "ledger.Deposited", "schema_version": 1,
                "stream_id": "a", "stream_version": 1, "occurred_at": t, "recorded_at": t,
                "actor": {"id": "x", "role": "y"}, "correlation_id": "corr", "source": "s",
                "payload": {"amount": 5}, "prev_hash": GENESIS_HASH})
    decoded = envelope_decoder(registry)(delivery(env.to_json().encode()))
    assert (decoded.message_id, decoded.correlation_id) == ("evt-2", "corr")
    assert decoded.message.envelope == env
    assert decoded.message.event.currency == "KRW"


# -- shared.deadletter.header -----------------------------------------------------

def test_header_returns_first_match_decoded():
    headers = [("a", b"1"), ("b", "서울".encode()), ("b", b"second")]
    assert header(headers, "b") == "서울"
    assert header(tuple(headers), "a") == "1"


def test_header_missing_is_none():
    assert header([("a", b"1")], "A") is None
    assert header((), "a") is None


def test_header_replaces_undecodable_bytes():
    assert header([("a", b"ok\xff")], "a") == "ok\ufffd"
