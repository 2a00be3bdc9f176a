"""`history ENTITY`: every event that touched an entity — when, who, why, and the
value before and after."""
from __future__ import annotations

from shared.envelope import Envelope

from .log import Logged

RULE_KEYS = ("rulebook_ref", "rules_ref", "allowance_rule_ref", "youth_rule_ref")
ID_KEYS = {"institution": "institution_id", "committee": "committee_id",
           "meeting": "meeting_id", "application": "application_id",
           "organisation": "organisation_id", "round": "round_id", "cycle": "cycle_id"}


def matches(entity: str, e: Envelope) -> bool:
    """`institution:planning`, `score:2021:planning:governance-case`, `committee:…`,
    `meeting:…`, `application:…`, `organisation:…`, `round:…`, or a stream id."""
    kind, _, rest = entity.partition(":")
    if kind == "score":
        year, institution, indicator = rest.split(":")
        return e.stream_id == f"scorecard-{year}-{institution}" and \
            e.payload.get("indicator_id") == indicator
    if kind in ID_KEYS:
        return e.payload.get(ID_KEYS[kind]) == rest or e.stream_id.endswith(f"-{rest}") and \
            e.stream_id.split("-", 1)[0] in (kind, "report", "scorecard")
    return e.stream_id == entity


def history(entity: str, items: list[Logged]) -> list[dict]:
    seen, last_points, out = set(), {}, []
    for item in items:
        e = item.envelope
        if e is None or e.event_id in seen:
            continue  # duplicates in the log are the same fact
        seen.add(e.event_id)
        key = (e.stream_id, e.payload.get("indicator_id"))
        before = last_points.get(key)
        if "points" in e.payload and e.event_type.endswith("ScoreComputed"):
            last_points[key] = e.payload["points"]
        if "to_points" in e.payload:
            last_points[key] = e.payload["to_points"]
        if matches(entity, e):
            out.append(_line(e, before))
    return out


def _line(e: Envelope, before) -> dict:
    p = e.payload
    after = p.get("to_points", p.get("points"))
    return {
        "when": e.recorded_at.isoformat(), "event": e.event_type, "event_id": e.event_id,
        "stream": f"{e.stream_id} v{e.stream_version}",
        "who": f"{e.actor.id} ({e.actor.role})",
        "why": p.get("reason") or p.get("explanation") or p.get("grounds") or "",
        "rule": next((p[k] for k in RULE_KEYS if p.get(k)), ""),
        "inputs": p.get("inputs", []),
        "before": p.get("from_points", before), "after": after,
        "correlation_id": e.correlation_id, "causation_id": e.causation_id,
    }
