"""A projection decodes only what it applies (shared/projection.py): an event of a
type the read model has no method for keeps its place in its stream, but its payload
is never validated or applied; a type it applies is decoded (and a bad payload parked
with its reason); a type no registry knows is refused, never skipped."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from services.scoring.adapters.read_model import ScorecardProjection
from shared.envelope import GENESIS_HASH, seal
from shared.projection import ProjectionRunner

T = datetime(2021, 4, 1, tzinfo=timezone.utc)


def record(event_type: str, payload: dict) -> SimpleNamespace:
    env = seal({"event_id": f"e-{event_type}", "event_type": event_type,
                "schema_version": 1, "stream_id": "s-1", "stream_version": 1,
                "occurred_at": T, "recorded_at": T,
                "actor": {"id": "scoring-service", "role": "system"},
                "correlation_id": "c", "source": "scoring", "payload": payload,
                "prev_hash": GENESIS_HASH})
    return SimpleNamespace(value=env.to_json().encode(), topic="t", partition=0, offset=0)


def runner() -> tuple[ProjectionRunner, list[str]]:
    projection = ScorecardProjection()
    decoded: list[str] = []
    real = projection.registry.decode

    def counting(event_type, version, payload):
        decoded.append(event_type)
        return real(event_type, version, payload)
    projection.registry = SimpleNamespace(decode=counting, knows=real.__self__.knows,
                                          latest_model=real.__self__.latest_model)
    return ProjectionRunner(projection, None, "", None), decoded


def test_a_type_the_read_model_does_not_apply_is_never_decoded():
    run, decoded = runner()
    # Not even a payload its schema would accept: it is never looked at.
    envelope, event, why, _ = run._decode(record("scoring.HeadcountRecorded", {"x": 1}))
    assert (envelope.event_type, event, why, decoded) == (
        "scoring.HeadcountRecorded", None, None, [])


def test_a_type_it_applies_is_decoded_and_a_bad_payload_refused():
    run, decoded = runner()
    _, event, why, _ = run._decode(record("scoring.ScoreComputed", {"x": 1}))
    assert event is None and why.startswith("undecodable") and \
        decoded == ["scoring.ScoreComputed"]


def test_a_type_no_one_knows_is_refused_not_skipped():
    run, _ = runner()
    _, event, why, _ = run._decode(record("scoring.Unheard", {}))
    assert event is None and why.startswith("undecodable") and "Unheard" in why
