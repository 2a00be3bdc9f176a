"""Validate the deployment files offline, against pinned schemas.

  python deploy/tools/validate.py          kubeconform on deploy/k8s/ and the Compose
                                           specification schema on docker-compose.yml

kubeconform (-strict) checks every Kubernetes manifest against the JSON schemas of the
pinned Kubernetes version; docker-compose.yml is checked with jsonschema against
schema/compose-spec.json of the pinned compose-go module. Versions: kubeconform.env beside
this file; the tools live under .tools/ and are installed by kubeconform.sh (called here,
silent and fast once installed). Used by tests/deploy/test_manifests.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
K8S_DIR = REPO / "deploy" / "k8s"
COMPOSE_FILE = REPO / "docker-compose.yml"
INSTALLER = HERE / "kubeconform.sh"
KUSTOMIZATION = "kustomization.yaml"  # kustomize's own file, not a Kubernetes resource


def tools_dir() -> Path:
    return Path(os.environ.get("HYEOPCHI_TOOLS_DIR") or REPO / ".tools")


def versions() -> dict[str, str]:
    pins = {}
    for line in (HERE / "kubeconform.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


def install_tools() -> None:
    """Run the idempotent installer (prints nothing when everything is there)."""
    subprocess.run(["bash", str(INSTALLER)], check=True)


def kubeconform_path() -> Path:
    return tools_dir() / "bin" / "kubeconform"


def schema_location() -> str:
    return str(tools_dir() / "kubernetes-json-schema" /
               "{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}" /
               "{{ .ResourceKind }}{{ .KindSuffix }}.json")


def compose_schema_path() -> Path:
    return tools_dir() / "compose-spec" / versions()["COMPOSE_GO_VERSION"] / "compose-spec.json"


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest under deploy/k8s/ (the kustomization is not one)."""
    return sorted(p for p in K8S_DIR.iterdir()
                  if p.suffix in (".yaml", ".yml") and p.name != KUSTOMIZATION)


def documents(paths: Iterable[Path]) -> list[dict]:
    """The non-empty YAML documents of the files, in order."""
    out = []
    for path in paths:
        out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


@dataclass
class KubeconformResult:
    returncode: int
    summary: dict[str, int]        # valid, invalid, errors, skipped
    resources: list[dict]          # kubeconform's JSON records (non-valid ones unless verbose)
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def kubeconform(paths: Sequence[Path], verbose: bool = False) -> KubeconformResult:
    """kubeconform -strict -summary on the files, offline, for the pinned Kubernetes."""
    cmd = [str(kubeconform_path()), "-strict", "-summary", "-output", "json",
           "-kubernetes-version", versions()["KUBERNETES_VERSION"],
           "-schema-location", schema_location()]
    if verbose:
        cmd.append("-verbose")
    done = subprocess.run([*cmd, *map(str, paths)], capture_output=True, text=True,
                          timeout=120)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {}
    return KubeconformResult(done.returncode, report.get("summary", {}),
                             report.get("resources") or [], done.stdout + done.stderr)


def compose_errors(compose: dict) -> list[str]:
    """Violations of the Compose specification schema (empty = valid)."""
    schema = json.loads(compose_schema_path().read_text())
    cls = jsonschema.validators.validator_for(schema)  # the draft the schema declares
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(compose), key=lambda e: list(map(str, e.path)))]


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def main() -> int:
    install_tools()
    files = manifest_files()
    result = kubeconform(files)
    expected = len(documents(files))
    k8s_ok = result.ok and result.summary.get("valid") == expected
    print(f"kubeconform {versions()['KUBECONFORM_VERSION']} (Kubernetes "
          f"{versions()['KUBERNETES_VERSION']}, strict): {result.summary} for {expected} "
          f"documents in {len(files)} files -> {'ok' if k8s_ok else 'FAILED'}")
    if not k8s_ok:
        print(result.output, file=sys.stderr)
    errors = compose_errors(load_compose())
    print(f"docker-compose.yml against compose-spec.json (compose-go "
          f"{versions()['COMPOSE_GO_VERSION']}): {'ok' if not errors else 'FAILED'}")
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    return 0 if k8s_ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
