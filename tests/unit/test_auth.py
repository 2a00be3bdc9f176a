"""Bearer tokens and role policies (issue 11), against a real ES256 key pair."""
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scenarios.sso import AUDIENCE, ISSUER, KID, DevSSO
from shared.auth import (ANONYMOUS, SUBMITTER, Forbidden, Policy, Principal,
                         Unauthenticated, Verifier, bearer, roles)

OFFICER = {"id": "officer-1", "role": "governance_officer"}


@pytest.fixture(scope="module")
def sso(tmp_path_factory):
    return DevSSO(tmp_path_factory.mktemp("sso"))


@pytest.fixture(scope="module")
def verify(sso):
    return Verifier(str(sso.jwks), ISSUER, AUDIENCE).verify


def test_a_valid_token_names_the_principal(sso, verify):
    who = verify(sso.issue({"id": "s-1", "role": SUBMITTER, "institution_id": "finance"}))
    assert who == Principal("s-1", SUBMITTER, "person", "finance")
    assert verify(sso.issue({"id": "erp", "role": "city_system", "kind": "system"})).kind \
        == "system"


@pytest.mark.parametrize("claims", [
    {"exp": int(time.time()) - 120}, {"aud": "another-system"}, {"iss": "someone-else"},
    {"role": "mayor"}, {"kind": "robot"}, {"role": SUBMITTER}])
def test_tokens_with_bad_claims_are_refused(sso, verify, claims):
    with pytest.raises(Unauthenticated):
        verify(sso.issue(OFFICER, **claims))


def test_forged_and_unsigned_tokens_are_refused(sso, verify):
    good = sso.issue(OFFICER)
    header, payload, signature = good.split(".")
    other = jwt.encode({"sub": "x", "role": "governance_officer", "iss": ISSUER,
                        "aud": AUDIENCE, "iat": int(time.time()), "exp": int(time.time()) + 60},
                       ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                       headers={"kid": KID})
    unsigned = jwt.encode({"sub": "x", "role": "auditor"}, None, algorithm="none",
                          headers={"kid": KID})
    public_pem = sso.key.public_key().public_bytes(
        __import__("cryptography").hazmat.primitives.serialization.Encoding.PEM,
        __import__("cryptography").hazmat.primitives.serialization.PublicFormat
        .SubjectPublicKeyInfo)
    for token in (f"{header}.{other.split('.')[1]}.{signature}", other, unsigned,
                  _hs256_with(public_pem),
                  "not-a-token"):
        with pytest.raises(Unauthenticated):
            verify(token)


def _hs256_with(secret: bytes) -> str:
    """The classic key-confusion forgery: HMAC 'signed' with the public key."""
    import base64
    import hashlib
    import hmac
    import json

    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"sub": "x", "role": "auditor", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 60}
    signing = f"{part({'alg': 'HS256', 'kid': KID})}.{part(claims)}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_queued_command_is_judged_at_the_brokers_append_time(sso, verify):
    from datetime import UTC, datetime, timedelta
    now = int(time.time())
    token = sso.issue(OFFICER, iat=now - 600, exp=now - 60)  # lived 9 minutes, now expired
    assert verify(token, at=datetime.now(UTC) - timedelta(minutes=5)).id == "officer-1"
    with pytest.raises(Unauthenticated, match="expired when the broker appended"):
        verify(token, at=datetime.now(UTC))
    with pytest.raises(Unauthenticated, match="issued after the broker appended"):
        verify(token, at=datetime.now(UTC) - timedelta(minutes=11))


def test_the_clock_skew_is_bounded_on_both_sides(sso, verify):
    from datetime import UTC, datetime
    now = int(time.time())
    token = sso.issue(OFFICER, iat=now, exp=now + 300)
    for offset, accepted in ((-29, True), (-31, False), (329, True), (331, False)):
        at = datetime.fromtimestamp(now + offset, UTC)
        if accepted:
            assert verify(token, at=at, skew_s=30).id == "officer-1"
        else:
            with pytest.raises(Unauthenticated):
                verify(token, at=at, skew_s=30)


def test_a_commands_token_may_not_live_longer_than_the_bound(sso, verify):
    from datetime import UTC, datetime
    now = int(time.time())
    at = datetime.now(UTC)
    assert verify(sso.issue(OFFICER, iat=now, exp=now + 900), at=at,
                  max_lifetime_s=900).id == "officer-1"
    with pytest.raises(Unauthenticated, match="may live at most 900 s"):
        verify(sso.issue(OFFICER, iat=now, exp=now + 901), at=at, max_lifetime_s=900)


