"""The deployment files validate against pinned schemas and agree with the code.

- deploy/k8s/*.yaml: kubeconform -strict for the pinned Kubernetes version, offline; every
  document must be counted valid (an empty or skipped file cannot pass). The Secret shapes
  documented in deploy/k8s/README.md too.
- docker-compose.yml: the Compose specification schema (compose-go's compose-spec.json).
- Negative controls prove each validator rejects a broken file (Deployment, NetworkPolicy,
  PodDisruptionBudget, Secret). What the schemas cannot express but the API server
  refuses (api_errors below) is checked here, and a test shows kubeconform lets it pass.
- Cross-checks: a Deployment, Service, NetworkPolicy and PodDisruptionBudget per service
  directory, probes, resources, non-root security context, ports equal to the Settings
  defaults, every environment variable name a real setting, secrets only as mounted files
  (or secretKeyRef), SASL on, the image by digest.

The tools are installed by deploy/tools/kubeconform.sh (never skipped when missing).
"""
from __future__ import annotations

import base64
import binascii
import copy
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("hyeopchi_deploy_validate",
                                               REPO / "deploy" / "tools" / "validate.py")
validate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = validate
_spec.loader.exec_module(validate)

SERVICES = sorted(p.name for p in (REPO / "services").iterdir()
                  if (p / "__main__.py").exists())
SECRET_DIR = "/var/run/secrets/hyeopchi"
JWKS_FILE = "/var/run/secrets/hyeopchi-jwks/jwks.json"
KAFKA_PASSWORD_FILE = "/var/run/secrets/hyeopchi-kafka/password"
KAFKA_CA_FILE = "/etc/hyeopchi/kafka-ca/ca.crt"
# registry/name@sha256:<64 hex>, no tag: what runs cannot change behind a re-pushed tag.
BY_DIGEST = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="session")
def tools():
    """Install (or find) the pinned kubeconform, Kubernetes schemas and Compose schema."""
    validate.install_tools()
    assert validate.kubeconform_path().is_file()
    assert validate.compose_schema_path().is_file()
    return validate


@pytest.fixture(scope="session")
def manifests() -> list[dict]:
    return validate.documents(validate.manifest_files())


@pytest.fixture(scope="session")
def compose() -> dict:
    return validate.load_compose()


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def settings_env_names(service: str) -> set[str]:
    """Environment variable names pydantic-settings reads for the service's Settings
    (the shared ServiceSettings fields plus the service's own), upper-cased."""
    cls = importlib.import_module(f"services.{service}.__main__").Settings
    prefix = cls.model_config.get("env_prefix", "")
    names = set()
    for field, info in cls.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        names.add((alias or prefix + field).upper())
    return names


