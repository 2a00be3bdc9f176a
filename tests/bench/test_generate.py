"""The bench's generated events (bench/generate.py), without a broker: committee and
grants streams of their real types in orders their aggregates accept, the mix per
institution unit as documented, personal data only sealed, and the sample check
catching a record the domain would not have made."""
import base64
import json
from collections import Counter

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.generate import (EVENTS_PER_UNIT, ROUND_UNITS, UNIT_EVENTS, Units, _templates,
                            blocks, check_sample)
from shared.envelope import seal
from shared.refusal import Refusal


@pytest.fixture(scope="module")
def templates():
    return _templates()


def _round(templates, run="t", size=ROUND_UNITS, keys=None):
    return Units(run, templates, keys).block(0, 0, size)


def _types(records, service):
    return Counter(json.loads(body)["event_type"] for s, _, body in records if s == service)


def test_a_full_round_and_a_short_one_pass_the_sample_check(templates):
    keys = {}
    units = Units("t", templates, keys)
    records = units.block(0, 0, ROUND_UNITS) + units.block(1, ROUND_UNITS, 3)
    assert check_sample(records, keys) == len(records)
    assert {s for s, _, _ in records} == {"submission", "scoring", "committee", "grants"}


def test_every_event_the_committee_and_grants_read_models_apply_is_generated(templates):
    from services.committee.adapters.read_model import CommitteeProjection
    from services.committee.domain import events as committee
    from services.grants.adapters.read_model import GrantsProjection
    from services.grants.domain import events as grants
    records = _round(templates)
    for projection, module, service in ((CommitteeProjection, committee, "committee"),
                                        (GrantsProjection, grants, "grants")):
        applied = {f"{service}.{name[1:]}" for name in vars(projection)
                   if name.startswith("_") and hasattr(module, name[1:])}
        assert applied and applied <= set(_types(records, service)), \
            applied - set(_types(records, service))


def test_the_mix_per_unit_is_the_documented_one(templates):
    units, counts, made = Units("t", templates), Counter(), 0
    for b in range(10):
        counts.update(s for s, _, _ in units.block(b, made, ROUND_UNITS))
        made += ROUND_UNITS
    for service in ("submission", "scoring", "committee"):
        assert counts[service] / made == pytest.approx(EVENTS_PER_UNIT[service]), service
    assert counts["grants"] / made == pytest.approx(EVENTS_PER_UNIT["grants"], abs=0.3)


def test_blocks_make_at_least_the_events_asked_for():
    for events in (200, 2000, 100_000, 1_000_000):
        plan = blocks(events)
        assert all(0 < size <= ROUND_UNITS for size in plan)
        assert sum(plan) * UNIT_EVENTS >= events


def test_personal_data_travels_only_sealed(templates):
    keys = {}
    records = _round(templates, keys=keys)
    appointed = [json.loads(body) for s, _, body in records
                 if json.loads(body)["event_type"] == "committee.MemberAppointed"]
    assert len(appointed) > 4 * ROUND_UNITS  # four per committee, and replacements
    for record in appointed:
        sealed = record["payload"]["personal"]
        assert set(sealed) == {"key_id", "ciphertext"}
        member = record["payload"]["member_id"]
        assert sealed["key_id"] == f"person-{member}"
        raw = base64.b64decode(sealed["ciphertext"])
        plain = json.loads(AESGCM(keys[member]).decrypt(raw[:12], raw[12:],
                                                        sealed["key_id"].encode()))
        assert set(plain) == {"name", "birth_date"}
        text = json.dumps(record, ensure_ascii=False)
        assert plain["name"] not in text and plain["birth_date"] not in text


def test_the_youth_exception_is_one_the_quota_needs(templates):
    """Unit 10's city committee: its chair comes before the youth member, which the
    quota refuses unless the youth office head co-approved."""
    from services.committee.domain.committee import Committee
    from services.committee.domain.errors import YouthQuotaBreached
    from services.committee.domain.events import (CommitteeEstablished, MemberAppointed,
                                                  Personal, registry)
    from services.committee.domain.rules import load_rules
    keys = {}
    records = [json.loads(body) for s, _, body in _round(templates, keys=keys)
               if s == "committee" and "-0000010" in json.loads(body)["stream_id"]
               and json.loads(body)["stream_id"].startswith("committee-")]
    kinds = [r["event_type"] for r in records]
    assert kinds[:3] == ["committee.CommitteeEstablished",
                         "committee.YouthQuotaExceptionApproved",
                         "committee.MemberAppointed"]
    established = registry.decode(kinds[0], 1, records[0]["payload"])
    chair = registry.decode(kinds[2], 2, records[2]["payload"])
    assert isinstance(established, CommitteeEstablished) and established.city_committee
    assert isinstance(chair, MemberAppointed) and chair.role == "chair" and not chair.youth
    raw = base64.b64decode(chair.personal.ciphertext)
    personal = Personal.model_validate_json(AESGCM(keys[chair.member_id]).decrypt(
        raw[:12], raw[12:], chair.personal.key_id.encode()))
    without = Committee(records[0]["stream_id"], [established])
    with pytest.raises(YouthQuotaBreached):
        without.appoint(chair.committee_id, chair.member_id, chair.role, chair.channel,
                        chair.appointed_on, personal, chair.personal, load_rules())


@pytest.mark.parametrize("event_type, change", [
    ("committee.MemberAppointed", lambda p: p.update(youth=not p["youth"])),
    ("committee.MeetingCostsRecorded", lambda p: p.update(total=p["total"] + 1)),
    ("committee.MeetingHeld", lambda p: p["attendees"].append(
        {"member_id": "someone-else", "attendance": "remote"})),
    ("grants.SelectionDecided", lambda p: p["decisions"].reverse()),
    ("grants.SelfFundingChecked", lambda p: p.update(shortfall=p["shortfall"] + 1)),
    ("grants.PaymentMade", lambda p: p.update(amount=p["amount"] * 2)),
])
def test_a_record_its_aggregate_would_not_make_fails_the_check(templates, event_type,
                                                               change):
    keys = {}
    records, heads, changed = _round(templates, keys=keys), {}, False
    resealed = []
    for service, stream, body in records:  # changed, then sealed and chained again
        record = json.loads(body)
        if record["event_type"] == event_type and not changed:
            change(record["payload"])
            changed = True
        record["prev_hash"] = heads.get(stream, record["prev_hash"])
        env = seal({k: v for k, v in record.items() if k != "hash"})
        heads[stream] = env.hash
        resealed.append((service, stream, env.to_json().encode()))
    assert changed
    check_sample(records, keys)  # as made, it passes
    with pytest.raises((AssertionError, Refusal)):  # the domain refuses, or makes another
        check_sample(resealed, keys)
