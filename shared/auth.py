"""Who is asking, and may they: bearer tokens from the city's single sign-on, and
each service's role policy (인증·권한).

Tokens are JWTs signed by the SSO (ES256/RS256/EdDSA; never `none` or shared-secret
HMAC) and checked against the public keys in AUTH_JWKS_FILE, with issuer, audience
and expiry. The principal — never the request body — is the actor of every event.
A service holds no private key; with no keys configured it fails closed (only
public read models answer).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

import jwt

from .envelope import Actor

PUBLIC = "public"
SUBMITTER = "institution_submitter"
SECRETARY = "committee_secretary"
SYSTEM = "city_system"
AUDITOR = "auditor"
ROLES = frozenset({
    SUBMITTER, "governance_officer", "external_expert", "panel_member",
    "committee_secretary", "youth_office_head", "grants_officer", "grant_reviewer",
    "auditor", PUBLIC, "city_system"})
ALGORITHMS = ["ES256", "RS256", "EdDSA"]


class Unauthenticated(Exception):
    status, kind = 401, "unauthenticated"


class Forbidden(Exception):
    status, kind = 403, "forbidden"


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    kind: str = "person"                 # person | system (machine clients)
    institution_id: str | None = None    # a submitter's own institution
    committees: frozenset[str] = frozenset()  # a committee secretary's committees

    def actor(self) -> Actor:
        return Actor(id=self.id, role=self.role, kind=self.kind)


ANONYMOUS = Principal("anonymous", PUBLIC)


class Verifier:
    """Checks tokens against the SSO's public keys (reloaded when the file changes)."""

    def __init__(self, jwks_file: str, issuer: str, audience: str):
        self.path = Path(jwks_file) if jwks_file else None
        self.issuer, self.audience = issuer, audience
        self._keys: dict[str, jwt.PyJWK] = {}
        self._stamp: float | None = None

    def verify(self, token: str, at: datetime | None = None, skew_s: int = 30,
               max_lifetime_s: int | None = None) -> Principal:
        """Check signature, issuer, audience and time. `at`: judge the token at that
        moment (a Kafka command's broker append time) instead of now: refused if it
        expired before `at` or was issued after it (beyond `skew_s`), or if it lives
        longer than `max_lifetime_s` (a long-lived token copied from a topic would be
        worth replaying)."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            claims = jwt.decode(
                token, key=key.key, algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer, leeway=skew_s,
                options={"require": ["exp", "iat", "sub", "iss", "aud"],
                         "verify_exp": at is None, "verify_iat": at is None})
        except (jwt.PyJWTError, ValueError) as error:
            raise Unauthenticated(f"invalid bearer token: {error}") from error
        if at is not None:
            _judge_at(claims, at.timestamp(), skew_s)
        if max_lifetime_s is not None and claims["exp"] - claims["iat"] > max_lifetime_s:
            raise Unauthenticated(f"bearer token lives {claims['exp'] - claims['iat']} s; "
                                  f"a command's token may live at most {max_lifetime_s} s")
        return _principal(claims)

    def _key(self, kid: str | None) -> jwt.PyJWK:
        if self.path is None:
            raise Unauthenticated("no signing keys configured (AUTH_JWKS_FILE): "
                                  "only public read models are served")
        stamp = self.path.stat().st_mtime
        if stamp != self._stamp:
            keys = jwt.PyJWKSet.from_json(self.path.read_text()).keys
            self._keys, self._stamp = {k.key_id: k for k in keys}, stamp
        if kid not in self._keys:
            raise Unauthenticated(f"token signed with unknown key id {kid!r}")
        return self._keys[kid]


def _judge_at(claims: dict, at: float, skew_s: int) -> None:
    moment = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    if not isinstance(claims["exp"], int | float) or not isinstance(claims["iat"],
                                                                     int | float):
        raise Unauthenticated("bearer token's exp and iat must be numbers (NumericDate)")
    if claims["exp"] + skew_s < at:
        raise Unauthenticated(f"bearer token had expired when the broker appended the "
                              f"command ({moment})")
    if claims["iat"] - skew_s > at:
        raise Unauthenticated(f"bearer token was issued after the broker appended the "
                              f"command ({moment})")


def _principal(claims: dict) -> Principal:
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated(f"token has no known role (got {role!r})")
    kind = claims.get("kind", "person")
    if kind not in ("person", "system"):
        raise Unauthenticated(f"token kind must be person or system (got {kind!r})")
    institution = claims.get("inst")
    if role == SUBMITTER and not institution:
        raise Unauthenticated("a submitter's token must name its institution (inst)")
    if role == SYSTEM and kind != "system":
        raise Unauthenticated("a city system's token must say kind: system")
    subject = str(claims["sub"])
    if not 1 <= len(subject) <= 200:  # it becomes the actor of every event it causes
        raise Unauthenticated(f"token subject must be 1 to 200 characters "
                              f"(got {len(subject)})")
    return Principal(subject, role, kind, institution, _committees(role, claims))


def _committees(role: str, claims: dict) -> frozenset[str]:
    """A committee secretary acts for the committees their token names, only."""
    found = claims.get("committees", [])
    if not isinstance(found, list) or not all(isinstance(c, str) and 0 < len(c) <= 100
                                              for c in found) or len(found) > 1000:
        raise Unauthenticated("token claim committees must be a list of committee ids")
    if role == SECRETARY and not found:
        raise Unauthenticated("a committee secretary's token must name their "
                              "committees (committees)")
    return frozenset(found)


_VERIFIER: dict[tuple, Verifier] = {}


def verifier() -> Verifier:
    """The process's verifier, from AUTH_JWKS_FILE / AUTH_ISSUER / AUTH_AUDIENCE."""
    from .settings import ServiceSettings  # noqa: PLC0415
    s = ServiceSettings()
    key = (s.auth_jwks_file, s.auth_issuer, s.auth_audience)
    if key not in _VERIFIER:
        _VERIFIER[key] = Verifier(*key)
    return _VERIFIER[key]


