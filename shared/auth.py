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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jwt

from .envelope import Actor

PUBLIC = "public"
SUBMITTER = "institution_submitter"
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

    def verify(self, token: str, at: datetime | None = None) -> Principal:
        """`at`: judge expiry at that moment (a Kafka record's produce time)."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            claims = jwt.decode(
                token, key=key.key, algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer, leeway=30 if at is None else 0,
                options={"require": ["exp", "iat", "sub", "iss", "aud"],
                         "verify_exp": at is None})
        except (jwt.PyJWTError, ValueError) as error:
            raise Unauthenticated(f"invalid bearer token: {error}") from error
        if at is not None and claims["exp"] < at.timestamp():
            raise Unauthenticated("bearer token had expired when the command was sent")
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
    subject = str(claims["sub"])
    if not 1 <= len(subject) <= 200:  # it becomes the actor of every event it causes
        raise Unauthenticated(f"token subject must be 1 to 200 characters "
                              f"(got {len(subject)})")
    return Principal(subject, role, kind, institution)


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
    anyone, token or not. A submitter acts only for the institution in its token."""

    commands: Mapping[str, frozenset[str]]
    reads: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def check_command(self, who: Principal, command) -> None:
        allowed = self.commands.get(command.command_type, frozenset())
        if who.role not in allowed:
            raise Forbidden(f"role {who.role} may not {command.command_type}")
        _own_institution(who, getattr(command, "institution_id", None))

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
    "reads": {path: [roles]}}; `auditor` is added to every read (read everything)."""
    data = json.loads(path.read_text())
    return Policy(
        commands={c: roles(*r) for c, r in data["commands"].items()},
        reads={p: roles(*r, "auditor") for p, r in data["reads"].items()})


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()
