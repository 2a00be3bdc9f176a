"""The compose stack's secret files, made once (never committed) under
deploy/compose-secrets/local/ (a directory only its owner may enter):

    .venv/bin/python deploy/compose-secrets/generate.py [--dir DIR] [--jwks FILE]

- jwks.json       the single sign-on's public keys (AUTH_JWKS_FILE); by default the
                  development SSO's (scenarios/sso.py), replaced on every run
- committee-kek   the committee's key-encryption keys (scenarios/dev_kek.py)
- kafka/admin.password and kafka/<principal>.password for every principal of the ACL plan
                  (tools/kafka_security.py: svc-<service>, ext-<system>)
- kafka/jaas.conf the broker's JAAS file (KAFKA_OPTS=-Djava.security.auth.login.config):
                  the admin over SASL/PLAIN (its password lives only here and in
                  admin.password), SCRAM-SHA-512 for everyone else (their credentials are
                  set by the kafka-setup service, from the password files)
- kafka/admin.properties  client settings for the Kafka tools (the healthcheck)

Existing passwords and keys are kept: rerunning changes nothing but the JWKS. The files
are world-readable inside the owner-only directory: the containers read them as their
own users (10001 for the services, 1000 for Kafka) through compose's file secrets, which
are bind mounts keeping the host's owner and mode.
"""
from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
READABLE = 0o444


def _write_once(path: Path, text: str) -> str:
    if not path.exists():
        path.write_text(text)
    path.chmod(READABLE)
    return path.read_text()


def generate(directory: Path = HERE / "local", jwks: Path | None = None) -> Path:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from scenarios.dev_kek import FIRST, new_key, write_kek_file  # noqa: PLC0415
    from tools.kafka_security import principals  # noqa: PLC0415

    kafka = directory / "kafka"
    kafka.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    kafka.chmod(0o700)

    if jwks is None:
        from scenarios.sso import dev_sso  # noqa: PLC0415
        jwks = dev_sso().jwks
    target = directory / "jwks.json"
    if target.exists():
        target.chmod(0o644)
    shutil.copyfile(jwks, target)
    target.chmod(READABLE)

    kek = directory / "committee-kek"
    if not kek.exists():
        write_kek_file(kek, FIRST, {FIRST: new_key()})
    kek.chmod(READABLE)

    admin = _write_once(kafka / "admin.password", secrets.token_hex(24))
    for principal in principals("hyeopchi"):
        _write_once(kafka / f"{principal}.password", secrets.token_hex(24))
    jaas = (
        "KafkaServer {\n"
        "  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        f'    username="admin" password="{admin}" user_admin="{admin}";\n'
        "  org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
        "};\n")
    for name, text in (("jaas.conf", jaas), ("admin.properties", (
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
            f'required username="admin" password="{admin}";\n'))):
        path = kafka / name
        if path.exists():
            path.chmod(0o644)
        path.write_text(text)
        path.chmod(READABLE)
    return directory


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, default=HERE / "local")
    p.add_argument("--jwks", type=Path, help="the SSO's JWKS file (default: the "
                                             "development SSO's)")
    args = p.parse_args(argv)
    print(generate(args.dir, args.jwks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
