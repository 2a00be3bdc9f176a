"""Person keys wrapped by a key-encryption key (KEK), through a running committee
service on SQLite and PostgreSQL: the database alone (a backup) opens no personal
data; `hyeopchi rotate-kek` re-wraps every key; the service restarted with only the
new KEK still opens them; erasure still works; no KEK, no start; plain keys of a
database from before wrapping are wrapped at start."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from scenarios import seeds
from scenarios.client import read, send_http
from scenarios.dev_kek import add_key, new_key, write_kek_file
from scenarios.processes import REPO, ServiceProcess
from shared import migrate
from shared.db import Database
from shared.tables import backbone, events
from tests.conftest import BACKENDS, free_port
from tools.migrations import schema

pytestmark = pytest.mark.integration
MEMBERS = ["member-a", "member-b", "member-c", "member-d"]


def appointments() -> list[dict]:
    commands = seeds.subcommittee_commands()
    return [commands[0], *[c for c in commands if c.get("member_id") in MEMBERS]]


def personal_of(svc, member: str):
    return read(svc.url, f"/members/{member}/personal", seeds.SECRETARY)


def expected(member: str) -> dict:
    return {"name": f"위원 {member[-1].upper()}", "birth_date": seeds.BIRTH[member]}


async def sealed_ciphertexts(url: str) -> list[tuple[str, bytes]]:
    """(key id, nonce ‖ ciphertext) of every sealed appointment in the store."""
    db = Database(url, backbone)
    async with db.reading() as conn:
        bodies = [r.body for r in await conn.execute(
            select(events.c.body).where(events.c.event_type == "committee.MemberAppointed"))]
    await db.dispose()
    sealed = [json.loads(b)["payload"]["personal"] for b in bodies]
    return [(p["key_id"], base64.b64decode(p["ciphertext"])) for p in sealed]


def raw_database(url: str) -> bytes:
    """Every value of every table, as bytes (what a logical backup holds), plus, on
    SQLite, the database files themselves (what a file copy holds)."""
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    parts = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    parts += [bytes(v) if isinstance(v, (bytes, memoryview))
                              else str(v).encode() for v in row]
    finally:
        engine.dispose()
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        parts += [p.read_bytes() for p in path.parent.glob(f"{path.name}*")]
    return b"\x00".join(parts)


def keys_that_open(blob: bytes, sealed: list[tuple[str, bytes]]) -> list[str]:
    """Key ids whose sealed data some 32-byte run of `blob` opens (every run: kept
    to small blobs, such as the person_keys table)."""
    found = []
    for start in range(len(blob) - 31):
        aead = AESGCM(blob[start:start + 32])
        for key_id, raw in sealed:
            try:
                aead.decrypt(raw[:12], raw[12:], key_id.encode())
                found.append(key_id)
            except InvalidTag:
                pass
    return found


def person_keys_table(url: str) -> bytes:
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM person_keys"))  # any revision
            return b"\x00".join(bytes(v) if isinstance(v, (bytes, memoryview))
                                else str(v).encode() for row in rows for v in row)
    finally:
        engine.dispose()


async def plain_person_keys(url: str, kek_file: Path) -> list[bytes]:
    """The person keys, unwrapped with the KEK (which the database does not hold),
    each checked to open its person's sealed data."""
    from services.committee.app import keys, personal  # noqa: PLC0415
    keks = keys.load(str(kek_file))
    db = Database(url, personal.write_side)
    async with db.reading() as conn:
        rows = (await conn.execute(select(personal.person_keys))).all()
    await db.dispose()
    found = {r.key_id: keks.unwrap(r.kek_id, r.key_id, r.wrapped_key) for r in rows}
    for key_id, raw in await sealed_ciphertexts(url):
        AESGCM(found[key_id]).decrypt(raw[:12], raw[12:], key_id.encode())
    return list(found.values())


async def assert_backup_reveals_nothing(url: str, kek_file: Path) -> None:
    """No person key in any table value or database file, nor any 32 bytes of the
    person_keys table that open a person's sealed data."""
    raw = raw_database(url)
    plain = await plain_person_keys(url, kek_file)
    assert plain and not [k for k in plain if k in raw]
    assert keys_that_open(person_keys_table(url), await sealed_ciphertexts(url)) == []


