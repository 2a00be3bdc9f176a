"""One codec: the fast canonical dump (orjson where it provably agrees, the standard
library elsewhere) equals the reference canonical JSON byte for byte, and sealing
once gives the body and hash the old two-dump sealing gave, for every event type of
every service."""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import types
import typing
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.envelope import (GENESIS_HASH, Envelope, UnencodableText, canonical_bytes,
                             canonical_json, seal, seal_record, sealed_record)
from shared.registry import DomainEvent

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)
SERVICES = ["audit", "committee", "grants", "scoring", "submission"]


def reference(value) -> str:
    """The canonical form as it was defined before orjson: the reference."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reference_seal(fields: dict) -> tuple[Envelope, bytes]:
    """The old sealing: validate, hash the dump without `hash`, copy, dump again."""
    unsealed = Envelope.model_validate({**fields, "hash": GENESIS_HASH})
    digest = hashlib.sha256(reference(unsealed.model_dump(mode="json", exclude={"hash"}))
                            .encode()).hexdigest()
    env = unsealed.model_copy(update={"hash": digest})
    return env, reference(env.model_dump(mode="json")).encode()


# -- the fast dump against the reference ----------------------------------------------

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "입금", "\x00", "\x1f\x7f", "\u2028\u2029", "\"\\/", "\U0001f600", "\ufeff",
     "\ud7ff\ue000\uffff", "a,\"occurred_at\":\""])
edge_floats = st.sampled_from([0.0, -0.0, 0.1, 1.0, 100.0, 1e16, 1e15, 1e-4, 1e-5, 1e-7,
                               1e22, 1e308, 5e-324, 2.2250738585072014e-308,
                               1.2345678901234568e+17, 123456789.123, math.nan, math.inf,
                               -math.inf])
numbers = (st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1])
           | st.floats() | edge_floats)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(value=json_values)
def test_the_fast_dump_equals_the_reference_byte_for_byte(value):
    assert canonical_json(value) == reference(value)
    assert canonical_bytes(value) == reference(value).encode()


@pytest.mark.parametrize("value", [
    1e-7, 1e16, 0.1, math.nan, math.inf, -math.inf, 2**64, -2**63 - 1, 10**40,
    {1: "int key"}, {"a": {2: [1e-5]}}, {1.5: None, False: 0}, (1, "tuple"),
    True, [None, False], "\U0001f600", {"b": 1, "a": {"d": 1.5, "c": -0.0}},
], ids=repr)
def test_values_orjson_renders_differently_or_refuses_fall_back(value):
    assert canonical_json(value) == reference(value)
    assert canonical_bytes(value) == reference(value).encode()


def test_subclasses_and_other_types_render_as_the_standard_library_does():
    class Text(str):
        pass

    class Number(int):
        pass
    value = {"t": Text("x"), "n": Number(3), Text("k"): [Number(1)]}
    assert canonical_json(value) == reference(value)
    with pytest.raises(TypeError):  # not JSON for the stdlib, so not for us either
        canonical_json({"when": date(2025, 1, 1)})
    with pytest.raises(TypeError):  # keys the stdlib cannot sort
        canonical_json({None: 1, "a": 2})


def test_nesting_deeper_than_orjson_takes_still_renders():
    value: list = []
    for _ in range(300):
        value = [value]
    assert canonical_json(value) == reference(value)


def test_a_lone_surrogate_is_kept_as_text_but_refused_as_bytes():
    assert canonical_json({"a": "\ud800"}) == reference({"a": "\ud800"})
    with pytest.raises(UnencodableText, match="unpaired surrogate"):
        canonical_bytes({"a": "\ud800"})


# -- one example of every event type of every service ---------------------------------

def _json_any() -> st.SearchStrategy:
    return st.recursive(st.none() | st.booleans() | numbers | text,
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(text, inner, max_size=3), max_leaves=8)


def strategy_for(annotation, metadata=()) -> st.SearchStrategy:
    """Values of a field's type, within its constraints where they are simple (what
    the model then refuses is rejected)."""
    bounds = {}
    for m in metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern",
                     "decimal_places"):
            if getattr(m, name, None) is not None:
                bounds[name] = getattr(m, name)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is typing.Any:
        return _json_any()
    if origin is typing.Annotated:
        return strategy_for(args[0], (*metadata, *args[1:]))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(a, metadata) for a in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(strategy_for(args[0]), min_size=bounds.get("min_length", 0),
                        max_size=min(bounds.get("max_length", 3), 3))
    if origin is dict:
        return st.dictionaries(strategy_for(args[0]), strategy_for(args[1]), max_size=3)
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return st.builds(annotation, **{
            name: strategy_for(info.annotation, info.metadata)
            for name, info in annotation.model_fields.items()})
    if annotation is str:
        if "pattern" in bounds:
            return st.from_regex(bounds["pattern"], fullmatch=True)
        return st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                       min_size=bounds.get("min_length", 0),
                       max_size=min(bounds.get("max_length", 40), 40))
    if annotation is bool:
        return st.booleans()
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    if annotation is int:
        return st.integers(min_value=low, max_value=high)
    if annotation is float:
        return st.floats(min_value=low, max_value=high)
    if annotation is Decimal:
        return st.decimals(min_value=low if low is not None else -10**6,
                           max_value=high if high is not None else 10**6,
                           places=bounds.get("decimal_places", 4),
                           allow_nan=False, allow_infinity=False)
    if annotation is datetime:
        return st.datetimes(timezones=st.just(timezone.utc))
    if annotation is date:
        return st.dates()
    return st.from_type(annotation)


def _event_types() -> list[type[DomainEvent]]:
    """Every registered (type, version) of every service: the registries' models."""
    found = []
    for name in SERVICES:
        registry = importlib.import_module(f"services.{name}.domain.events").registry
        found += [model for _, model in sorted(registry._models.items())]  # noqa: SLF001
    return found


