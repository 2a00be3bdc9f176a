#!/usr/bin/env bash
# Install the pinned, offline manifest validators under .tools/ (gitignored):
#   .tools/bin/kubeconform                                          kubeconform (Go module proxy)
#   .tools/kubernetes-json-schema/v<K8S>-local{,-strict}/*.json      Kubernetes JSON schemas (PyPI)
#   .tools/compose-spec/<compose-go version>/compose-spec.json       Compose specification schema
#                                                                    (Go module proxy)
# Versions: deploy/tools/kubeconform.env. Idempotent and silent once installed; progress goes to
# stderr. Needs Go (PATH or /usr/local/go/bin) and Python with pip (.venv, else python3).
# kubeconform's default schema location (GitHub) is not used: the schemas come from the
# kubernetes-validate wheel, rewritten so that kubeconform resolves them from disk.
# Env: HYEOPCHI_TOOLS_DIR (default <repo>/.tools).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=kubeconform.env
source "$HERE/kubeconform.env"
TOOLS=${HYEOPCHI_TOOLS_DIR:-$REPO/.tools}

KUBECONFORM=$TOOLS/bin/kubeconform
KUBECONFORM_STAMP=$TOOLS/bin/.kubeconform.version
SCHEMAS=$TOOLS/kubernetes-json-schema
SCHEMAS_STAMP=$SCHEMAS/.installed-v$KUBERNETES_VERSION
COMPOSE_SCHEMA=$TOOLS/compose-spec/$COMPOSE_GO_VERSION/compose-spec.json

log() { echo "kubeconform.sh: $*" >&2; }
die() { log "$*"; exit 1; }

installed() {
  [[ -x $KUBECONFORM && "$(cat "$KUBECONFORM_STAMP" 2>/dev/null)" == "$KUBECONFORM_VERSION" &&
     "$(cat "$SCHEMAS_STAMP" 2>/dev/null)" == "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" &&
     -f $COMPOSE_SCHEMA ]]
}

# Fast path: everything at the pinned versions already.
installed && exit 0

# One installer at a time (setup.sh and a test session may race); then look again.
mkdir -p "$TOOLS/bin"
exec 9>"$TOOLS/.kubeconform.lock"
if command -v flock >/dev/null; then flock 9; fi
installed && exit 0

go_bin() {
  if command -v go >/dev/null; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "Go is required (go install of kubeconform, compose-go module download)"
  fi
}
python_bin() {
  if [[ -x $REPO/.venv/bin/python ]]; then echo "$REPO/.venv/bin/python"
  else command -v python3 || die "Python 3 with pip is required"
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- kubeconform
if [[ ! -x $KUBECONFORM || "$(cat "$KUBECONFORM_STAMP" 2>/dev/null)" != "$KUBECONFORM_VERSION" ]]; then
  log "installing kubeconform $KUBECONFORM_VERSION into $TOOLS/bin ..."
  GO=$(go_bin)
  # Outside any module, so the pinned version (and its go.sum) decides everything.
  (cd "$work" && GOBIN="$TOOLS/bin" "$GO" install \
     "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION") >&2
  echo "$KUBECONFORM_VERSION" > "$KUBECONFORM_STAMP"
fi

# ---------------------------------------------------------------- Kubernetes schemas
if [[ "$(cat "$SCHEMAS_STAMP" 2>/dev/null)" != "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ]]; then
  log "fetching Kubernetes $KUBERNETES_VERSION schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION, PyPI) ..."
  PY=$(python_bin)
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$work/wheel" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  "$PY" - "$work/wheel" "$SCHEMAS" "$KUBERNETES_VERSION" "$KUBERNETES_VALIDATE_SHA256" <<'PY'
"""Check the wheel's hash; copy one Kubernetes version's schemas, made loadable from disk.

The wheel's per-kind schemas carry "$id": "https://kubernetes.io/api/<kind>/..." and
refer to "/api/_definitions.json#/$defs/..."; kubeconform loads file URLs only, so the
$id goes and the reference becomes the sibling file "_definitions.json#/$defs/...".
"""
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

wheel_dir, dest, version, sha256 = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
wheel = next(wheel_dir.glob("kubernetes_validate-*.whl"))
digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
if digest != sha256:
    sys.exit(f"kubeconform.sh: {wheel.name}: sha256 {digest}, pinned {sha256}")


def rewrite(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("/api/_definitions.json"):
            node["$ref"] = ref[len("/api/"):]
        for value in node.values():
            rewrite(value)
    elif isinstance(node, list):
        for value in node:
            rewrite(value)


dest.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as zf:
    for variant in (f"v{version}-local", f"v{version}-local-strict"):
        prefix = f"kubernetes_validate/kubernetes-json-schema/{variant}/"
        names = [n for n in zf.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"kubeconform.sh: {wheel.name} has no schemas for {variant}")
        staging = dest / f".{variant}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in names:
            schema = json.loads(zf.read(name))
            schema.pop("$id", None)
            rewrite(schema)
            (staging / name[len(prefix):]).write_text(json.dumps(schema))
        shutil.rmtree(dest / variant, ignore_errors=True)
        staging.rename(dest / variant)
PY
  echo "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" > "$SCHEMAS_STAMP"
fi

# ---------------------------------------------------------------- Compose specification schema
if [[ ! -f $COMPOSE_SCHEMA ]]; then
  log "fetching the Compose specification schema (compose-go $COMPOSE_GO_VERSION) ..."
  GO=$(go_bin)
  PY=$(python_bin)
  # go mod download checks the module zip against sum.golang.org.
  dir=$(cd "$work" && "$GO" mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" \
        | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
  mkdir -p "$(dirname "$COMPOSE_SCHEMA")"
  cp "$dir/schema/compose-spec.json" "$COMPOSE_SCHEMA.tmp"
  chmod u+w "$COMPOSE_SCHEMA.tmp"
  mv "$COMPOSE_SCHEMA.tmp" "$COMPOSE_SCHEMA"
fi