@dataclass(frozen=True)
class Policy:
    """Which roles may send each command and read each route (rule data per service).

    `reads` maps a route's path template to its roles; PUBLIC among them means
    anyone, token or not. A submitter acts only for the institution in its token, a
    committee secretary only for the committees in theirs, and each city system
    (role city_system, its own subject) only for the command types `systems` lists
    under its id."""

    commands: Mapping[str, frozenset[str]]
    reads: Mapping[str, frozenset[str]] = field(default_factory=dict)
    systems: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def check_command_type(self, who: Principal, command_type: str) -> None:
        """What can be judged before the command's body is read."""
        if who.role not in self.commands.get(command_type, frozenset()):
            raise Forbidden(f"role {who.role} may not {command_type}")
        if who.role == SYSTEM and command_type not in self.systems.get(who.id, ()):
            raise Forbidden(f"city system {who.id!r} may not {command_type} (it may: "
                            f"{', '.join(sorted(self.systems.get(who.id, ()))) or 'nothing'})")

    def check_command(self, who: Principal, command) -> None:
        self.check_command_type(who, command.command_type)
        _own_institution(who, getattr(command, "institution_id", None))
        committee = getattr(command, "committee_id", None)
        if committee is not None:
            require_committee(who, committee)

    def check_read(self, who: Principal, route: str, params: Mapping[str, str]) -> None:
        allowed = self.reads.get(route)
        if allowed is None:
            raise Forbidden(f"no read policy for {route}")  # fail closed
        if PUBLIC in allowed:
            return
        if who is ANONYMOUS:
            raise Unauthenticated(f"{route} needs a bearer token")
        if who.role not in allowed:
            raise Forbidden(f"role {who.role} may not read {route}")
        _own_institution(who, params.get("institution_id"), route)


def require_committee(who: Principal, committee_id: str) -> None:
    """A committee secretary acts only for the committees named in their token."""
    if who.role == SECRETARY and committee_id not in who.committees:
        raise Forbidden(f"secretary {who.id} acts for {', '.join(sorted(who.committees))}, "
                        f"not for committee {committee_id}")


# The principal a command is being executed for, set by the edge (HTTP or Kafka) around
# the handler, so that a handler can check a scope only the loaded state reveals (a
# meeting's committee) without every handler signature carrying it.
_ACTING: ContextVar[Principal | None] = ContextVar("acting", default=None)


@contextmanager
def acting(who: Principal) -> Iterator[None]:
    token = _ACTING.set(who)
    try:
        yield
    finally:
        _ACTING.reset(token)


def may_act_for(committee_id: str) -> bool:
    """Whether the current caller (if any) may act for this committee."""
    try:
        require_committee_of_caller(committee_id)
    except Forbidden:
        return False
    return True


def require_committee_of_caller(committee_id: str) -> None:
    """In a handler: the current caller may act for this committee (no caller = a
    process of the service itself, e.g. a replay)."""
    who = _ACTING.get()
    if who is not None:
        require_committee(who, committee_id)


def _own_institution(who: Principal, institution: str | None, what: str = "") -> None:
    if who.role != SUBMITTER:
        return
    if institution is None:
        raise Forbidden(f"a submitter acts only on its own institution {what}".strip())
    if institution != who.institution_id:
        raise Forbidden(f"a submitter of {who.institution_id} may not act for "
                        f"{institution}")


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return frozenset(names)


def load_policy(path: Path) -> Policy:
    """A service's policy from its JSON rule file: {"commands": {type: [roles]},
    "reads": {path: [roles]}, "systems": {city system id: [command types]},
    "personal_reads": [path]}. `auditor` is added to every read but the personal ones:
    auditors read every decision, never a person's decrypted data."""
    data = json.loads(path.read_text())
    personal = set(data.get("personal_reads", []))
    unknown = personal - set(data["reads"])
    if unknown:
        raise ValueError(f"personal_reads names routes with no read policy: {unknown}")
    systems = {s: frozenset(c) for s, c in data.get("systems", {}).items()}
    for system, types in systems.items():
        if not types <= set(data["commands"]):
            raise ValueError(f"system {system} is given unknown commands "
                             f"{sorted(types - set(data['commands']))}")
    return Policy(
        commands={c: roles(*r) for c, r in data["commands"].items()},
        reads={p: roles(*r) if p in personal else roles(*r, AUDITOR)
               for p, r in data["reads"].items()},
        systems=systems)


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()
