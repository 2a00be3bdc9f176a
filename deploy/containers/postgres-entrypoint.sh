#!/usr/bin/env bash
# The postgres stand-in's entrypoint, after the official image's docker-entrypoint.sh:
# as root it fixes the data directory's owner and re-runs itself as postgres; on an empty
# data directory it runs initdb (superuser POSTGRES_USER, password POSTGRES_PASSWORD),
# allows remote clients by POSTGRES_HOST_AUTH_METHOD, creates POSTGRES_DB and runs the
# init scripts against a socket-only server; then PostgreSQL in the foreground.
set -euo pipefail
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ ${1:-} != postgres ]]; then exec "$@"; fi

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [[ -z ${POSTGRES_PASSWORD:-} && $method != trust ]]; then
    echo "Database is uninitialized and superuser password is not specified." >&2
    echo "  Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, development only)." >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  initdb --username="$POSTGRES_USER" ${POSTGRES_PASSWORD:+--pwfile="$pwfile"} \
    --auth-local=trust --auth-host="$method" --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k /var/run/postgresql" start >&2
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc -h /var/run/postgresql --username "$POSTGRES_USER")
  if [[ $POSTGRES_DB != postgres ]]; then
    "${psql[@]}" --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\"" >&2
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sql) echo "running $f" >&2; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *.sh) echo "sourcing $f" >&2; . "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  echo "PostgreSQL init process complete; ready for start up." >&2
fi

shift
exec postgres -c listen_addresses='*' -k /var/run/postgresql "$@"
