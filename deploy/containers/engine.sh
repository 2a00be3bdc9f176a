#!/usr/bin/env bash
# The container engine for the deploy tests: Debian's podman (runc), a base image made
# from Debian's own packages (no registry is reachable here), and podman's
# Docker-compatible API for testcontainers.
#   engine.sh install   apt-get podman, buildah, podman-compose, runc, debootstrap
#   engine.sh base      build localhost/hyeopchi-base:bookworm once (cached by podman)
#   engine.sh socket    start `podman system service` and print its DOCKER_HOST
#   engine.sh env       print the variables the tests export
# The base carries Python 3.11 (the services), Java 17 (the Kafka stand-in) and
# PostgreSQL 15 (the database stand-in): one debootstrap instead of three.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE_IMAGE=${HYEOPCHI_BASE_IMAGE:-localhost/hyeopchi-base:bookworm}
RUN_DIR=${HYEOPCHI_RUN_DIR:-/tmp/hyeopchi-run}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$HERE/containers.conf}
say() { echo "engine: $*" >&2; }

mirror() {  # the URI apt already uses here (deb822 or one-line sources)
  { grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -h -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } \
    | grep -v security | head -1
}

install() {
  if command -v podman >/dev/null && command -v podman-compose >/dev/null \
     && command -v debootstrap >/dev/null && command -v runc >/dev/null; then return; fi
  say "installing podman, buildah, podman-compose, runc, debootstrap (apt)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    podman buildah podman-compose runc debootstrap >&2
}

base() {
  install
  if podman image exists "$BASE_IMAGE"; then say "$BASE_IMAGE is cached"; return; fi
  local rootfs; rootfs=$(mktemp -d /var/tmp/hyeopchi-rootfs.XXXX)
  say "debootstrap bookworm into $rootfs (about 4 minutes)"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-distutils,python3-lib2to3,ca-certificates,openjdk-17-jre-headless,postgresql,procps \
    bookworm "$rootfs" "$(mirror)" >&2
  tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >&2
  rm -rf "$rootfs"
  say "imported $BASE_IMAGE"
}

socket() {
  install
  mkdir -p "$RUN_DIR"
  local sock=$RUN_DIR/podman.sock
  if ! [ -S "$sock" ] || ! curl -s --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    # From /: conmon inherits the service's working directory, and a container cannot
    # start once that directory is gone (a test checkout deleted meanwhile).
    # Its own copy of the engine settings, for the same reason.
    cp "$CONTAINERS_CONF" "$RUN_DIR/containers.conf"
    (cd / || exit 1
     CONTAINERS_CONF="$RUN_DIR/containers.conf" nohup podman system service --time=0 \
       "unix://$sock" </dev/null >"$RUN_DIR/podman-service.log" 2>&1 &)
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.2; done
  fi
  echo "unix://$sock"
}

env_vars() {
  echo "CONTAINERS_CONF=$CONTAINERS_CONF"
  echo "HYEOPCHI_BASE_IMAGE=$BASE_IMAGE"
  echo "TESTCONTAINERS_RYUK_DISABLED=true"
}

case "${1:-}" in
  install) install ;;
  base) base ;;
  socket) socket ;;
  env) env_vars ;;
  *) echo "usage: engine.sh install|base|socket|env" >&2; exit 2 ;;
esac
