"""Dead letters against the real broker and a running service (privacy audit):
a refused command's name reaches neither the DLQ headers nor the service's log;
operators list, show and re-drive parked records with `hyeopchi dlq`."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaProducer

from scenarios import seeds
from scenarios.client import KafkaCommands, published_events
from scenarios.processes import REPO, wait_until
from scenarios.sso import dev_sso
from shared.deadletter import DeadLetters, Delivery, header
from shared.kafka_io import producer_send, read_topic

pytestmark = pytest.mark.integration

NAME = "홍길동" + "가나다라마바사아자차카타파하" * 8  # over the 100 characters allowed
NICKNAME = "김영희"


def hyeopchi(*args: str, bootstrap: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.run([sys.executable, "-m", "tools.cli", "dlq", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def no_trace(text: str) -> bool:
    return not any(part in text for part in (NAME[:3], NAME[3:10], NICKNAME))


def kek_file(tmp_path) -> str:
    """The committee service starts only with its key-encryption keys."""
    path = tmp_path / "kek.json"
    path.write_text(json.dumps({"active": "t", "keys": {
        "t": base64.b64encode(os.urandom(32)).decode()}}))
    return str(path)


async def test_refused_commands_leave_no_name_and_operators_list_show_and_redrive(
        stack, kafka_bootstrap, tmp_path):
    [com] = stack("committee", env={"PERSONAL_DATA_KEK_FILE": kek_file(tmp_path)})
    topic = f"{com.prefix}.committee.commands"
    dlq = f"{topic}.dlq"
    establish, appoint = seeds.advisory_commands()[:2]
    async with KafkaCommands(kafka_bootstrap, com.prefix, "committee") as kafka:
        too_long = await kafka.send({**appoint, "personal": {"name": NAME, "birth_date": "1970-01-01"}},
                                    actor=seeds.SECRETARY)
        smuggled = await kafka.send({**appoint, "member_id": "m-extra", "nickname": NICKNAME},
                                    actor=seeds.SECRETARY)

    async def both_parked():
        found = await read_topic(kafka_bootstrap, dlq)
        return found if len(found) >= 2 else None
    parked = await wait_until(both_parked, timeout=90)
    assert {json.loads(r.value)["command_id"] for r in parked} == {too_long, smuggled}

    # (a) the parked bytes are the command as sent; the headers say why, not what.
    for record in parked:
        assert not no_trace(record.value.decode())  # the name is in the value, as sent
        told = " ".join(f"{k}: {v.decode(errors='replace')}" for k, v in record.headers)
        assert no_trace(told), told
        why = header(record.headers, "x-dlq-reason")
        assert why.startswith("undecodable: ValidationError: "), why
        assert " error(s) for CommitteeCommandMessage: command.AppointMember." in why
    reasons = sorted(header(r.headers, "x-dlq-reason") for r in parked)
    # On Kafka personal data may not travel at all (it goes by reference).
    assert any("AppointMember.personal: Extra inputs are not permitted" in r
               for r in reasons), reasons
    assert any("AppointMember.nickname: Extra inputs are not permitted" in r
               for r in reasons), reasons

    # (b) the service logged both, without the name.
    async def logged():
        text = com.log_path.read_text(encoding="utf-8", errors="replace")
        return text if text.count('"dead_lettered"') >= 2 else None
    log = await wait_until(logged, timeout=30)
    assert no_trace(log), [line for line in log.splitlines() if not no_trace(line)]

    # (c) operators see them: one line each, JSON, and one in full without the value.
    listed = hyeopchi("list", "--prefix", com.prefix, bootstrap=kafka_bootstrap)
    assert listed.returncode == 0, listed.stderr
    assert "2 dead letter(s)" in listed.stdout
    assert f"{dlq} @0" in listed.stdout and f"{dlq} @1" in listed.stdout
    assert "by commands" in listed.stdout and f"from {topic}/" in listed.stdout
    assert all(r[:150] in listed.stdout for r in reasons), listed.stdout  # cut at 160
    assert no_trace(listed.stdout)
    as_json = hyeopchi("list", "--topic", dlq, "--json", bootstrap=kafka_bootstrap)
    entries = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["offset"] for e in entries] == [0, 1]
    assert all(e["consumer"] == "commands" and e["original"]["topic"] == topic
               for e in entries)
    assert sorted(e["reason"] for e in entries) == reasons
    offset = str(next(r.offset for r in parked if json.loads(r.value)["command_id"]
                      == too_long))
    shown = hyeopchi("show", dlq, offset, bootstrap=kafka_bootstrap)
    assert shown.returncode == 0, shown.stderr
    assert f"dead letter {dlq} @{offset}" in shown.stdout
    assert "x-dlq-original-offset" in shown.stdout and "AppointMember.personal: Extra inputs" in shown.stdout
    assert f"{len(parked[int(offset)].value)} bytes" in shown.stdout
    assert no_trace(shown.stdout)
    with_value = hyeopchi("show", dlq, offset, "--value", bootstrap=kafka_bootstrap)
    assert NAME in with_value.stdout  # only on request
    missing = hyeopchi("show", dlq, "99", bootstrap=kafka_bootstrap)
    assert missing.returncode == 2 and "no dead letter at 99" in missing.stderr

    # (d) a valid command parked while its database refused it (a failover) is
    # re-driven once that is over, and applied.
    command_id = "redrive-establish-1"
    body = {"command_id": command_id, "schema_version": 2,
            "token": dev_sso().issue(seeds.SECRETARY), "command": establish}
    original = Delivery(topic, 1, 41, establish["committee_id"].encode(),
                        json.dumps(body, ensure_ascii=False).encode(),
                        (("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-01"),))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await DeadLetters("commands", producer_send(producer)).park(
            original, "database refused it 3 times: OperationalError: the database "
                      "system is in recovery mode")
    finally:
        await producer.stop()
    redriven = hyeopchi("redrive", dlq, "2", bootstrap=kafka_bootstrap)
    assert redriven.returncode == 0, redriven.stderr
    assert f"re-drove {dlq}/2 → {topic}" in redriven.stdout
    assert "1 record(s) re-driven" in redriven.stdout

    async def established():
        found = await published_events(kafka_bootstrap, com.prefix, "committee")
        return [e for e in found if e.event_type == "committee.CommitteeEstablished"]
    [event] = await wait_until(established, timeout=60)
    assert event.causation_id == command_id
    assert event.payload["committee_id"] == establish["committee_id"]
    [sent] = [r for r in await read_topic(kafka_bootstrap, topic)
              if header(r.headers, "x-redriven-from")]
    assert header(sent.headers, "x-redriven-from") == f"{dlq}/2"
    assert header(sent.headers, "traceparent") == "00-0af7651916cd43dd8448eb211c80319c-01"
    assert not [k for k, _ in sent.headers if k.startswith("x-dlq-")]
    assert (sent.key, sent.value) == (original.key, original.value)
    # Nothing else was applied: the refused ones stay parked, not re-driven.
    assert len(await read_topic(kafka_bootstrap, dlq)) == 3
