"""The secured Kafka profile against a real broker started in that mode (kafka.sh
start-secure: SASL/SCRAM-SHA-512, StandardAuthorizer, no ACL = denied) with the ACL
plan of tools/kafka_security.py applied: each principal does its own work, and a
wrong principal, a wrong password or no authentication at all is refused."""
from __future__ import annotations

import asyncio
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import (GroupAuthorizationFailedError, KafkaConnectionError,
                             SaslAuthenticationFailed, TopicAuthorizationFailedError)

from scenarios.client import KafkaCommands, published_events
from scenarios.processes import KAFKA_SH, ServiceProcess, script, wait_until
from tools import kafka_security
from shared.kafka_io import client_security, read_topic
from shared.settings import ServiceSettings
from tests.conftest import free_port

pytestmark = pytest.mark.integration
SOON = "2099-01-01T00:00:00+00:00"


@dataclass
class Secured:
    bootstrap: str
    secrets: Path
    prefix: str

    def env(self, who: str) -> dict[str, str]:
        """A process's settings for principal `who` (the password by file)."""
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": who,
                "KAFKA_SASL_PASSWORD_FILE": str(self.secrets / f"{who}.password")}

    def client(self, who: str) -> dict:
        """Client keyword arguments for `who`, through the services' own function."""
        return client_security(ServiceSettings(**{k.lower(): v
                                                  for k, v in self.env(who).items()}))

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"


@pytest.fixture(scope="module")
def secured():
    name = f"acl-{uuid.uuid4().hex[:8]}"
    try:
        # svc-submission's credentials are bootstrapped at format time; `apply` sets
        # (and makes passwords for) the rest, creates the topics and the ACLs.
        boot = script(KAFKA_SH, "start-secure", "--name", name, "--port", free_port(),
                      "--controller-port", free_port(), "--heap", "384m",
                      "--users", "svc-submission")
        secrets = Path(script(KAFKA_SH, "secrets", "--name", name))
        assert (secrets / "admin.password").stat().st_mode & 0o077 == 0
        prefix = f"t{uuid.uuid4().hex[:8]}"
        applied = kafka_security.apply(boot, secrets, prefix)  # as `… kafka_security apply`
        assert applied["acls_added"] == applied["acls"] > 0
        yield Secured(boot, secrets, prefix)
    finally:
        subprocess.run([str(KAFKA_SH), "wipe", "--name", name], capture_output=True)


def as_principal(monkeypatch, secured: Secured, who: str) -> None:
    """This test process's own clients (read_topic …) authenticate as `who`."""
    for key, value in secured.env(who).items():
        monkeypatch.setenv(key, value)


async def produce(bootstrap: str, topic: str, **security) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                request_timeout_ms=10000, **security)
    try:
        await producer.start()
        await producer.send_and_wait(topic, b'{"probe": true}', key=b"probe")
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, group: str, **security) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", **security)
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


def service(secured: Secured, name: str, tmp_path: Path) -> ServiceProcess:
    return ServiceProcess(name, database_url=f"sqlite:///{tmp_path / name}.db",
                          bootstrap=secured.bootstrap, port=free_port(),
                          topic_prefix=secured.prefix, log_path=tmp_path / f"{name}.log",
                          extra_env=secured.env(f"svc-{name}"))


async def caught_up(svc: ServiceProcess, consumer: str) -> bool:
    answer = await asyncio.to_thread(httpx.get, f"{svc.url}/health/ready", timeout=5)
    return answer.status_code == 200 and answer.json()["lag"].get(consumer) == 0


async def test_services_with_their_own_principals_work_end_to_end(secured, tmp_path,
                                                                  monkeypatch):
    scoring = service(secured, "scoring", tmp_path).launch()  # starts meanwhile
    submission = service(secured, "submission", tmp_path)
    try:
        submission.start(timeout=90)
        # the city systems' principal may write the commands topic, nothing else
        async with KafkaCommands(secured.bootstrap, secured.prefix,
                                 security=secured.client("ext-city-systems")) as kafka:
            await kafka.send({"command_type": "OpenCycle", "year": 2021, "deadline": SOON})
        as_principal(monkeypatch, secured, "svc-audit")  # the auditor reads every log
        found = await wait_until(lambda: published_events(secured.bootstrap, secured.prefix),
                                 timeout=60)
        assert "submission.CycleOpened" in [e.event_type for e in found]
        # scoring consumed them in its own group, as svc-scoring
        await wait_until(lambda: caught_up(scoring, "submission-facts"), timeout=90)
    finally:
        assert submission.stop() == 0
        assert scoring.stop() == 0


async def test_a_principal_writes_only_its_own_topics(secured):
    boot = secured.bootstrap
    await produce(boot, secured.topic("ingress.hr"), **secured.client("ext-hr"))
    refused = [("svc-submission", "scoring.events"), ("ext-hr", "ingress.education"),
               ("ext-hr", "submission.commands"), ("svc-scoring", "submission.events")]
    for who, topic in refused:
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(boot, secured.topic(topic), **secured.client(who))


async def test_a_principal_reads_only_what_it_consumes(secured, monkeypatch):
    boot = secured.bootstrap
    await produce(boot, secured.topic("submission.events"), **secured.client("svc-submission"))
    as_principal(monkeypatch, secured, "svc-scoring")
    assert await read_topic(boot, secured.topic("submission.events"))
    with pytest.raises(GroupAuthorizationFailedError):  # not its consumer group
        await consume(boot, secured.topic("submission.events"), "submission.commands",
                      **secured.client("svc-scoring"))
    as_principal(monkeypatch, secured, "ext-hr")
    for topic in ("submission.events", "scoring.events", "grants.events"):
        with pytest.raises(TopicAuthorizationFailedError):
            await read_topic(boot, secured.topic(topic))
    with pytest.raises(TopicAuthorizationFailedError):
        await consume(boot, secured.topic("submission.events"), "scoring.submission-facts",
                      **secured.client("ext-hr"))


async def test_no_entry_without_the_right_password(secured):
    host, port = secured.bootstrap.split(":")
    good = secured.client("svc-scoring")
    conn = await create_conn(host, int(port), **good)  # the right password connects
    conn.close()
    for who, password in (("svc-scoring", "not-its-password"), ("nobody", "guess")):
        with pytest.raises(SaslAuthenticationFailed):
            await create_conn(host, int(port), **{**good, "sasl_plain_username": who,
                                                  "sasl_plain_password": password})
    plain = AIOKafkaProducer(bootstrap_servers=secured.bootstrap, request_timeout_ms=5000)
    try:  # no SASL handshake: the listener drops the connection
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(plain.start(), 30)
    finally:
        await plain.stop()