def test_no_keys_configured_fails_closed(sso):
    with pytest.raises(Unauthenticated, match="no signing keys"):
        Verifier("", ISSUER, AUDIENCE).verify(sso.issue(OFFICER))


def test_bearer_header_forms():
    assert bearer(None) is None and bearer("Bearer abc") == "abc"
    with pytest.raises(Unauthenticated):
        bearer("Basic dXNlcjpwYXNz")


class _Cmd:
    def __init__(self, command_type, institution_id=None):
        self.command_type, self.institution_id = command_type, institution_id


POLICY = Policy(commands={"SubmitReport": roles(SUBMITTER), "OpenCycle": roles(
    "governance_officer")}, reads={"/r/{institution_id}": roles(SUBMITTER, "auditor"),
                                   "/public": roles("public"), "/all": roles("auditor")})


def test_policy_roles_and_own_institution():
    submitter = Principal("s", SUBMITTER, institution_id="finance")
    POLICY.check_command(submitter, _Cmd("SubmitReport", "finance"))
    for who, cmd in [(submitter, _Cmd("SubmitReport", "planning")),
                     (submitter, _Cmd("OpenCycle")),
                     (Principal("a", "auditor"), _Cmd("SubmitReport", "finance")),
                     (Principal("o", "governance_officer"), _Cmd("NoSuchCommand"))]:
        with pytest.raises(Forbidden):
            POLICY.check_command(who, cmd)
    POLICY.check_read(submitter, "/r/{institution_id}", {"institution_id": "finance"})
    POLICY.check_read(ANONYMOUS, "/public", {})
    with pytest.raises(Forbidden):
        POLICY.check_read(submitter, "/r/{institution_id}", {"institution_id": "planning"})
    with pytest.raises(Forbidden):
        POLICY.check_read(Principal("a", "auditor"), "/unlisted", {})  # fail closed
    with pytest.raises(Unauthenticated):
        POLICY.check_read(ANONYMOUS, "/all", {})
    with pytest.raises(ValueError):
        roles("mayor")


SECRETARY = {"id": "sec-1", "role": "committee_secretary"}


class _CommitteeCmd:
    def __init__(self, command_type, committee_id):
        self.command_type, self.committee_id = command_type, committee_id


def test_a_secretary_acts_only_for_the_committees_in_their_token(sso, verify):
    who = verify(sso.issue(SECRETARY, committees=["c-1", "c-2"]))
    assert who.committees == {"c-1", "c-2"}
    policy = Policy(commands={"AppointMember": roles("committee_secretary")})
    policy.check_command(who, _CommitteeCmd("AppointMember", "c-2"))
    with pytest.raises(Forbidden, match="not for committee c-3"):
        policy.check_command(who, _CommitteeCmd("AppointMember", "c-3"))
    with pytest.raises(Unauthenticated, match="must name their committees"):
        verify(sso.issue(SECRETARY))
    with pytest.raises(Unauthenticated, match="list of committee ids"):
        verify(sso.issue(SECRETARY, committees="c-1"))


def test_the_scope_of_the_caller_holds_inside_a_handler(sso, verify):
    from shared.auth import acting, require_committee_of_caller
    who = verify(sso.issue(SECRETARY, committees=["c-1"]))
    with acting(who):
        require_committee_of_caller("c-1")
        with pytest.raises(Forbidden):
            require_committee_of_caller("c-9")
    require_committee_of_caller("c-9")  # no caller: the service's own process


def test_each_city_system_sends_only_the_commands_it_owns(sso, verify):
    policy = Policy(commands={"RegisterInstitution": roles("city_system"),
                              "ReceiveApplication": roles("city_system")},
                    systems={"org-registry": frozenset({"RegisterInstitution"})})
    registry = verify(sso.issue({"id": "org-registry", "role": "city_system",
                                 "kind": "system"}))
    policy.check_command(registry, _Cmd("RegisterInstitution"))
    with pytest.raises(Forbidden, match="may not ReceiveApplication"):
        policy.check_command(registry, _Cmd("ReceiveApplication"))
    stranger = verify(sso.issue({"id": "hr-system", "role": "city_system",
                                 "kind": "system"}))
    with pytest.raises(Forbidden, match="may: nothing"):
        policy.check_command(stranger, _Cmd("RegisterInstitution"))
    with pytest.raises(Unauthenticated, match="kind: system"):
        verify(sso.issue({"id": "org-registry", "role": "city_system"}))


def test_auditors_read_every_decision_but_no_personal_data():
    from services.committee.adapters.access import POLICY as committee
    auditor = Principal("aud-1", "auditor")
    committee.check_read(auditor, "/meetings/{meeting_id}", {})
    with pytest.raises(Forbidden):
        committee.check_read(auditor, "/members/{member_id}/personal", {})
