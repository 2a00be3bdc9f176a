"""Nothing personal or secret at rest once erased or expired: the broker's raw segment
files of every topic, the service's database files and its log, read byte by byte.

The broker is this module's own, with a retention check every second, so that the
bounded retention of commands and dead letters really runs within the test."""
from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from scenarios import seeds
from scenarios.client import KafkaCommands, read, send_http
from scenarios.processes import KAFKA_SH, ServiceProcess, wait_until
from shared.kafka_io import read_topic
from tests.conftest import free_port

pytestmark = pytest.mark.integration
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
KEPT_MS = 4000  # commands and dead letters: seconds here, days in production


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    name = f"rest-{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path_factory.mktemp("broker")
    env = {"HYEOPCHI_RUN_DIR": str(run_dir), "KAFKA_EXTRA_CONFIG": "\n".join([
        "log.retention.check.interval.ms=1000", "log.initial.task.delay.ms=0",
        "log.segment.delete.delay.ms=0"])}
    boot = _kafka(env, "start", "--name", name, "--port", free_port(),
                  "--controller-port", free_port(), "--heap", "384m")
    yield boot, env, name, run_dir / f"kafka-{name}" / "data"
    _kafka(env, "wipe", "--name", name)


def _kafka(env: dict, *args) -> str:
    import os  # noqa: PLC0415
    done = subprocess.run([str(KAFKA_SH), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **env})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _person(tag: str) -> dict:
    """A made-up person no other test uses: a unique name and birth date."""
    return {"name": f"비밀 {tag} {uuid.uuid4().hex[:6]}", "birth_date": "1991-07-23"}


def _hits(paths: list[Path], needles: list[bytes]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # retention deleted the segment since it was listed
            continue
        for needle in needles:
            if needle in data:
                found.setdefault(needle.decode(errors="replace"), []).append(str(path))
        if JWT.search(data):
            found.setdefault("a JWT", []).append(str(path))
    return found


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_after_erasure_and_retention_nothing_personal_or_secret_is_on_disk(
        broker, tmp_path):
    bootstrap, env, name, data_dir = broker
    prefix = f"rest{uuid.uuid4().hex[:6]}"
    db_file = tmp_path / "committee.sqlite"
    log_file = tmp_path / "committee.log"
    svc = ServiceProcess("committee", database_url=f"sqlite:///{db_file}",
                         bootstrap=bootstrap, port=free_port(), topic_prefix=prefix,
                         log_path=log_file,
                         extra_env={"COMMANDS_RETENTION_MS": str(KEPT_MS),
                                    "DEAD_LETTER_RETENTION_MS": str(KEPT_MS)}).start()
    committee = seeds.SUBCOMMITTEE
    by_http, by_kafka, misdirected = _person("http"), _person("kafka"), _person("clear")
    needles = [p["name"].encode() for p in (by_http, by_kafka, misdirected)] + \
        [b"1991-07-23"]
    try:
        establish = next(c for c in seeds.subcommittee_commands()
                         if c["command_type"] == "EstablishCommittee")
        assert send_http(svc.url, establish, seeds.SECRETARY).status_code == 201
        appoint = {"command_type": "AppointMember", "committee_id": committee,
                   "role": "member", "channel": "open_call", "appointed_on": "2021-03-01"}
        assert send_http(svc.url, {**appoint, "member_id": "m-http",
                                   "personal": by_http}, seeds.SECRETARY).status_code == 201
        # Over Kafka the personal data goes by reference: deposited over HTTPS first.
        deposit = _deposit(svc, committee, "m-kafka", by_kafka)
        async with KafkaCommands(bootstrap, prefix, "committee") as kafka:
            await kafka.send({**appoint, "member_id": "m-kafka", "personal_ref": deposit},
                             actor=seeds.SECRETARY, key=committee)
            # A sender that puts personal data in clear on Kafka is refused, and its
            # record (with the name) sits in the commands topic and the DLQ for now.
            await kafka.send({**appoint, "member_id": "m-clear", "personal": misdirected},
                             actor=seeds.SECRETARY, key=committee)
        parked = await wait_until(lambda: _records(bootstrap, f"{prefix}.committee."
                                                   "commands.dlq"), timeout=60)
        assert misdirected["name"].encode() not in b"".join(
            v for _, v in parked[0].headers), "the reason repeats the personal data"
        await wait_until(lambda: _opened(svc, "m-kafka", by_kafka["name"]), timeout=60)

        # The scan can see what it looks for: before retention runs, the misdirected
        # name and the tokens are in the commands topic's segments.
        before = _hits(_files(data_dir), needles)
        assert misdirected["name"] in before and "a JWT" in before, before

        for member in ("m-http", "m-kafka"):
            erase = {"command_type": "ErasePersonalData", "member_id": member,
                     "reason": "정보주체의 삭제 요구"}
            assert send_http(svc.url, erase, seeds.SECRETARY).status_code == 201
            assert read(svc.url, f"/members/{member}/personal",
                        seeds.SECRETARY).status_code == 410
        await wait_until(lambda: _gone(data_dir, prefix), timeout=90)
    finally:
        svc.stop()
    _kafka(env, "stop", "--name", name)
    try:
        files = [*_files(data_dir), *tmp_path.glob("committee.sqlite*"), log_file]
        assert _hits(files, needles) == {}, "personal data or a token left at rest"
    finally:
        _kafka(env, "start", "--name", name)  # the module's other tests, if any


def _deposit(svc, committee: str, member: str, person: dict) -> str:
    from scenarios.client import post  # noqa: PLC0415
    answer = post(svc.url, "/personal-data", {"committee_id": committee,
                                               "member_id": member, "personal": person},
                  seeds.SECRETARY)
    assert answer.status_code == 201, answer.text
    return answer.json()["personal_ref"]


async def _records(bootstrap: str, topic: str):
    return await read_topic(bootstrap, topic) or None


async def _opened(svc, member: str, name: str):
    answer = read(svc.url, f"/members/{member}/personal", seeds.SECRETARY)
    return answer.status_code == 200 and answer.json()["name"] == name


async def _gone(data_dir: Path, prefix: str) -> bool:
    """Retention has removed every record of the commands topic and the DLQs."""
    kept = [p for p in data_dir.glob(f"{prefix}.*/*.log")
            if (".commands" in p.parent.name or ".dlq" in p.parent.name)
            and p.stat().st_size > 0]
    return not kept
