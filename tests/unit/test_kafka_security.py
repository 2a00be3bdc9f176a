"""The ACL plan derived from the service specs, and the clients' security settings."""
import pytest

from tools import kafka_security
from shared.kafka_io import broker_security, client_security
from tools.kafka_security import Grant
from shared.settings import ServiceSettings

P = "acl"


@pytest.fixture(scope="module")
def plan() -> list[Grant]:
    return kafka_security.plan(P)


def rights(plan, who: str, operation: str, resource: str = "TOPIC") -> set[str]:
    return {g.name for g in plan if g.principal == who and g.operation == operation
            and g.resource == resource}


def test_a_service_writes_only_its_events_and_the_dead_letters_of_what_it_reads(plan):
    for service in kafka_security.SERVICES:
        who = f"svc-{service}"
        reads = rights(plan, who, "READ")
        assert rights(plan, who, "WRITE") == {f"{P}.{service}.events"} | {
            f"{t}.dlq" for t in reads}


def test_a_command_service_reads_its_commands_in_its_own_group(plan):
    for service in ("submission", "committee", "grants"):
        assert f"{P}.{service}.commands" in rights(plan, f"svc-{service}", "READ")
        assert rights(plan, f"svc-{service}", "READ", "GROUP") == {f"{service}.commands"}


def test_scoring_reads_its_inputs_and_writes_none_of_them(plan):
    reads = rights(plan, "svc-scoring", "READ")
    assert {f"{P}.submission.events", f"{P}.committee.events", f"{P}.ingress.hr",
            f"{P}.ingress.education"} <= reads
    others = reads - {f"{P}.scoring.events"}  # its own log: read by its read model
    assert not others & rights(plan, "svc-scoring", "WRITE")
    assert rights(plan, "svc-scoring", "READ", "GROUP") == {
        "scoring.submission-facts", "scoring.committee-facts", "scoring.external-facts"}


def test_audit_reads_every_service_log(plan):
    assert {f"{P}.{s}.events" for s in ("submission", "scoring", "committee", "grants")} \
        <= rights(plan, "svc-audit", "READ")


def test_an_external_system_writes_its_one_topic_and_nothing_else(plan):
    external = {g.principal for g in plan if g.principal.startswith("ext-")}
    assert external == {"ext-hr", "ext-education", "ext-city-systems", "ext-secretariat",
                        "ext-intake"}
    assert {g for g in plan if g.principal == "ext-hr"} == {
        Grant("ext-hr", "TOPIC", f"{P}.ingress.hr", "WRITE")}
    for who in external:
        assert len([g for g in plan if g.principal == who]) == 1


def test_nobody_but_the_admin_creates_alters_or_deletes(plan):
    assert {g.operation for g in plan} == {"READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS"}
    assert {g.resource for g in plan} == {"TOPIC", "GROUP"}


def test_the_admin_creates_every_topic_a_service_checks(plan):
    made = {t.name for t in kafka_security.topics(P)}
    assert {g.name for g in plan if g.resource == "TOPIC" and
            not g.name.endswith(".dlq")} <= made


def test_plaintext_is_the_default_and_needs_nothing():
    assert client_security(ServiceSettings()) == {}
    assert broker_security(ServiceSettings()) is None


def test_sasl_takes_the_password_from_its_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    settings = ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT",
                               kafka_sasl_username="svc-scoring",
                               kafka_sasl_password_file=str(secret))
    assert client_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc-scoring", "sasl_plain_password": "s3cret"}
    security = broker_security(settings)
    assert (type(security).__name__, security.username, security.use_ssl) == \
        ("SASLScram512", "svc-scoring", False)
    tls = client_security(settings.model_copy(update={"kafka_security_protocol": "SASL_SSL"}))
    assert tls["security_protocol"] == "SASL_SSL" and tls["ssl_context"] is not None


def test_sasl_without_credentials_fails_at_once():
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        client_security(ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT"))


def test_the_plan_is_printed_for_operators(capsys):
    assert kafka_security.main(["plan", "--prefix", P]) == 0
    assert f"User:ext-hr                   WRITE     TOPIC  {P}.ingress.hr" in capsys.readouterr().out
