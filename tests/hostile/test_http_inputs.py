"""Hostile requests on every HTTP endpoint of every service, in-process (the real
FastAPI app over httpx.ASGITransport, on the service's migrated database).

Bodies are the endpoint's own command broken in every way (see hostile.py), sent
with odd content types and by callers of every kind (the right role, the wrong
one, nobody); reads get odd path and query values. Never a 5xx; every 4xx is an
application/problem+json body with words and stores nothing; a 201 stored exactly
the events it names, each small enough for the relay to publish.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios import client, y2021

from . import tally
from .harness import http_input
from .hostile import EDGE_INTS, EDGE_STRINGS, ODD_STRINGS, any_bytes
from .world import OFFICER, PANEL, READER, SECRETARY, templates
from .world import template as template_of

FUZZ = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=list(HealthCheck))
ALL_TYPES = tuple(t.command_type for ts in templates().values() for t in ts)
OTHERS = [OFFICER, PANEL, SECRETARY, READER, y2021.submitter("finance"),
          y2021.expert("expert-kim"), {"id": "x" * 300, "role": "governance_officer"},
          {"id": "someone", "role": "no_such_role"}]
CONTENT_TYPES = ["application/json"] * 12 + [
    None, "text/plain", "application/json; charset=utf-16", "application/problem+json",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*"]


def _public():
    """No credentials at all, where the client can say so."""
    try:
        client.auth_headers(None)
        return [None]
    except Exception:  # noqa: BLE001 — a client that always authenticates
        return []


class Endpoints:
    """Every operation of every service's OpenAPI document; which ones were hit."""

    def __init__(self, world):
        self.ops: dict[str, list[tuple[str, str, dict]]] = {}
        for name, svc in world.services.items():
            spec = svc.api.openapi()
            self.ops[name] = [(method.upper(), path, op)
                              for path, methods in spec["paths"].items()
                              for method, op in methods.items()]
        self.hit: set[tuple[str, str, str]] = set()

    def posts(self, service: str) -> list[tuple[str, str]]:
        return [(path, op["summary"]) for m, path, op in self.ops[service] if m == "POST"]

    def gets(self, service: str) -> list[tuple[str, dict]]:
        return [(path, op) for m, path, op in self.ops[service] if m == "GET"]

    def __repr__(self) -> str:
        return f"Endpoints({ {s: len(o) for s, o in self.ops.items()} })"


@pytest_asyncio.fixture(scope="module")
async def endpoints(world):
    for svc in world.services.values():  # read models up to date with the world
        await svc.project()
    return Endpoints(world)


@pytest.mark.parametrize("service", ["submission", "scoring", "committee", "grants"])
@settings(max_examples=tally.examples(1000), **FUZZ)
@given(data=st.data())
async def test_command_endpoints(world, endpoints, service, data):
    path, command_type = data.draw(st.sampled_from(endpoints.posts(service)), label="op")
    chosen = template_of(service, command_type)
    raw = data.draw(any_bytes(chosen.body, ALL_TYPES), label="body")
    actor = data.draw(st.one_of(st.just(chosen.actor), st.just(chosen.actor),
                                st.just(chosen.actor), st.just(chosen.actor),
                                st.sampled_from(OTHERS + _public())), label="caller")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content-type")
    await http_input(world[service], f"http {service} POST", "POST", path, raw=raw,
                     actor=actor, content_type=content_type)
    endpoints.hit.add((service, "POST", path))


def _value(schema: dict):
    kinds = [s.get("type") for s in schema.get("anyOf", [schema])]
    common = st.one_of(st.sampled_from(EDGE_STRINGS + ODD_STRINGS[:20]),
                       st.text(max_size=30), st.sampled_from(EDGE_INTS))
    if "integer" in kinds:
        return st.one_of(st.sampled_from([2021, 2020, 2019, 0, 1, 9999, 10_000, -1]),
                         st.sampled_from(EDGE_INTS), common)
    return st.one_of(st.sampled_from(["finance", "planning", "2021", "2021-0041",
                                      "democracy-governance-13", "democracy",
                                      "submission.ReportSubmitted",
                                      "2021-01-01T00:00:00+00:00", "open", "decided"]),
                     common)


@pytest.mark.parametrize("service", ["submission", "scoring", "committee", "grants",
                                     "audit"])
