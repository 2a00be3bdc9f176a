"""The Kafka side of the trust boundary, against the real broker: a command is judged
by the broker's clock, its token may not live long, a copied command is applied once,
and commands and dead letters are not kept forever (events are)."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from scenarios import y2021
from scenarios.client import KafkaCommands, published_events
from scenarios.processes import wait_until
from scenarios.sso import dev_sso
from shared.deadletter import header
from shared.kafka_io import read_topic
from shared.topics import topic_drift

pytestmark = pytest.mark.integration
YEAR_S = 365 * 86_400


def _message(command: dict, token: str, command_id: str | None = None) -> bytes:
    return json.dumps({"command_id": command_id or str(uuid.uuid4()), "schema_version": 2,
                       "token": token, "command": command}).encode()


async def _parked(bootstrap: str, prefix: str, count: int):
    found = await read_topic(bootstrap, f"{prefix}.submission.commands.dlq")
    return found if len(found) >= count else None


async def test_a_token_is_judged_by_the_brokers_clock_not_the_senders(
        stack, kafka_bootstrap):
    [sub] = stack("submission")
    now = int(time.time())
    # A governance officer's token that expired a year ago, sent with a producer
    # timestamp inside its old validity: the broker stamps its own time and the
    # service judges the token at that moment.
    stale = dev_sso().issue(y2021.OFFICER, iat=now - YEAR_S - 600, exp=now - YEAR_S)
    long_lived = dev_sso().issue(y2021.OFFICER, iat=now, exp=now + 3600)
    future = dev_sso().issue(y2021.OFFICER, iat=now + 3600, exp=now + 3900)
    open_cycle = {"command_type": "OpenCycle", "year": 2030,
                  "deadline": "2031-01-01T00:00:00+09:00"}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        topic = f"{sub.prefix}.submission.commands"
        for token in (stale, long_lived, future):
            await producer.send_and_wait(topic, _message(open_cycle, token), key=b"cycle",
                                         timestamp_ms=(now - YEAR_S - 300) * 1000)
    finally:
        await producer.stop()
    parked = await wait_until(lambda: _parked(kafka_bootstrap, sub.prefix, 3), timeout=90)
    reasons = [header(r.headers, "x-dlq-reason") for r in parked]
    assert "expired when the broker appended" in reasons[0], reasons[0]
    assert "may live at most 900 s" in reasons[1], reasons[1]
    assert "issued after the broker appended" in reasons[2], reasons[2]
    for reason in reasons:
        assert "eyJ" not in reason, "a dead-letter reason repeats the token"
    # The broker stamped its own time on every record, whatever the producer said.
    records = await read_topic(kafka_bootstrap, topic)
    assert {r.timestamp_type for r in records} == {1}
    assert all(abs(r.timestamp / 1000 - now) < 600 for r in records)
    assert not await published_events(kafka_bootstrap, sub.prefix), "a refused command " \
        "recorded something"


async def test_a_copied_command_is_applied_once(stack, kafka_bootstrap):
    [sub] = stack("submission")
    first, marker = y2021.institution_commands()[:2]
    copy = _message(first, dev_sso().issue(y2021.OFFICER), "copied-command-1")
    async with KafkaCommands(kafka_bootstrap, sub.prefix) as kafka:
        for _ in range(3):
            await kafka.send_raw(copy, key="same-partition")
        # A marker after the copies: once it is applied, so are the copies before it.
        await kafka.send(marker, key="same-partition")

    async def both():
        found = await published_events(kafka_bootstrap, sub.prefix)
        return found if len(found) >= 2 else None
    await wait_until(both, timeout=90)
    found = await published_events(kafka_bootstrap, sub.prefix)
    # A second application of the copy would be refused as "already registered".
    assert sorted(e.event_type for e in found) == ["submission.InstitutionRegistered"] * 2
    assert not await read_topic(kafka_bootstrap, f"{sub.prefix}.submission.commands.dlq")


def _settings(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                   config_filter="all")["topic"][topic]
    return {k: v["value"] for k, v in found.items()}


async def test_commands_and_dead_letters_are_kept_for_a_bounded_time_events_forever(
        stack, kafka_bootstrap):
    [sco] = stack("scoring")
    [sub] = stack("submission", env={"COMMANDS_RETENTION_MS": "86400000"})
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        commands = _settings(admin, f"{sub.prefix}.submission.commands")
        assert commands["retention.ms"] == "86400000"  # configured: one day
        assert commands["message.timestamp.type"] == "LogAppendTime"
        for dlq in (f"{sub.prefix}.submission.commands.dlq",
                    f"{sub.prefix}.submission.events.dlq"):
            assert _settings(admin, dlq)["retention.ms"] == str(30 * 86_400_000)
        events = _settings(admin, f"{sub.prefix}.submission.events")
        assert (events["retention.ms"], events["retention.bytes"]) == ("-1", "-1")
        assert events["cleanup.policy"] == "delete"
        for ingress in ("hr", "education"):
            hr = _settings(admin, f"{sco.prefix}.ingress.{ingress}")
            assert hr["retention.ms"] == str(7 * 86_400_000)
            assert hr["message.timestamp.type"] == "LogAppendTime"

        # An operator keeps the commands forever by mistake: the next start sets the
        # topic right again (this principal may alter configs; under the ACL profile it
        # may not, and the service refuses to start naming the setting).
        topic = f"{sub.prefix}.submission.commands"
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                             configs={"retention.ms": "-1"})])
        assert topic_drift(admin, {topic: {"retention.ms": "86400000"}})
        sub.stop()
        sub.start()
        assert _settings(admin, topic)["retention.ms"] == "86400000"
    finally:
        admin.close()