EVENT_TYPES = _event_types()


class _Plain(DomainEvent):
    event_type = "test.Plain"


def envelope_fields(event: DomainEvent, version: int = 3) -> dict:
    return {"event_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "event_type": event.event_type, "schema_version": event.version,
            "stream_id": "stream-1", "stream_version": version,
            "occurred_at": T0, "recorded_at": T0 + timedelta(seconds=1),
            "actor": {"id": "clerk-7", "role": "teller", "kind": "person"},
            "causation_id": None, "correlation_id": "corr-1", "source": "test",
            "payload": event.model_dump(mode="json"), "prev_hash": "ab" * 32}


def test_every_service_registers_event_types():
    assert len(EVENT_TYPES) > 50
    assert {m.event_type.split(".")[0] for m in EVENT_TYPES} == set(SERVICES)


@pytest.mark.parametrize("model", EVENT_TYPES, ids=lambda m: f"{m.event_type}.v{m.version}")
@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_sealing_once_gives_the_old_body_and_hash_for_every_event_type(model, data):
    try:
        event = data.draw(strategy_for(model))
    except (ValueError, TypeError, ArithmeticError):  # refused by the model: not an event
        reject()
    fields = envelope_fields(event)
    if "\x00" in reference(fields["payload"]):
        reject()  # the store refuses NUL before sealing matters
    old_env, old_body = reference_seal(fields)
    record = seal_record(fields)
    assert record.body == old_body
    assert record.envelope == old_env and record.envelope.hash == old_env.hash
    assert record.envelope.to_json().encode() == old_body
    assert seal(fields) == old_env
    assert sealed_record(record.body, record.envelope)
    assert record.envelope.is_sealed()
    assert Envelope.from_json(record.body).to_json().encode() == record.body


# -- the body's layout, on awkward text -----------------------------------------------

@settings(max_examples=150, deadline=None)
@given(actor=text.filter(bool), correlation=text, event_type=text, payload=st.dictionaries(
    text, json_values, max_size=4))
def test_the_hash_member_sits_right_after_event_type(actor, correlation, event_type,
                                                       payload):
    fields = {**envelope_fields(_Plain()),
              "actor": {"id": actor, "role": "r", "kind": "system"},
              "correlation_id": correlation, "event_type": event_type,
              "payload": payload}
    try:
        old_env, old_body = reference_seal(fields)
    except UnicodeEncodeError:
        with pytest.raises(UnencodableText):
            seal_record(fields)
        return
    record = seal_record(fields)
    assert record.body == old_body and record.envelope.hash == old_env.hash


# -- refusals as before ---------------------------------------------------------------

def test_a_lone_surrogate_in_a_payload_is_refused_by_sealing():
    fields = {**envelope_fields(_Plain()), "payload": {"title": "x\udc00y"}}
    with pytest.raises(UnencodableText, match="unpaired surrogate"):
        seal_record(fields)
    with pytest.raises(UnencodableText, match="unpaired surrogate"):
        seal(fields)
