#!/usr/bin/env bash
# Set up a fresh machine for hyeopchi. Idempotent: a second run skips what is done.
#   bash deploy/setup.sh          what the services and the demo need: Python 3.11 venv
#                                 from the hashed runtime lock, the Kafka jars (Java 17)
#   bash deploy/setup.sh --test   also the test and bench tools: the dev lock, the
#                                 AsyncAPI validator (Node), kubeconform (Go), podman
#                                 and the Debian base image for the container tests.
# PostgreSQL is installed on first use by deploy/postgres/pg.sh (the tests use it).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
MODE=runtime
case "${1:-}" in
  "") ;;
  --test) MODE=test ;;
  *) echo "usage: setup.sh [--test]" >&2; exit 2 ;;
esac
STEPS=3; [ "$MODE" = test ] && STEPS=6
n=0; t0=$SECONDS
step() { n=$((n + 1)); echo "setup [$n/$STEPS] $* (${SECONDS}s)" >&2; }

step "Python 3.11 and the virtualenv .venv"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Python 3.11 is required (found: $("$PY" --version 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv

LOCK=requirements/runtime.lock; [ "$MODE" = test ] && LOCK=requirements/dev.lock
step "packages from $LOCK (hashes required)"
stamp=.venv/.requirements.sha
want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --progress-bar off --require-hashes -r "$LOCK" >&2
  .venv/bin/python -m pip install --progress-bar off --no-deps --no-build-isolation -e . >&2
  echo "$want" > "$stamp"
else
  echo "setup: already installed" >&2
fi

step "the Kafka broker's jars (Maven Central; needs Java 17)"
command -v java >/dev/null || { echo "setup: Java 17 is required for the Kafka broker" >&2; exit 1; }
deploy/kafka/kafka.sh fetch >&2

if [ "$MODE" = test ]; then
  step "the AsyncAPI validator (Node, npm)"
  deploy/tools/asyncapi.sh install >&2
  step "kubeconform (Go module proxy)"
  bash deploy/tools/kubeconform.sh >&2
  step "podman and the Debian base image for the container tests"
  bash deploy/containers/engine.sh base >&2
fi
echo "setup: ready in $((SECONDS - t0)) s (.venv/bin/hyeopchi)" >&2
