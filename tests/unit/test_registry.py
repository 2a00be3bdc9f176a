"""Versioned event models, upcasting and schema export, on the toy ledger registry."""
from __future__ import annotations

import pytest

from shared.registry import (DomainEvent, EventRegistry, InvalidPayload,
                             UnknownEventType, UnknownSchemaVersion)
from tests.support.ledger import Deposited, DepositedV1, registry


def test_v1_payload_is_upcast_to_v2_with_krw():
    event = registry.decode("ledger.Deposited", 1, {"amount": 5000})
    assert type(event) is Deposited
    assert (event.amount, event.currency) == (5000, "KRW")


def test_v2_payload_validates_as_is():
    event = registry.decode("ledger.Deposited", 2, {"amount": 7, "currency": "USD"})
    assert type(event) is Deposited
    assert (event.amount, event.currency) == (7, "USD")


def test_v2_payload_missing_currency_is_invalid():
    with pytest.raises(InvalidPayload, match="currency"):
        registry.decode("ledger.Deposited", 2, {"amount": 7})


def test_unknown_type_names_the_type():
    with pytest.raises(UnknownEventType, match="ledger.Withdrawn"):
        registry.decode("ledger.Withdrawn", 1, {"amount": 1})


def test_future_version_is_unknown():
    with pytest.raises(UnknownSchemaVersion) as caught:
        registry.decode("ledger.Deposited", 3, {"amount": 1, "currency": "KRW"})
    assert str(caught.value) == "ledger.Deposited v3 is not known (known up to v2)"


def test_version_zero_is_unknown():
    with pytest.raises(UnknownSchemaVersion, match="v0 is not known"):
        registry.decode("ledger.Deposited", 0, {"amount": 1})


@pytest.mark.parametrize("payload, field", [
    ({"amount": "abc"}, "amount"),
    ({"amount": 1, "teller": "kim"}, "teller"),
])
def test_invalid_v1_payload_names_the_field(payload, field):
    with pytest.raises(InvalidPayload, match=r"ledger\.Deposited v1 payload is invalid") as caught:
        registry.decode("ledger.Deposited", 1, payload)
    assert field in str(caught.value)
    assert [e["loc"] for e in caught.value.errors] == [(field,)]


def test_missing_upcaster_is_an_unknown_version():
    reg = EventRegistry()
    reg.register(DepositedV1)
    reg.register(Deposited)
    with pytest.raises(UnknownSchemaVersion, match="no upcaster for ledger.Deposited v1"):
        reg.decode("ledger.Deposited", 1, {"amount": 1})
    # the current version still decodes without any upcaster
    assert reg.decode("ledger.Deposited", 2, {"amount": 1, "currency": "KRW"}).amount == 1


def test_registering_the_same_type_and_version_twice_fails():
    reg = EventRegistry()
    reg.register(Deposited)

    class Again(DomainEvent):
        event_type = "ledger.Deposited"
        version = 2
        amount: int

    with pytest.raises(ValueError, match="registered twice"):
        reg.register(Again)


def test_json_schemas_export_every_version():
    schemas = registry.json_schemas()
    assert {"ledger.Deposited.v1", "ledger.Deposited.v2"} <= schemas.keys()
    assert "currency" in schemas["ledger.Deposited.v2"]["required"]
    assert "currency" not in schemas["ledger.Deposited.v1"]["properties"]


def test_merged_keeps_models_and_upcasters_of_both():
    class Withdrawn(DomainEvent):
        event_type = "ledger.Withdrawn"
        amount: int

    other = EventRegistry()
    other.register(Withdrawn)
    merged = registry.merged(other)
    assert merged.knows("ledger.Deposited") and merged.knows("ledger.Withdrawn")
    assert merged.decode("ledger.Deposited", 1, {"amount": 3}).currency == "KRW"
    assert type(merged.decode("ledger.Withdrawn", 1, {"amount": 3})) is Withdrawn
    assert not registry.knows("ledger.Withdrawn")  # the originals are untouched
