"""Erasure by crypto-shredding (issue 11): a member's personal data becomes unreadable
everywhere, while every decision still replays to the same public read models."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from scenarios import seeds
from scenarios.client import read, send_http
from scenarios.processes import wait_until
from shared.db import Database
from shared.kafka_io import read_topic
from shared.tables import backbone, events
from tests.integration.test_audit import audit

pytestmark = pytest.mark.integration
MEMBER = "member-a"


async def _members(com):
    answer = read(com.url, "/institutions/democracy/committee-report/2021")
    return answer.json() if answer.status_code == 200 and answer.json()["committees"] \
        and answer.json()["committees"][0]["members"] == 8 else None


def _committee_checksums(replayed: dict) -> dict:
    return {name: p["checksum"] for name, p in replayed.items() if name.startswith("committee")}


async def test_erasing_a_member_shreds_their_data_and_decisions_still_replay(
        stack, kafka_bootstrap):
    [com] = stack("committee")
    for command in [*seeds.advisory_commands(), *seeds.subcommittee_commands()]:
        assert send_http(com.url, command, seeds.SECRETARY).status_code == 201
    await wait_until(lambda: _members(com), timeout=60)
    name = next(c["personal"]["name"] for c in seeds.subcommittee_commands()
                if c.get("member_id") == MEMBER and "personal" in c)
    opened = read(com.url, f"/members/{MEMBER}/personal", seeds.SECRETARY)
    assert opened.status_code == 200
    assert opened.json() == {"name": name, "birth_date": seeds.BIRTH[MEMBER]}
    assert read(com.url, f"/members/{MEMBER}/personal", None).status_code == 401
    before = json.loads(audit(kafka_bootstrap, com.prefix, "--json", "replay").stdout)

    erase = {"command_type": "ErasePersonalData", "member_id": MEMBER,
             "reason": "정보주체의 삭제 요구 (개인정보 보호법 제36조)"}
    assert send_http(com.url, erase, seeds.SECRETARY).status_code == 201
    again = send_http(com.url, erase, seeds.SECRETARY)
    assert again.status_code == 409 and "already erased" in again.json()["detail"]
    gone = read(com.url, f"/members/{MEMBER}/personal", seeds.SECRETARY)
    assert gone.status_code == 410 and "erased" in gone.json()["detail"]
    other = read(com.url, "/members/member-b/personal", seeds.SECRETARY)
    assert other.status_code == 200, "only the erased person's key is destroyed"

    after = json.loads(audit(kafka_bootstrap, com.prefix, "--json", "replay").stdout)
    assert _committee_checksums(after) == _committee_checksums(before) != {}
    assert after["committee-meetings"]["applied"] == \
        before["committee-meetings"]["applied"] + 1  # the erasure replays, changing nothing

    log = await read_topic(kafka_bootstrap, f"{com.prefix}.committee.events")
    db = Database(com.database_url, backbone)
    async with db.reading() as conn:
        stored = [r.body for r in await conn.execute(select(events.c.body))]
    await db.dispose()
    born = seeds.BIRTH[MEMBER]
    for where, blobs in (("topic", [r.value.decode() for r in log]), ("store", stored)):
        assert not [b for b in blobs if name in b or born in b or "birth_date" in b
                    or "birth_year" in b], f"personal data in clear in the {where}"
    sealed = [json.loads(b)["payload"]["personal"] for b in stored
              if '"committee.MemberAppointed"' in b]
    assert sealed and all(p["key_id"] and p["ciphertext"] for p in sealed)
