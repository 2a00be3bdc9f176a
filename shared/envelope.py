"""The envelope every event travels in, and the SHA-256 hash chain that seals it.

Each event's hash covers its canonical JSON *including the previous event's hash in
its stream*, so editing any stored event breaks the chain from that event on.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

GENESIS_HASH = "0" * 64


class Actor(BaseModel):
    """Who caused an event: a person or a system, with the role it acted in."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=100)
    kind: Literal["person", "system"] = "system"


class Envelope(BaseModel):
    """One stored fact: metadata + payload + its link in the stream's hash chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_id: str
    event_type: str
    schema_version: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=200)
    stream_version: int = Field(ge=1)
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    causation_id: str | None = None
    correlation_id: str
    source: str
    payload: dict[str, Any]
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value.astimezone(timezone.utc)

    def to_json(self) -> str:
        """The canonical JSON of the whole envelope: what the store holds as `body`."""
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Envelope":
        return cls.model_validate_json(raw)

    def computed_hash(self) -> str:
        return chain_hash(self.model_dump(mode="json", exclude={"hash"}))

    def is_sealed(self) -> bool:
        """True when the stored hash matches the content (ignores the chain link)."""
        return self.computed_hash() == self.hash


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept (what gets hashed).

    Exactly `json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`, rendered by orjson where that is provably the same text."""
    fast = _orjson(value)
    return fast.decode() if fast is not None else _stdlib(value)


def canonical_bytes(value: Any) -> bytes:
    """`canonical_json(value).encode()`, byte for byte; text that is not valid Unicode
    (a lone surrogate) is refused with UnencodableText."""
    fast = _orjson(value)
    if fast is not None:
        return fast
    try:
        return _stdlib(value).encode()
    except UnicodeEncodeError as error:
        raise UnencodableText("text contains an unpaired surrogate (not valid Unicode)"
                              ) from error


def _stdlib(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _orjson(value: Any) -> bytes | None:
    """orjson's sorted-keys rendering, or None where it could differ from `_stdlib`'s.

    They agree on str keys, strings (the same escapes; keys sorted by code point),
    bools, None and ints; orjson refuses ints beyond 64 bits, non-str keys and lone
    surrogates (an error here: the stdlib then renders or refuses them as before).
    Floats differ in places (1e-07 against 1e-7; NaN and Infinity against null), so
    a float is left to orjson only when it renders as `repr` does. Any other type,
    subclasses included, goes to the stdlib."""
    try:
        if not _plain(value):
            return None
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, RecursionError):
        return None


_SCALARS = frozenset((str, int, bool, type(None)))  # exact types, no subclasses


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) not in _SCALARS and not _plain(item):
                return False
        return True
    if kind is float:
        return orjson.dumps(value) == repr(value).encode()
    return False


class UnencodableText(ValueError):
    """Text that is not valid Unicode (a lone surrogate) cannot be stored or hashed."""


def chain_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


class Sealed(NamedTuple):
    """A sealed envelope and its canonical JSON: the body stored and published."""

    envelope: Envelope
    body: bytes
    trace: str | None = None  # the W3C context it was recorded in (not part of the event)


def seal(fields: dict[str, Any]) -> Envelope:
    """Build an envelope from all fields but `hash`, computing the hash over them."""
    return seal_record(fields).envelope


# The member after `"hash"` in sorted order. A quote inside a string is escaped, and
# a string's closing quote is followed by `,` `:` `}` or `]`, so these bytes only ever
# start an `occurred_at` key; before the top-level one come four strings and `actor`
# (keys id, kind, role), so the first occurrence is the top-level member.
_AFTER_HASH = b',"occurred_at":"'


def seal_record(fields: dict[str, Any]) -> Sealed:
    """`seal`, with the body: validated once, dumped once. The hash covers the
    canonical JSON without `hash`; the body is that JSON with `"hash":"…"` put in its
    sorted place (right after `event_type`), exactly `envelope.to_json()`."""
    unsealed = Envelope.model_validate({**fields, "hash": GENESIS_HASH})
    content = unsealed.model_dump(mode="json")
    del content["hash"]
    hashed = canonical_bytes(content)
    digest = hashlib.sha256(hashed).hexdigest()
    at = hashed.index(_AFTER_HASH)
    body = b"".join((hashed[:at], b',"hash":"', digest.encode(), b'"', hashed[at:]))
    return Sealed(unsealed.model_copy(update={"hash": digest}), body)


_HASH_MEMBER = b',"hash":"'


def sealed_record(raw: bytes, envelope: Envelope) -> bool:
    """`envelope.is_sealed()`, answered from the record's own bytes when they are the
    canonical JSON the sealer wrote (the usual case): the SHA-256 of those bytes less
    the top-level `"hash"` member (keys are sorted, so it is the first `,"hash":"`;
    a quote inside a string is escaped) equals the claimed hash only if they are
    exactly what was sealed. Anything else gets the full check."""
    at = raw.find(_HASH_MEMBER)
    start = at + len(_HASH_MEMBER)
    if at > 0 and raw[start:start + 65] == envelope.hash.encode() + b'"' and \
            hashlib.sha256(raw[:at] + raw[start + 65:]).hexdigest() == envelope.hash:
        return True
    return envelope.is_sealed()


class ChainBreak(Exception):
    """A stored or published event whose hash chain does not hold."""

    def __init__(self, envelope: Envelope, why: str):
        super().__init__(f"event {envelope.event_id} ({envelope.stream_id} "
                         f"v{envelope.stream_version}): {why}")
        self.envelope = envelope
        self.why = why


class ChainVerifier:
    """Checks streams event by event, in stream order; duplicates are skipped.

    Feed it events in log or store order (per stream they arrive in version order).
    """

    def __init__(self) -> None:
        self.hashes: dict[str, list[str]] = {}  # per stream, the hash of each version
        self.checked = 0

    def check(self, env: Envelope) -> bool:
        """Return False for an exact duplicate already checked; raise ChainBreak if
        the event is edited, unlinked, out of order, or a fork of a checked version."""
        seen = self.hashes.setdefault(env.stream_id, [])
        if env.stream_version <= len(seen):
            if seen[env.stream_version - 1] != env.hash or not env.is_sealed():
                raise ChainBreak(env, "differs from the event already recorded at "
                                      "this version (fork or edit)")
            return False
        if env.stream_version != len(seen) + 1:
            raise ChainBreak(env, f"gap: expected version {len(seen) + 1}")
        if not env.is_sealed():
            raise ChainBreak(env, "content does not match its hash (edited?)")
        if env.prev_hash != (seen[-1] if seen else GENESIS_HASH):
            raise ChainBreak(env, "previous-hash link broken")
        seen.append(env.hash)
        self.checked += 1
        return True