def rotate_kek(url: str, kek_file: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PERSONAL_DATA_KEK_FILE": str(kek_file)}
    cli = Path(sys.executable).parent / "hyeopchi"
    return subprocess.run([str(cli), "rotate-kek", "--database-url", url,
                           "--batch-size", "3"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def restart(svc, kek_file: Path, tmp_path: Path) -> ServiceProcess:
    svc.stop()
    again = ServiceProcess("committee", database_url=svc.database_url,
                           bootstrap=svc.env["KAFKA_BOOTSTRAP_SERVERS"], port=free_port(),
                           topic_prefix=svc.prefix, log_path=tmp_path / "restarted.log",
                           extra_env={"PERSONAL_DATA_KEK_FILE": str(kek_file)})
    return again.start()


@BACKENDS
async def test_backup_reveals_nothing_rotation_keeps_every_key_erasure_still_works(
        stack, make_db_url, tmp_path):
    kek_file = write_kek_file(tmp_path / "kek.json", "kek-1", {"kek-1": new_key()})
    [com] = stack("committee", env={"PERSONAL_DATA_KEK_FILE": str(kek_file)})
    for command in appointments():
        assert send_http(com.url, command, seeds.SECRETARY).status_code == 201
    for member in MEMBERS:
        assert personal_of(com, member).json() == expected(member)

    assert len(await sealed_ciphertexts(com.database_url)) == len(MEMBERS)
    await assert_backup_reveals_nothing(com.database_url, kek_file)

    add_key(kek_file, "kek-2")  # the operator's first step: a new active KEK
    rotated = rotate_kek(com.database_url, kek_file)  # beside the running service
    assert rotated.returncode == 0, rotated.stderr
    assert "under KEK 'kek-2': 4 (4 re-wrapped from older KEKs" in rotated.stdout
    assert "in 2 batches" in rotated.stdout
    again = rotate_kek(com.database_url, kek_file)
    assert again.returncode == 0 and "4 (0 re-wrapped" in again.stdout, again.stdout

    only_new = write_kek_file(tmp_path / "kek-rotated.json", "kek-2",
                              {"kek-2": json.loads(kek_file.read_text())["keys"]["kek-2"]})
    svc = restart(com, only_new, tmp_path)
    try:
        for member in MEMBERS:
            assert personal_of(svc, member).json() == expected(member)
        await assert_backup_reveals_nothing(com.database_url, only_new)

        erase = {"command_type": "ErasePersonalData", "member_id": "member-a",
                 "reason": "정보주체의 삭제 요구 (개인정보 보호법 제36조)"}
        assert send_http(svc.url, erase, seeds.SECRETARY).status_code == 201
        gone = personal_of(svc, "member-a")
        assert gone.status_code == 410 and "erased" in gone.json()["detail"]
        assert personal_of(svc, "member-b").json() == expected("member-b")
    finally:
        svc.stop()


def test_without_a_kek_the_service_refuses_to_start(make_db_url, kafka_bootstrap, tmp_path):
    svc = ServiceProcess("committee", database_url=make_db_url(), bootstrap=kafka_bootstrap,
                         port=free_port(), topic_prefix="t-nokek",
                         log_path=tmp_path / "committee.log",
                         extra_env={"PERSONAL_DATA_KEK_FILE": ""})
    with pytest.raises(RuntimeError, match="refusing to start: no key-encryption key"):
        svc.start(timeout=60)


@BACKENDS
async def test_plain_keys_from_before_wrapping_are_wrapped_at_start(
        make_db_url, kafka_bootstrap, tmp_path):
    url = make_db_url()
    migrate.upgrade(url, schema("committee"), "0002")  # the schema before wrapping
    plain, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    sealed = [("person-old", nonce + AESGCM(plain).encrypt(
        nonce, b'{"name":"old","birth_year":1980}', b"person-old"))]
    engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO person_keys (key_id, key) VALUES ('person-old', :k)"),
                     {"k": plain})
    engine.dispose()
    assert plain in raw_database(url)  # the control: found where it lies
    assert keys_that_open(person_keys_table(url), sealed) == ["person-old"]

    kek_file = write_kek_file(tmp_path / "kek.json", "kek-1", {"kek-1": new_key()})
    svc = ServiceProcess("committee", database_url=url, bootstrap=kafka_bootstrap,
                         port=free_port(), topic_prefix="t-upgrade",
                         log_path=tmp_path / "committee.log",
                         extra_env={"PERSONAL_DATA_KEK_FILE": str(kek_file)})
    with svc:
        assert migrate.current(url) == "0004"
        assert plain not in raw_database(url)
        assert keys_that_open(person_keys_table(url), sealed) == []
        engine = create_engine(migrate.sync_url(url), poolclass=NullPool)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kek_id FROM person_keys")).all()
        engine.dispose()
        assert [r.kek_id for r in rows] == ["kek-1"]
