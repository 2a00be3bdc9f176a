"""Structured JSON log lines never carry personal data."""
from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from shared.logs import configure


@pytest.fixture
def stream():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    configure("ledger-test", stream=out)
    yield out
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:], root.level = saved


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_log_line_is_json_with_service_and_ids_but_no_personal_data(stream):
    structlog.get_logger().info(
        "x", name="홍길동", phone="010-1234-5678",
        payload={"memo": "비밀메모", "account": "110-222-333333"}, event_id="e1")
    [line] = lines(stream)
    record = json.loads(line)
    assert record["service"] == "ledger-test"
    assert record["event_id"] == "e1"
    assert record["event"] == "x"
    assert record["level"] == "info"
    for secret in ("홍길동", "010-1234-5678", "비밀메모", "110-222-333333"):
        assert secret not in line


def test_korean_in_non_personal_fields_is_kept_readable(stream):
    structlog.get_logger().info("접수됨", event_id="e2")
    [line] = lines(stream)
    assert "접수됨" in line
    assert json.loads(line)["event"] == "접수됨"


def test_level_filter_applies(stream):
    structlog.get_logger().debug("hidden", event_id="e3")
    assert lines(stream) == []


def test_a_kafka_client_repeating_itself_is_held_to_one_line_per_window(stream):
    from shared.logs import RepeatLimiter
    [limiter] = [f for h in logging.getLogger().handlers for f in h.filters
                 if isinstance(f, RepeatLimiter)]
    now = [100.0]
    limiter.clock = lambda: now[0]
    client = logging.getLogger("aiokafka.client")
    for _ in range(500):
        client.error("Unable connect to node with id %s", 1)
    client.error("Unable to update metadata from [1]")  # a different line: passes
    logging.getLogger("shared.other").warning("not a Kafka client: never held")
    logging.getLogger("shared.other").warning("not a Kafka client: never held")
    now[0] += 11
    client.error("Unable connect to node with id %s", 1)
    events = [json.loads(line)["event"] for line in lines(stream)]
    assert events == [
        "Unable connect to node with id 1", "Unable to update metadata from [1]",
        "not a Kafka client: never held", "not a Kafka client: never held",
        "Unable connect to node with id 1 (and 499 identical lines in the 10 s before)"]