def default_port(service: str) -> int:
    cls = importlib.import_module(f"services.{service}.__main__").Settings
    return cls.model_fields["http_port"].default


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels only, as in these manifests) picks pods with `labels`;
    an empty one would pick every pod, which no per-service object may do."""
    assert set(selector) == {"matchLabels"}, selector
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


def mounted_volume(deployment: dict, path: str) -> dict:
    """The pod volume that provides the file `path`: mounted (whole, no subPath: a subPath
    never sees an updated Secret) at its directory, with an item of that file name."""
    directory, _, name = path.rpartition("/")
    mounts = [m for m in container(deployment)["volumeMounts"] if m["mountPath"] == directory]
    assert len(mounts) == 1, f"{path}: no volume mounted at {directory}"
    assert "subPath" not in mounts[0] and mounts[0].get("readOnly") is True, mounts[0]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    volume = volumes[mounts[0]["name"]]
    source = volume.get("secret") or volume.get("configMap")
    assert [i["path"] for i in source["items"]] == [name], volume
    return volume


def readme_documents() -> list[dict]:
    """The YAML blocks of deploy/k8s/README.md (the Secret shapes an operator creates)."""
    text = (validate.K8S_DIR / "README.md").read_text()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, flags=re.M | re.S)
    return [d for block in blocks for d in yaml.safe_load_all(block) if d is not None]


_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")


def api_errors(doc: dict) -> list[str]:
    """What the API server refuses but the JSON schemas cannot express (kubeconform lets
    it pass: see test_kubeconform_cannot_see_these): exactly one of minAvailable and
    maxUnavailable, NetworkPolicy ports and protocols, base64 Secret data."""
    errors, kind, spec = [], doc["kind"], doc.get("spec") or {}
    name = f"{kind}/{doc['metadata']['name']}"
    if kind == "PodDisruptionBudget" and ("minAvailable" in spec) == ("maxUnavailable" in spec):
        errors.append(f"{name}: exactly one of minAvailable and maxUnavailable")
    if kind == "NetworkPolicy":
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in rule.get("ports") or []:
                    number = port.get("port")
                    if isinstance(number, int) and not 1 <= number <= 65535:
                        errors.append(f"{name}: port {number} outside 1-65535")
                    if isinstance(number, str) and not _SVC_NAME.match(number):
                        errors.append(f"{name}: {number!r} is not a port name")
                    if port.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
                        errors.append(f"{name}: protocol {port['protocol']!r}")
    if kind == "Secret":
        for key, value in (doc.get("data") or {}).items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError):
                errors.append(f"{name}: data {key!r} is not base64")
    return errors


# ---------------------------------------------------------------- Kubernetes: kubeconform

def test_kubeconform_accepts_every_manifest(tools, manifests):
    files = tools.manifest_files()
    assert files, "no manifests under deploy/k8s/"
    result = tools.kubeconform(files)
    assert result.ok, result.output
    assert result.summary == {"valid": len(manifests), "invalid": 0, "errors": 0,
                              "skipped": 0}, result.output
    for path in files:  # no file may be empty
        assert tools.documents([path]), f"{path.name} holds no document"


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((validate.K8S_DIR / validate.KUSTOMIZATION).read_text())
    assert kustomization["namespace"] == "hyeopchi"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in
                                                        validate.manifest_files())


def _deployment(name: str = "submission") -> dict:
    return copy.deepcopy(by_kind(validate.documents([validate.K8S_DIR / f"{name}.yaml"]),
                                 "Deployment")[name])


def _unknown_field(d: dict) -> None:
    container(d)["livenessProbe"]["httpGet"]["bogusField"] = True   # strict mode only


def _replicas_text(d: dict) -> None:
    d["spec"]["replicas"] = "one"


def _container_port_text(d: dict) -> None:
    # (httpGet.port: "not-a-port" would be valid: an IntOrString naming a port.)
    container(d)["ports"][0]["containerPort"] = "not-a-port"


def _container_without_name(d: dict) -> None:
    del container(d)["name"]


@pytest.mark.parametrize("mutate, reason", [
    (_unknown_field, "additional properties 'bogusField' not allowed"),
    (_replicas_text, "/spec/replicas"),
    (_container_port_text, "/containerPort"),
    (_container_without_name, "missing property 'name'"),
])
def test_kubeconform_rejects_a_broken_deployment(tools, tmp_path, mutate, reason):
    broken = _deployment()
    mutate(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = tools.kubeconform([path])
    assert not result.ok, result.output
    assert result.summary.get("invalid") == 1 and result.summary.get("valid") == 0, \
        result.output
    assert reason in result.resources[0]["msg"], result.output


def test_kubeconform_fails_a_kind_without_schema(tools, tmp_path):
    """A missing schema is an error, not a silent skip."""
    path = tmp_path / "unknown.yaml"
    path.write_text("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n")
    result = tools.kubeconform([path])
    assert not result.ok
    assert result.summary.get("errors") == 1, result.output


def test_the_unchanged_copy_passes(tools, tmp_path):
    """The negative controls fail because of their mutation, not because of the copy."""
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(_deployment()))
    result = tools.kubeconform([path])
    assert result.ok and result.summary.get("valid") == 1, result.output


# NetworkPolicy, PodDisruptionBudget, Secret: a broken copy of each is rejected, the
# unchanged copy passes.

def _from_manifest(kind: str, name: str = "submission", file: str = "submission.yaml"):
    return lambda: copy.deepcopy(by_kind(validate.documents([validate.K8S_DIR / file]),
                                         kind)[name])


def _secret() -> dict:
    """The Kafka Secret shape from the README, with base64 `data` as kubectl stores it."""
    doc = copy.deepcopy(by_kind(readme_documents(), "Secret")["hyeopchi-submission-kafka"])
    doc["data"] = {k: base64.b64encode(v.encode()).decode()
                   for k, v in doc.pop("stringData").items()}
    return doc


_policy = _from_manifest("NetworkPolicy")
_budget = _from_manifest("PodDisruptionBudget")


def _set(path: str, value):
    """Mutation: set a value at a slash-separated path (list indexes as numbers)."""
    def mutate(doc: dict) -> None:
        *parents, last = [int(k) if k.isdigit() else k for k in path.split("/")]
        for key in parents:
            doc = doc[key]
        doc[last] = value
    return mutate


@pytest.mark.parametrize("make, mutate, reason", [
    (_policy, _set("spec/policyTypes", "Ingress"), "/spec/policyTypes"),
    (_policy, _set("spec/ingress/0/ports/0/port", [8101]), "/spec/ingress/0/ports/0/port"),
    (_policy, _set("spec/egress/1/ports/0/endPort", "9094"), "/spec/egress/1/ports/0/endPort"),
    (_policy, _set("spec/egress/2/to/0/namespaceSelecter", {}),
     "additional properties 'namespaceSelecter' not allowed"),
    (_budget, _set("spec/maxUnavailable", True), "/spec/maxUnavailable"),
    (_budget, _set("spec/selector", "app.kubernetes.io/name=submission"), "/spec/selector"),
    (_budget, _set("spec/minAvailible", 1), "additional properties 'minAvailible' not allowed"),
    (_secret, _set("data/password", 42), "/data/password"),
    (_secret, _set("data", ["password"]), "/data"),
    (_secret, _set("stringDate", {"password": "x"}),
     "additional properties 'stringDate' not allowed"),
], ids=["policy-types-a-string", "policy-port-a-list", "policy-end-port-a-string",
        "policy-peer-typo", "pdb-max-unavailable-a-bool", "pdb-selector-a-string",
        "pdb-field-typo", "secret-data-a-number", "secret-data-a-list", "secret-field-typo"])
def test_kubeconform_rejects_a_broken_object(tools, tmp_path, make, mutate, reason):
    broken = make()
    mutate(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = tools.kubeconform([path])
    assert not result.ok, result.output
    assert result.summary.get("invalid") == 1 and result.summary.get("valid") == 0, \
        result.output
    assert reason in result.resources[0]["msg"], result.output


@pytest.mark.parametrize("make", [_policy, _budget, _secret],
                         ids=["network-policy", "pdb", "secret"])
def test_unchanged_copies_of_the_other_kinds_pass(tools, tmp_path, make):
    doc = make()
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = tools.kubeconform([path])
    assert result.ok and result.summary.get("valid") == 1, result.output
    assert api_errors(doc) == []


@pytest.mark.parametrize("make, mutate, reason", [
    (_budget, _set("spec/minAvailable", 1), "exactly one of minAvailable and maxUnavailable"),
    (_policy, _set("spec/ingress/0/ports/0/port", 70000), "port 70000 outside 1-65535"),
    (_policy, _set("spec/ingress/0/ports/0/port", "not a port!"), "is not a port name"),
    (_policy, _set("spec/egress/0/ports/0/protocol", "ICMP"), "protocol 'ICMP'"),
    (_secret, _set("data/password", "not base64!"), "data 'password' is not base64"),
], ids=["pdb-min-and-max", "policy-port-out-of-range", "policy-port-bad-name",
        "policy-protocol", "secret-data-not-base64"])
def test_kubeconform_cannot_see_these(tools, tmp_path, make, mutate, reason):
    """The API server refuses these, the JSON schemas cannot say so: kubeconform passes
    them (the pinned version, checked here so that the gap stays known), api_errors
    does not."""
    broken = make()
    mutate(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = tools.kubeconform([path])
    assert result.ok and result.summary.get("valid") == 1, result.output
    assert any(reason in e for e in api_errors(broken)), api_errors(broken)


def test_manifests_pass_the_api_checks(manifests):
    assert [e for d in manifests for e in api_errors(d)] == []


def test_readme_secret_shapes_validate(tools, tmp_path, manifests):
    """The Secret and ConfigMap shapes the README documents pass kubeconform and cover
    every Secret, key and ConfigMap the Deployments reference (named for submission)."""
    docs = readme_documents()
    path = tmp_path / "readme.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = tools.kubeconform([path])
    assert result.ok and result.summary == {"valid": len(docs), "invalid": 0, "errors": 0,
                                            "skipped": 0}, result.output
    assert [e for d in docs for e in api_errors(d)] == []
    documented = {(d["kind"], d["metadata"]["name"]): set(d.get("stringData") or d["data"])
                  for d in docs}
    names = {name for _, name in documented}
    for service, deployment in by_kind(manifests, "Deployment").items():
        def shape(name: str) -> str:   # hyeopchi-committee-kek is committee's alone
            return name if name in names else name.replace(f"-{service}-", "-submission-")
        pod = deployment["spec"]["template"]["spec"]
        for volume in pod["volumes"]:
            for kind, field, source in (("Secret", "secretName", volume.get("secret")),
                                        ("ConfigMap", "name", volume.get("configMap"))):
                if source:
                    keys = documented.get((kind, shape(source[field])))
                    assert keys is not None, f"{service}: {kind} {source[field]} undocumented"
                    assert {i["key"] for i in source["items"]} <= keys, source
        for env in container(deployment)["env"]:
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in documented.get(("Secret", shape(ref["name"])), ()), ref


# ---------------------------------------------------------------- Kubernetes: cross-checks

def test_namespace_and_configmap(manifests):
    assert list(by_kind(manifests, "Namespace")) == ["hyeopchi"]
    assert {d["metadata"].get("namespace") for d in manifests
            if d["kind"] != "Namespace"} == {"hyeopchi"}
    config = by_kind(manifests, "ConfigMap")["hyeopchi-config"]["data"]
    assert config["HTTP_HOST"] == "0.0.0.0"
    for key in ("KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PREFIX", "LOG_LEVEL", "READY_MAX_LAG",
                "SHUTDOWN_GRACE_S", "TRACES_EXPORTER"):
        assert key in config
    assert all(isinstance(v, str) for v in config.values())
    assert not {k for k in config if "DATABASE" in k or "PASSWORD" in k}, "secrets in ConfigMap"
    assert not by_kind(manifests, "Secret"), "secret values are never committed"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_and_service_per_service(service, manifests):
    deployment = by_kind(manifests, "Deployment").get(service)
    svc = by_kind(manifests, "Service").get(service)
    assert deployment and svc, f"{service}: needs a Deployment and a Service"
    pod = deployment["spec"]["template"]
    c = container(deployment)
    port = default_port(service)

    assert deployment["spec"]["replicas"] == 1
    assert BY_DIGEST.match(c["image"]), c["image"]
    assert c["args"] == ["run", service]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HTTP_PORT"] == str(port)
    assert [p["containerPort"] for p in c["ports"]] == [port]
    assert c["ports"][0]["name"] == "http"

    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                        ("startupProbe", "/health/live")):
        assert c[probe]["httpGet"]["path"] == path, probe
        assert c[probe]["httpGet"]["port"] in ("http", port), probe

    requests, limits = c["resources"]["requests"], c["resources"]["limits"]
    assert set(requests) == set(limits) == {"cpu", "memory"}
    assert _mebibytes(requests["memory"]) <= _mebibytes(limits["memory"])
    assert _millicores(requests["cpu"]) <= _millicores(limits["cpu"])

    pod_sc, sc = pod["spec"]["securityContext"], c["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] == 10001
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]

    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"

    # The database URL is a file from the Secret hyeopchi-<service>-db, by reference.
    assert env["DATABASE_URL_FILE"] == f"{SECRET_DIR}/database-url"
    assert "DATABASE_URL" not in env
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    secret = volumes[mounts[SECRET_DIR]]["secret"]
    assert secret["secretName"] == f"hyeopchi-{service}-db"
    assert [i["key"] for i in secret["items"]] == ["database-url"]
    assert "emptyDir" in volumes[mounts["/tmp"]]

    # SIGTERM's grace inside the process is shorter than the kubelet's.
    config = by_kind(manifests, "ConfigMap")["hyeopchi-config"]["data"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > float(config["SHUTDOWN_GRACE_S"])
    assert [s["configMapRef"]["name"] for s in c["envFrom"]] == ["hyeopchi-config"]

    # The Service reaches exactly these pods on the http port.
    assert svc["spec"]["type"] == "ClusterIP"
    selector = svc["spec"]["selector"]
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(port, "http")]


def test_no_manifest_for_an_unknown_service(manifests):
    assert sorted(by_kind(manifests, "Deployment")) == SERVICES
    assert sorted(by_kind(manifests, "Service")) == SERVICES
    assert sorted(by_kind(manifests, "PodDisruptionBudget")) == SERVICES
    assert sorted(by_kind(manifests, "NetworkPolicy")) == sorted([*SERVICES, "default-deny"])


@pytest.mark.parametrize("service", SERVICES)
def test_manifest_env_names_are_settings(service, manifests):
    known = settings_env_names(service)
    assert {"DATABASE_URL", "DATABASE_URL_FILE", "HTTP_PORT"} <= known  # the mapping works
    c = container(by_kind(manifests, "Deployment")[service])
    used = {e["name"] for e in c["env"]}
    for source in c["envFrom"]:
        used |= set(by_kind(manifests, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    assert used - known == set(), f"{service}: not settings: {sorted(used - known)}"


def test_sasl_on_and_the_broker_port(manifests):
    """SASL on by default (each service its own principal, the broker's ACLs); the
    NetworkPolicies open exactly the port the services are told to use."""
    config = by_kind(manifests, "ConfigMap")["hyeopchi-config"]["data"]
    assert config["KAFKA_SECURITY_PROTOCOL"] in ("SASL_SSL", "SASL_PLAINTEXT")
    assert config["KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    ports = {int(server.rsplit(":", 1)[1])
             for server in config["KAFKA_BOOTSTRAP_SERVERS"].split(",")}
    for name, policy in by_kind(manifests, "NetworkPolicy").items():
        if name == "default-deny":
            continue
        kafka = [r for r in policy["spec"]["egress"]
                 if any(p.get("podSelector", {}).get("matchLabels", {}).get(
                     "app.kubernetes.io/name") == "kafka" for p in r["to"])]
        assert len(kafka) == 1, name
        assert {(p["protocol"], p["port"]) for p in kafka[0]["ports"]} == \
            {("TCP", port) for port in ports}, name


@pytest.mark.parametrize("service", SERVICES)
def test_secrets_are_mounted_files(service, manifests):
    """The JWKS, the Kafka password and the database URL are files from Secrets; the
    Kafka username comes from the same Secret; no secret is an environment value."""
    deployment = by_kind(manifests, "Deployment")[service]
    env = {e["name"]: e for e in container(deployment)["env"]}

    jwks = mounted_volume(deployment, env["AUTH_JWKS_FILE"]["value"])
    assert env["AUTH_JWKS_FILE"]["value"] == JWKS_FILE
    # A Secret, not a ConfigMap: whoever can change the keys can have any token accepted.
    assert jwks.get("secret", {}).get("secretName") == "hyeopchi-auth-jwks"

    kafka = mounted_volume(deployment, env["KAFKA_SASL_PASSWORD_FILE"]["value"])
    assert env["KAFKA_SASL_PASSWORD_FILE"]["value"] == KAFKA_PASSWORD_FILE
    assert kafka.get("secret", {}).get("secretName") == f"hyeopchi-{service}-kafka"
    assert env["KAFKA_SASL_USERNAME"].get("valueFrom", {}).get("secretKeyRef") == {
        "name": f"hyeopchi-{service}-kafka", "key": "username"}

    database = mounted_volume(deployment, env["DATABASE_URL_FILE"]["value"])
    assert database.get("secret", {}).get("secretName") == f"hyeopchi-{service}-db"

    ca = mounted_volume(deployment, env["KAFKA_SSL_CAFILE"]["value"])
    assert env["KAFKA_SSL_CAFILE"]["value"] == KAFKA_CA_FILE
    assert ca.get("configMap", {}).get("name") == "hyeopchi-kafka-ca"

    if service == "committee":
        kek = mounted_volume(deployment, env["PERSONAL_DATA_KEK_FILE"]["value"])
        assert kek.get("secret", {}).get("secretName") == "hyeopchi-committee-kek"

    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        if "secret" in volume:
            assert volume["secret"]["defaultMode"] == 0o440, volume["name"]
    for name in ("DATABASE_URL", "KAFKA_SASL_PASSWORD"):
        assert name not in env
    assert all(e.get("valueFrom", {}).keys() <= {"secretKeyRef"} for e in env.values())


def test_images_by_digest_set_in_one_place(manifests):
    """No image by tag; the kustomization's images: entry names each Deployment's image
    and gives a digest (the operator's one place to set it)."""
    images = {c["image"] for d in by_kind(manifests, "Deployment").values()
              for c in [*d["spec"]["template"]["spec"]["containers"],
                        *d["spec"]["template"]["spec"].get("initContainers", [])]}
    assert len(images) == 1, images   # one image for every service
    image = images.pop()
    assert BY_DIGEST.match(image), image
    name = image.split("@")[0]
    assert ":" not in name.split("/")[-1], f"{image}: a tag and a digest"
    kustomization = yaml.safe_load((validate.K8S_DIR / validate.KUSTOMIZATION).read_text())
    [entry] = kustomization["images"]
    assert entry["name"] == name
    assert "newTag" not in entry
    assert BY_DIGEST.match(f"{entry['newName']}@{entry['digest']}"), entry


def test_default_deny_for_the_namespace(manifests):
    policy = by_kind(manifests, "NetworkPolicy")["default-deny"]["spec"]
    assert policy == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_per_service(service, manifests):
    """Deny by default; in: the HTTP port only; out: DNS, the brokers and the service's
    own database only, each peer selected (never everything) and each rule on ports."""
    deployment = by_kind(manifests, "Deployment")[service]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    policies = [p for p in by_kind(manifests, "NetworkPolicy").values()
                if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)]
    assert [p["metadata"]["name"] for p in policies] == [service]
    spec = policies[0]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]

    http = [{"protocol": "TCP", "port": default_port(service)}]
    for rule in spec["ingress"]:
        assert rule.get("from") and rule.get("ports") == http, rule
    egress = spec["egress"]
    for rule in egress:
        assert rule.get("to") and rule.get("ports"), rule   # no "anywhere", no "any port"
    for peer in [p for r in spec["ingress"] for p in r["from"]] + \
            [p for r in egress for p in r["to"]]:
        # An empty selector means every namespace (or pod): each peer names its own.
        assert "ipBlock" in peer or all(peer[k].get("matchLabels") for k in peer), peer
    dns, _kafka, database = egress
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert database["to"][0]["podSelector"]["matchLabels"] == {
        f"database.hyeopchi.io/{service}": "true"}   # its own database, no other's
    assert [(p["protocol"], p["port"]) for p in database["ports"]] == [("TCP", 5432)]


