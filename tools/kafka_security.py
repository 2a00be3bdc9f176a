"""The Kafka security profile: who may do what on the cluster, derived from the services.

Every service runs as its own SCRAM principal `svc-<service>`; other city systems each
have one (`ext-*`) that may write only its own topic. The plan below is computed from
each service's spec() — the same topics and groups the runtime uses — so a new consumer
or projection gets its rights by being declared, and nothing else gets any:

- READ on every topic it consumes (consumers and projections), READ on each consumer
  group `<service>.<consumer>`;
- WRITE on its own events topic (the outbox relay publishes only there) and on the
  dead-letter topic `<topic>.dlq` of every topic it reads (where it parks records);
- DESCRIBE on the other topics its start checks (ensure_topics: owned and consumed
  topics and their DLQs) — existence only, no data — and DESCRIBE_CONFIGS on all of
  them: a service refuses to start when a topic's retention or time settings drifted
  from its kind's (shared/topics.py);
- no CREATE, DELETE, ALTER, ALTER_CONFIGS or cluster right. The admin creates every topic up front
  (`apply`): topic settings (keep forever, partitions) stay the operator's, and a
  compromised service cannot make topics. An idempotent producer needs no
  IDEMPOTENT_WRITE: since Kafka 3.0, WRITE on a topic is enough for its producer id.

Run as admin (super user): `python -m tools.kafka_security apply --bootstrap B
--secrets DIR` creates missing password files (0600) in DIR, sets every principal's
SCRAM credentials from them, creates the topics, and makes the ACLs of the plan's
principals exactly the plan (extra ones are deleted). `plan` prints it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import services
from shared.kafka_io import kafka_admin
from shared.settings import ServiceSettings
from shared.topics import Topic, commands_topic, dead_letter_topic, ensure_topics, events_topic
from shared.topics import prefix as topic_prefix
from shared.topics import prefixed

SERVICES = services.NAMES
MECHANISM = "SCRAM-SHA-512"
# Who sends each command service its commands (README, "Topics").
COMMAND_SENDERS = {"submission": "ext-city-systems", "committee": "ext-secretariat",
                   "grants": "ext-intake"}


@dataclass(frozen=True, order=True)
class Grant:
    principal: str   # the SCRAM user, without "User:"
    resource: str    # TOPIC or GROUP (literal names only)
    name: str
    operation: str   # READ, WRITE or DESCRIBE


def service_principal(service: str) -> str:
    return f"svc-{service}"


def _specs():
    return [importlib.import_module(f"services.{s}.__main__").spec() for s in SERVICES]


def service_grants(spec) -> set[Grant]:
    who = service_principal(spec.name)
    consumed = {t for c in spec.consumers for t in c.topics}
    reads = consumed | {t for make in spec.projections for t in make().topics}
    owned = {t.name for t in spec.owns}
    writes = ({events_topic(spec.name).name} & owned) | {dead_letter_topic(t) for t in reads}
    checked = owned | consumed | {dead_letter_topic(t) for t in owned | consumed}
    describes = checked - reads - writes
    return ({Grant(who, "TOPIC", t, "READ") for t in reads}
            | {Grant(who, "TOPIC", t, "WRITE") for t in writes}
            | {Grant(who, "TOPIC", t, "DESCRIBE") for t in describes}
            | {Grant(who, "TOPIC", t, "DESCRIBE_CONFIGS") for t in checked}
            | {Grant(who, "GROUP", f"{spec.name}.{c.name}", "READ") for c in spec.consumers})


def external_writers(specs=None) -> dict[str, str]:
    """Principal → the one topic that outside system may write: each ingress topic the
    services consume (`<prefix>.ingress.<system>` → ext-<system>), each commands topic."""
    specs = specs if specs is not None else _specs()
    ingress = f"{topic_prefix()}.ingress."
    found = {}
    for spec in specs:
        for topic in sorted({t for c in spec.consumers for t in c.topics}):
            if topic.startswith(ingress):
                found[f"ext-{topic.removeprefix(ingress)}"] = topic
            elif topic == commands_topic(spec.name).name:
                found[COMMAND_SENDERS.get(spec.name, f"ext-{spec.name}-commands")] = topic
    return found


def plan(prefix: str | None = None) -> list[Grant]:
    """Every ACL of the profile (all ALLOW, any host), sorted."""
    return _plan_and_topics(prefix)[0]


def topics(prefix: str | None = None) -> list[Topic]:
    """What the admin creates (with their DLQs): every topic a service owns or consumes,
    as the runtime would create it."""
    return _plan_and_topics(prefix)[1]


def _plan_and_topics(prefix: str | None) -> tuple[list[Grant], list[Topic]]:
    with prefixed(prefix):
        specs = _specs()
        grants = set().union(*(service_grants(s) for s in specs))
        grants |= {Grant(who, "TOPIC", topic, "WRITE")
                   for who, topic in external_writers(specs).items()}
        found: dict[str, Topic] = {}
        for spec in specs:
            for t in [*spec.owns, *(Topic(n, "consumed") for c in spec.consumers
                                    for n in c.topics)]:
                found.setdefault(t.name, t)
    return sorted(grants), list(found.values())


def principals(prefix: str | None = None) -> list[str]:
    return sorted({g.principal for g in plan(prefix)})


def password_of(secrets_dir: Path, principal: str) -> str:
    """The principal's password from `<dir>/<principal>.password`, made (0600) if missing."""
    path = Path(secrets_dir) / f"{principal}.password"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(24))
    return path.read_text().strip()


