#!/usr/bin/env bash
# The official AsyncAPI parser (@asyncapi/parser, pinned in asyncapi/package-lock.json),
# installed into .tools/asyncapi/ (gitignored), and a validator built on it.
#
#   deploy/tools/asyncapi.sh install            install if missing or outdated (idempotent)
#   deploy/tools/asyncapi.sh validate FILE...   install if needed, then parse each document;
#                                               exit 1 on any error-severity diagnostic
#
# ASYNCAPI_TOOLS overrides the install directory. Needs node >= 18 and npm.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SRC="$HERE/asyncapi"
DEST=${ASYNCAPI_TOOLS:-$REPO/.tools/asyncapi}
STAMP="$DEST/.installed.sha256"

wanted() { cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1; }

installed() {
  [ "$(cat "$STAMP" 2>/dev/null)" = "$(wanted)" ] \
    && [ -f "$DEST/node_modules/@asyncapi/parser/package.json" ]
}

install() {
  installed && return 0
  for tool in node npm; do
    command -v "$tool" >/dev/null \
      || { echo "asyncapi: $tool is required (Node.js >= 18)" >&2; exit 1; }
  done
  mkdir -p "$(dirname "$DEST")"
  (  # one installer at a time (setup.sh and a test session may race)
    exec 9>"$DEST.lock"
    if command -v flock >/dev/null; then flock 9; fi
    installed && exit 0
    echo "asyncapi: installing the pinned @asyncapi/parser into $DEST" >&2
    tmp=$(mktemp -d "$DEST.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
    npm ci --prefix "$tmp" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
    wanted > "$tmp/.installed.sha256"
    rm -rf "$DEST"
    mv "$tmp" "$DEST"
  )
}

case "${1:-}" in
  install)
    install ;;
  validate)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 validate FILE..." >&2; exit 2; }
    install
    ASYNCAPI_TOOLS="$DEST" exec node "$SRC/validate.mjs" "$@" ;;
  *)
    echo "usage: $0 install | validate FILE..." >&2
    exit 2 ;;
esac