@pytest.mark.parametrize("service", SERVICES)
def test_pod_disruption_budget_per_service(service, manifests):
    """maxUnavailable: with one replica, minAvailable: 1 would block every node drain."""
    deployment = by_kind(manifests, "Deployment")[service]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budgets = [b for b in by_kind(manifests, "PodDisruptionBudget").values()
               if selects(b["spec"]["selector"], labels)]
    assert [b["metadata"]["name"] for b in budgets] == [service]
    spec = budgets[0]["spec"]
    assert spec["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert "minAvailable" not in spec and spec["maxUnavailable"] == 1
    assert spec["maxUnavailable"] <= deployment["spec"]["replicas"]


# ---------------------------------------------------------------- docker-compose.yml

def test_compose_file_matches_the_compose_specification(tools, compose):
    assert tools.compose_errors(compose) == []


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: c["services"]["kafka"].__setitem__("image", 7),
     "services/kafka/image: 7 is not of type 'string'"),
    (lambda c: c.__setitem__("bogus_top_level", {"a": 1}), "'bogus_top_level'"),
    (lambda c: c["services"]["submission"].__setitem__("stop_grace_period", ["30s"]),
     "services/submission/stop_grace_period"),
    (lambda c: c["services"]["submission"]["depends_on"]["kafka"].__setitem__(
        "condition", "service_happy"), "services/submission/depends_on"),
], ids=["image-not-a-string", "unknown-top-level-key", "grace-period-a-list",
        "unknown-depends-on-condition"])