def admin_security(secrets_dir: Path) -> dict:
    return dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=MECHANISM,
                sasl_plain_username="admin",
                sasl_plain_password=(Path(secrets_dir) / "admin.password").read_text().strip())


def apply(bootstrap: str, secrets_dir: Path, prefix: str | None = None,
          replication: int = 1, security: dict | None = None) -> dict[str, int]:
    """Credentials, topics and ACLs of the plan, as the admin; idempotent."""
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,  # noqa: PLC0415
                             ACLResourcePatternType, ResourcePattern, ResourcePatternFilter,
                             ResourceType, UserScramCredentialUpsertion)
    security = security or admin_security(secrets_dir)
    grants, wanted_topics = _plan_and_topics(prefix)
    who = sorted({g.principal for g in grants})
    made = ensure_topics(bootstrap, wanted_topics, replication, security=security)

    def acl(g: Grant) -> ACL:
        return ACL(f"User:{g.principal}", "*", ACLOperation[g.operation],
                   ACLPermissionType.ALLOW,
                   ResourcePattern(ResourceType[g.resource], g.name,
                                   ACLResourcePatternType.LITERAL))

    with kafka_admin(bootstrap, security, client_id="hyeopchi-acl-admin") as admin:
        failed = {u: e for u, e in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(u, MECHANISM, password_of(secrets_dir, u))
             for u in who]).items() if e}
        if failed:
            raise RuntimeError(f"SCRAM credentials refused: {failed}")
        wanted = {acl(g) for g in grants}
        present = set()
        for principal in who:
            found, _ = admin.describe_acls(ACLFilter(
                f"User:{principal}", None, ACLOperation.ANY, ACLPermissionType.ANY,
                ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)))
            present |= set(found)
        extra = present - wanted
        if extra:
            admin.delete_acls(list(extra))
        missing = list(wanted - present)
        if missing:
            result = admin.create_acls(missing)
            if result["failed"]:
                raise RuntimeError(f"ACLs refused: {result['failed']}")
    return {"principals": len(who), "topics_created": len(made), "acls": len(wanted),
            "acls_added": len(missing), "acls_removed": len(extra)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.kafka_security",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["plan", "principals", "apply"])
    p.add_argument("--prefix", default=ServiceSettings().topic_prefix,
                   help="topic prefix (default: the settings' TOPIC_PREFIX)")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    p.add_argument("--secrets", type=Path, help="the broker's secrets dir "
                   "(`kafka.sh secrets --name N`): admin.password, <principal>.password")
    p.add_argument("--replication", type=int, default=1)
    args = p.parse_args(argv)
    if args.command == "plan":
        for g in plan(args.prefix):
            print(f"User:{g.principal:<24} {g.operation:<9} {g.resource:<6} {g.name}")
    elif args.command == "principals":
        print(" ".join(principals(args.prefix)))
    else:
        if not (args.bootstrap and args.secrets):
            p.error("apply needs --bootstrap and --secrets")
        print(apply(args.bootstrap, args.secrets, args.prefix, args.replication))
    return 0


if __name__ == "__main__":
    sys.exit(main())