@settings(max_examples=tally.examples(300), **FUZZ)
@given(data=st.data())
async def test_read_endpoints(world, endpoints, service, data):
    path, op = data.draw(st.sampled_from(endpoints.gets(service)), label="op")
    filled, query = path, {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            value = str(data.draw(_value(p["schema"]), label=p["name"]))
            filled = filled.replace("{" + p["name"] + "}", quote(value, safe=""))
        elif p["in"] == "query" and data.draw(st.booleans(), label=f"send {p['name']}"):
            query[p["name"]] = str(data.draw(_value(p["schema"]), label=p["name"]))
    actor = data.draw(st.sampled_from([READER, READER] + OTHERS + _public()), label="caller")
    await http_input(world[service], f"http {service} GET", "GET", filled, params=query,
                     actor=actor)
    endpoints.hit.add((service, "GET", path))


REAL_IDS = {"institution_id": "democracy", "meeting_id": "democracy-governance-13",
            "round_id": "2021", "application_id": "2021-0041", "since": "2021-01-01",
            "until": "2100-01-01", "event_type": "committee.MeetingHeld", "status": "open"}
NAMED = {
    "invalid utf-8": b'{"command_type": "\xff\xfe"}',
    "encoded surrogate": '{"name_ko": "\udcff"}'.encode("utf-8", "surrogatepass"),
    "lone surrogate escape": b'{"name_ko": "\\ud800"}',
    "nested 10,000 deep": b'{"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "1e309": b'{"year": 1e309}',
    "2**70": b'{"year": ' + str(2 ** 70).encode() + b"}",
    "2 MB string": json.dumps({"name_ko": "x" * 2_000_000}).encode(),
    "NaN": b'{"year": NaN}',
    "truncated": b'{"year": 20',
    "empty": b"",
    "not an object": b"[1, 2, 3]",
}


async def named_writes(svc, service: str, posts: list[tuple[str, str]],
                       where: str = "") -> None:
    """Each command endpoint once with its own valid command, then with each
    category the issue names (never a 5xx, always a problem body, nothing stored)."""
    surface = f"http {service} POST{where}"
    for path, command_type in posts:
        chosen = template_of(service, command_type)
        await http_input(svc, surface, "POST", path, raw=json.dumps(chosen.body).encode(),
                         actor=chosen.actor)
        nul = {k: "a\x00b" if isinstance(v, str) and k != "command_type" else v
               for k, v in chosen.body.items()}
        cases = {**NAMED, **({"NUL in text": json.dumps(nul).encode()}
                             if nul != chosen.body else {})}
        for name, raw in cases.items():
            answer = await http_input(svc, surface, "POST", path, raw=raw, actor=chosen.actor)
            assert 400 <= answer.status_code < 500, (service, path, name)


async def named_reads(svc, service: str, gets: list[tuple[str, dict]],
                      where: str = "") -> None:
    """Each read with real ids and absurd numbers, and with NUL and huge texts."""
    for path, op in gets:
        for number in ("2021", "10000", "0", "-1", str(2 ** 70), "1e309"):
            for text in (None, "\x00", "a\x00b", "x" * 5000):
                filled, query = path, {}
                for p in op.get("parameters", []):
                    if p["in"] not in ("path", "query"):
                        continue
                    integer = "integer" in [k.get("type") for k in
                                            p["schema"].get("anyOf", [p["schema"]])]
                    value = number if integer else text or REAL_IDS.get(p["name"], "x")
                    if p["in"] == "path":
                        filled = filled.replace("{" + p["name"] + "}", quote(value, safe=""))
                    else:
                        query[p["name"]] = value
                await http_input(svc, f"http {service} GET{where}", "GET", filled,
                                 params=query, actor=READER)


async def test_named_hostile_requests_on_every_endpoint(world, endpoints):
    """Every endpoint, deterministically: the named categories on each write, real
    ids with absurd numbers and NUL or huge texts on each read."""
    for service in ("submission", "scoring", "committee", "grants"):
        await named_writes(world[service], service, endpoints.posts(service))
        endpoints.hit.update((service, "POST", p) for p, _ in endpoints.posts(service))
    for service in endpoints.ops:
        await named_reads(world[service], service, endpoints.gets(service))
        endpoints.hit.update((service, "GET", p) for p, _ in endpoints.gets(service))


async def test_every_endpoint_was_exercised(endpoints):
    everything = {(s, m, p) for s, ops in endpoints.ops.items() for m, p, _ in ops}
    assert everything - endpoints.hit == set()


async def test_valid_traffic_still_flows_after_hostile_requests(world):
    await world.still_serving()