def test_compose_schema_rejects_a_broken_copy(tools, compose, mutate, reason):
    broken = copy.deepcopy(compose)
    mutate(broken)
    errors = tools.compose_errors(broken)
    assert any(reason in e for e in errors), errors


def test_compose_has_every_service_kafka_and_postgres(compose):
    services = compose["services"]
    assert set(services) == {*SERVICES, "kafka", "postgres", "kafka-setup"}
    # Image names are variables whose defaults stay the public images.
    assert services["kafka"]["image"] == "${KAFKA_IMAGE:-apache/kafka:4.1.1}"
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:15}"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service(service, compose):
    svc = compose["services"][service]
    port = default_port(service)
    env = {k: str(v) for k, v in svc["environment"].items()}
    assert svc["command"] == ["run", service]
    assert env["HTTP_PORT"] == str(port)
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert "/health/ready" in " ".join(svc["healthcheck"]["test"])
    assert f":{port}/" in " ".join(svc["healthcheck"]["test"])
    assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert svc["stop_grace_period"] == "30s"

    unknown = set(env) - settings_env_names(service)
    assert unknown == set(), f"{service}: not settings: {sorted(unknown)}"

    # The database URL comes from a compose secret file, never from the environment.
    assert "DATABASE_URL" not in env
    secret = env["DATABASE_URL_FILE"].removeprefix("/run/secrets/")
    assert secret in svc["secrets"]
    url = (REPO / compose["secrets"][secret]["file"]).read_text().strip()
    parsed = urlparse(url)
    assert parsed.scheme.startswith("postgresql") and parsed.path == f"/{service}"
    assert parsed.password is None, f"{secret}: no password in a committed file"


def test_compose_healthchecks_for_dependencies(compose):
    for name in ("kafka", "postgres"):
        assert compose["services"][name]["healthcheck"]["test"], name


# ---------------------------------------------------------------- helpers

def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[:-2]) * factor
    return float(quantity) / 2 ** 20


def _millicores(quantity) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000
