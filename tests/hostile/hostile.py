"""Hostile inputs: hypothesis strategies that break valid messages in every way we know.

A valid template (a real command, a real external fact, a real event envelope) is
mutated at the JSON level — fields dropped, added, retyped, given huge numbers,
huge or invalid strings, deep nesting, duplicate keys, unknown versions — and then,
sometimes, at the byte level: invalid UTF-8, encoded surrogates, truncation, a BOM,
UTF-16, trailing garbage, random bytes, nothing at all.

`encode` writes JSON with `Raw` fragments verbatim, so numbers like 1e309 or
2**70 and lone-surrogate escapes reach the parser exactly as an attacker sends them.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from hypothesis import strategies as st

from shared.envelope import seal


@dataclass(frozen=True)
class Raw:
    """A JSON fragment written as is (may be invalid JSON on purpose)."""
    text: str


def encode(value) -> bytes:
    return _dumps(value).encode("utf-8", "surrogatepass")


def _dumps(value) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, DupKeys):
        return "{" + ",".join(f"{_str(k)}:{_dumps(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_str(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    if isinstance(value, str):
        return _str(value)
    return json.dumps(value)  # inf/nan become Infinity/NaN: not JSON, on purpose


def _str(s: str) -> str:
    try:
        s.encode("utf-8")
        return json.dumps(s, ensure_ascii=False)
    except UnicodeEncodeError:  # a lone surrogate: send it as a \\uXXXX escape
        return json.dumps(s, ensure_ascii=True)


@dataclass(frozen=True)
class DupKeys:
    """A JSON object with a repeated key (which one wins is up to the parser)."""
    pairs: tuple


def nested(depth: int, kind: str = "list") -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "0" + "}" * depth)


HUGE_NUMBERS = [Raw("1e309"), Raw("-1e309"), Raw("1e-400"), Raw(str(2 ** 70)),
                Raw(str(-2 ** 70)), Raw(str(2 ** 63)), Raw(str(2 ** 64)), Raw(str(2 ** 31)),
                Raw("9" * 400), Raw("1" + "0" * 4300), Raw("NaN"), Raw("Infinity"),
                Raw("-Infinity"), Raw("-0"), Raw("2021.0"), Raw("2021.5"), Raw("2.021e3"),
                Raw("0x7E5"), Raw("+2021"), Raw("01"), Raw(".5"), Raw("1.")]
ODD_STRINGS = ["", " ", "\x00", "a\x00b", "\t\n\r", "null", "true", "2021", "1e309",
               "'; DROP TABLE events; --", "../../etc/passwd", "%s%n%x", "{{7*7}}",
               "<script>alert(1)</script>", "\u202e\u200b\ufeff", "😀" * 30, "서울" * 60,
               "A" * 101, "A" * 201, "B" * 2001, "C" * 4001, "D" * 20001,
               "2021-02-30", "0000-01-01", "9999-12-31T23:59:59", "2021-01-01T00:00:00",
               "2021-01-01T00:00:00+25:00", "2021-13-01", "P1D", "now",
               "hr.HeadcountReported", "submission.ReportSubmitted", "SubmitReport"]
LONE_SURROGATES = [Raw('"\\ud800"'), Raw('"x\\udfffy"'), Raw('"\\udbff\\udbff"'),
                   Raw('"\\u0000"'), Raw('"\\uZZZZ"'), Raw('"\\x41"'), Raw("'single'"),
                   Raw('"unterminated'), Raw('"\\"')]
DEEP = [nested(10_000), nested(10_000, "object"), nested(1_000), nested(200, "object"),
        nested(64)]

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(max_size=30), st.sampled_from(ODD_STRINGS), st.sampled_from(HUGE_NUMBERS),
    st.sampled_from(LONE_SURROGATES))
json_values = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=12), inner, max_size=4), max_leaves=8)
hostile_values = st.one_of(leaf, json_values, st.sampled_from(DEEP),
                           st.integers(min_value=100_000, max_value=1_000_000).map(
                               lambda n: "x" * n))


def paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON document (dict keys and list indices), the root first."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*prefix, i))
    return found


def _parent(doc, path):
    node = doc
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated(draw, template, swaps: tuple[str, ...] = ()):
    """A template broken in one to three ways (at any depth)."""
    doc = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "set", "set", "drop", "extra", "dup", "grow",
                                   "swap", "root"]))
        inner = paths(doc)[1:] if isinstance(doc, (dict, list)) else []
        if op == "root" or not inner:
            doc = draw(hostile_values)
            continue
        path = draw(st.sampled_from(inner))
        target = _parent(doc, path)
        if op == "set":
            target[path[-1]] = draw(hostile_values)
        elif op == "drop":
            del target[path[-1]]
        elif op == "extra":
            node = _parent(doc, (*path, None))
            node = node if isinstance(node, dict) else doc
            if isinstance(node, dict):
                node[draw(st.sampled_from(["extra", "command_type", "__proto__", "id",
                                           "schema_version", "ü", ""]))] = draw(hostile_values)
        elif op == "dup" and isinstance(target, dict):
            dup = DupKeys(tuple(target.items()) + ((path[-1], draw(hostile_values)),))
            if len(path) == 1:
                doc = dup
            else:
                _parent(doc, path[:-1])[path[-2]] = dup
            break  # DupKeys is opaque to further mutation
        elif op == "grow":
            item = target[path[-1]]
            times = draw(st.sampled_from([51, 201, 1001, 5000]))
            if len(encode(item)) * times > 1_000_000:  # a few MB at most, not hundreds
                times = 2
            target[path[-1]] = [item] * times
            break  # the copies share one object: a later edit would hit them all
        elif op == "swap" and swaps and isinstance(doc, dict):
            node = doc.get("command", doc)
            if isinstance(node, dict):
                node["command_type"] = draw(st.sampled_from(
                    [*swaps, "DropAllTables", "", "submitreport", "SubmitReport "]))
    return doc


@st.composite
def hostile_bytes(draw, template, swaps: tuple[str, ...] = ()) -> bytes:
    """Bytes of a broken template; sometimes broken again at the byte level."""
    raw = encode(draw(mutated(template, swaps)))
    how = draw(st.sampled_from(["json"] * 6 + ["bad-utf8", "surrogate-bytes", "truncate",
                                               "bom", "utf16", "trailing", "random", "empty"]))
    if how == "json":
        return raw
    cut = draw(st.integers(0, max(0, len(raw))))
    if how == "bad-utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xc3\x28",
                                     b"\xe2\x28\xa1", b"\xf8\x88\x80\x80\x80", b"\x80",
                                     b"\xf0\x9f\x98"]))
        return raw[:cut] + junk + raw[cut:]
    if how == "surrogate-bytes":
        return raw[:cut] + "\udcff\ud800".encode("utf-8", "surrogatepass") + raw[cut:]
    if how == "truncate":
        return raw[:cut]
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "utf16":
        return raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if how == "trailing":
        return raw + draw(st.sampled_from([b"}", b" garbage", b"\x00", b"{}", b"\n{}"]))
    if how == "random":
        return draw(st.binary(max_size=200))
    return b""


# ------------------------------------------------------------ plausible inputs
# Type-preserving edits at the edges: they pass the JSON parser and often the schema,
# so they reach the handlers, the domain rules and the database.
EDGE_STRINGS = ["", "x" * 100, "x" * 101, "y" * 200, "y" * 201, "z" * 2000, "z" * 2001,
                "w" * 4001, "v" * 20_001, "a\x00b", "\x00", "서울" * 40, "😀", " lead",
                "trail ", "a b", "a/b", "a%2Fb", "..", "-", "_", "A.B:C-D_E", "finance",
                "planning", "no-such-thing", "2021", "2021-0041", "2021-0099", "member-a",
                "member-g", "expert-kim", "reviewer-1", "governance-case",
                "committee-meetings", "democracy-governance-13", "org-0041", "2020-02-29",
                "2021-04-01", "2100-12-31", "1900-01-01", "2021-04-01T14:00:00+09:00",
                "2021-04-01T14:00:00Z", "2021-04-01T14:00:00", "9999-12-31T23:59:59+14:00",
                "0001-01-01T00:00:00+00:00", "7.5", "-0.01", "1000.001", "1e3", "NaN",
                "Infinity", "99999.99", "0.005"]
EDGE_INTS = [0, -1, 1, 2, 14, 15, 20, 21, 100, 1900, 1899, 2000, 2021, 2100, 2101, 10_000,
             10_001, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 2 ** 70, -2 ** 70,
             10 ** 13, 10 ** 13 + 1, 30_000_000, 30_000_001, 2_000_000_000]
EDGE_SPECIAL = [Raw("1e309"), Raw("-1e309"), Raw(str(2 ** 70)), Raw("1.5"), Raw("-0.0"),
                Raw('"\\ud800"'), Raw('"\\u0000"'), nested(3), nested(10_000)]


@st.composite
def _edge_for(draw, value):
    if isinstance(value, bool):
        return draw(st.sampled_from([not value, 1, 0, "true", None]))
    if isinstance(value, int):
        return draw(st.one_of(st.sampled_from(EDGE_INTS), st.integers(),
                              st.sampled_from([str(value), float(value)])))
    if isinstance(value, float):
        return draw(st.one_of(st.floats(), st.sampled_from(EDGE_INTS)))
    if isinstance(value, str):
        return draw(st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=40),
                              st.just(value + "-x"), st.just(value.upper())))
    if isinstance(value, list):
        if not value:
            return draw(st.sampled_from([[], [None], [{}]]))
        long = [(value * 1001)[:1001]] if len(encode(value)) < 1_000 else []
        # copies, not 1001 references to a few objects that a later edit would change
        return copy.deepcopy(draw(st.sampled_from([[], value[:1], value + value[:1],
                                                   value * 2, list(reversed(value)),
                                                   *long])))
    if isinstance(value, dict):
        return draw(st.sampled_from([{}, {**value, "extra": 1}]))
    return draw(st.sampled_from([0, "", [], {}]))


@st.composite
def plausible(draw, template, under: tuple = ()):
    """The template with one to three leaves (or lists) at or below `under` changed
    to an edge value of a similar type, or to a special value now and then."""
    doc = copy.deepcopy(template)
    places = [p for p in paths(doc) if p[:len(under)] == under and len(p) > len(under)]
    for _ in range(draw(st.integers(1, 3))):
        if not places:
            break
        path = draw(st.sampled_from(places))
        try:
            target = _parent(doc, path)
            current = target[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # moved by an earlier edit
        if draw(st.integers(0, 9)) == 0:
            target[path[-1]] = draw(st.sampled_from(EDGE_SPECIAL))
        elif draw(st.integers(0, 9)) == 0 and isinstance(target, dict):
            del target[path[-1]]
        else:
            target[path[-1]] = draw(_edge_for(current))
    return doc


# Growing lists inside lists can make hundreds of megabytes; a message of a few MB is
# already over every limit (the broker takes ~1 MiB), so longer ones are cut here.
MAX_MESSAGE = 2_500_000


@st.composite
def any_bytes(draw, template, swaps: tuple[str, ...] = (), under: tuple = ()):
    """Half hostile (broken anywhere, any way), half plausible (edges, deep inside)."""
    if draw(st.booleans()):
        return draw(hostile_bytes(template, swaps))[:MAX_MESSAGE]
    return encode(draw(plausible(template, under)))[:MAX_MESSAGE]


@st.composite
def hostile_envelope(draw, envelopes: list[dict], new_id: str = "CMDID-PLACEHOLDER"):
    """A real envelope, broken; often sealed again so it passes the hash check and
    reaches the consumer's stream-order check and contract."""
    original = draw(st.sampled_from(envelopes))
    if draw(st.booleans()):
        doc = draw(mutated(original, ("submission.ReportSubmitted",)))
    else:  # inside: the payload, or the stream position and identity
        doc = draw(plausible(original, draw(st.sampled_from([("payload",), ()]))))
    what = draw(st.sampled_from(["as-is", "reseal", "reseal", "reseal", "reseal-gap",
                                 "reseal-new-id", "reseal-new-id"]))
    if isinstance(doc, dict) and what != "as-is":
        fields = {k: v for k, v in doc.items() if k != "hash"}
        if what == "reseal-gap" and isinstance(fields.get("stream_version"), int):
            fields["stream_version"] += draw(st.integers(2, 5))
        if what == "reseal-new-id":
            fields["event_id"] = new_id
        try:
            doc = json.loads(seal(fields).to_json())
        except Exception:  # noqa: BLE001 — not an envelope any more: send it unsealed
            pass
    return encode(doc)[:MAX_MESSAGE]
