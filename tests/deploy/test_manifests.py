"""The deployment files validate against pinned schemas and agree with the code.

- deploy/k8s/*.yaml: kubeconform -strict for the pinned Kubernetes version, offline; every
  document must be counted valid (an empty or skipped file cannot pass).
- docker-compose.yml: the Compose specification schema (compose-go's compose-spec.json).
- Negative controls prove each validator rejects a broken file.
- Cross-checks: a Deployment and a Service per service directory, probes, resources,
  non-root security context, ports equal to the Settings defaults, and every environment
  variable name a real setting.

The tools are installed by deploy/tools/kubeconform.sh (never skipped when missing).
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
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
    assert c["image"] == "hyeopchi:0.1.0"
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


@pytest.mark.parametrize("service", SERVICES)
def test_manifest_env_names_are_settings(service, manifests):
    known = settings_env_names(service)
    assert {"DATABASE_URL", "DATABASE_URL_FILE", "HTTP_PORT"} <= known  # the mapping works
    c = container(by_kind(manifests, "Deployment")[service])
    used = {e["name"] for e in c["env"]}
    for source in c["envFrom"]:
        used |= set(by_kind(manifests, "ConfigMap")[source["configMapRef"]["name"]]["data"])
    assert used - known == set(), f"{service}: not settings: {sorted(used - known)}"


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
    assert set(services) == {*SERVICES, "kafka", "postgres"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")


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
