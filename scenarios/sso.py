"""A stand-in for the city's single sign-on, for the demo and the tests only.

It makes an ES256 key pair on first use (under HYEOPCHI_DEV_SSO_DIR, default
.run/dev-sso; never committed), publishes the public key as a JWKS file, points
AUTH_JWKS_FILE at it for every service started from this process, and signs tokens
for the scenario's actors. Services only ever see the public key.
"""
from __future__ import annotations

import json
import os
import time
from functools import cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER, AUDIENCE, KID = "seoul-sso", "hyeopchi", "dev-sso-1"


class DevSSO:
    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        pem = directory / "signing-key.pem"
        if not pem.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
            pem.chmod(0o600)
        self.key = serialization.load_pem_private_key(pem.read_bytes(), None)
        self.jwks = directory / "jwks.json"
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks.write_text(json.dumps({"keys": [{**public, "kid": KID, "use": "sig",
                                                    "alg": "ES256"}]}))
        self._issued: dict[tuple, tuple[float, str]] = {}

    def issue(self, actor: dict, ttl: int = 900, **overrides) -> str:
        """A token for {"id", "role", "kind"?, "institution_id"?, "committees"?};
        cached while it has five minutes left. 15 minutes by default: the longest a
        command's token may live on Kafka (COMMAND_TOKEN_MAX_LIFETIME_S)."""
        key = json.dumps([actor, ttl, overrides], sort_keys=True, default=str)
        now = time.time()
        if key in self._issued and self._issued[key][0] > now + 300:
            return self._issued[key][1]
        claims = {"sub": actor["id"], "role": actor["role"],
                  "kind": actor.get("kind", "person"), "iss": ISSUER, "aud": AUDIENCE,
                  "iat": int(now), "exp": int(now + ttl)}
        if actor.get("institution_id"):
            claims["inst"] = actor["institution_id"]
        if actor.get("committees"):
            claims["committees"] = list(actor["committees"])
        claims.update(overrides)
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": KID})
        if "exp" not in overrides and "iat" not in overrides:
            self._issued[key] = (now + ttl, token)
        return token


@cache
def dev_sso() -> DevSSO:
    sso = DevSSO(Path(os.environ.get("HYEOPCHI_DEV_SSO_DIR", ".run/dev-sso")).resolve())
    os.environ["AUTH_JWKS_FILE"] = str(sso.jwks)  # inherited by services started later
    return sso
