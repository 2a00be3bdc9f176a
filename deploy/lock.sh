#!/usr/bin/env bash
# Regenerate the hash-pinned locks from pyproject.toml (uv, pinned below):
#   requirements/runtime.lock  what a service needs: the image, the wheel, the demo
#   requirements/dev.lock      runtime + the test and bench extras: the suite
# Both resolve the same versions (dev is constrained by runtime). Run after any change
# to pyproject.toml's dependencies; tests/deploy/test_lock.py fails until you do.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
UV_VERSION=0.13.9
TOOLS=${HYEOPCHI_TOOLS_DIR:-$HOME/.cache/hyeopchi/uv-$UV_VERSION}
if [ ! -x "$TOOLS/bin/uv" ]; then
  python3 -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q "uv==$UV_VERSION"
fi
compile() {  # out, extra args...
  local out=$1; shift
  "$TOOLS/bin/uv" pip compile --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --no-header \
    --custom-compile-command "deploy/lock.sh" -o "$out" "$@"
}
compile requirements/runtime.lock pyproject.toml requirements/build.in
compile requirements/dev.lock pyproject.toml requirements/build.in \
  --extra test --extra bench -c requirements/runtime.lock
echo "lock: requirements/runtime.lock, requirements/dev.lock" >&2
