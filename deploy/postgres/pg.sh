#!/usr/bin/env bash
# A private PostgreSQL server from the Debian packages (not the Debian default cluster).
# The server refuses to run as root, so it runs as the `postgres` OS user.
#
# Usage (stdout carries only the documented result line; all chatter goes to stderr):
#   pg.sh install                                 apt-get install postgresql if missing (once)
#   pg.sh start    [--name dev] [--port 55432]    -> prints postgresql+psycopg://postgres@127.0.0.1:PORT/hyeopchi
#   pg.sh createdb [--name dev] [--port P] DB     -> prints the URL of DB (created if missing)
#   pg.sh url      [--name dev] [--port P] [DB]   -> prints the URL, no server check
#   pg.sh stop|restart|kill|status|wipe [--name dev]
#       stop: fast shutdown; restart: fast, waits until ready; kill: SIGKILL postmaster and
#       its children (crash); status: prints running/stopped, exit 0/1; wipe: stop + delete.
# Env: HYEOPCHI_RUN_DIR (default <repo>/.run), PG_START_TIMEOUT (60 s).
#
# State: $RUN_DIR/pg-NAME/ holds data/ (PGDATA), postgres.log and the unix socket. If the
# `postgres` user cannot reach that path (e.g. a repo under /root) or the socket path would be
# too long, the state lives in /tmp/hyeopchi-pg-NAME-<hash>/ and $RUN_DIR/pg-NAME/home points to it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUN_DIR=${HYEOPCHI_RUN_DIR:-$REPO/.run}
START_TIMEOUT=${PG_START_TIMEOUT:-60}
DB=hyeopchi
DEFAULT_PORT=55432

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- install

pg_bindir() { find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }

install() {
  if [[ -z $(pg_bindir) ]]; then
    [[ $(id -u) == 0 ]] || die "postgresql is not installed and installing needs root"
    log "installing postgresql from apt ..."
    # Keep the package's postinst from starting the Debian default cluster: a temporary
    # policy-rc.d that denies service starts (only if the system has none already).
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    {
      apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    } >&2 || { [[ -z $made_policy ]] || rm -f "$policy"; die "apt-get install postgresql failed"; }
    [[ -z $made_policy ]] || rm -f "$policy"
    [[ -n $(pg_bindir) ]] || die "postgresql installed but no pg_ctl under /usr/lib/postgresql"
  fi
  id -u postgres >/dev/null 2>&1 ||
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# Run a command as the postgres user from a directory it can read.
as_pg() { (cd / && runuser -u postgres -- "$@"); }

pg() { local tool=$1; shift; as_pg "$(pg_bindir)/$tool" "$@"; }

# pg_ctl_detached HOME ACTION ARGS... — start/restart in a new session (setsid -w waits for
# pg_ctl itself, while the postmaster outlives the calling shell or terminal).
pg_ctl_detached() {
  local h=$1; shift
  (cd / && setsid -w runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$h/data" -l "$h/postgres.log" \
    -w -t "$START_TIMEOUT" "$@" >&2 </dev/null)
}

# ---------------------------------------------------------------- where a server lives

state_dir() { echo "$RUN_DIR/pg-$1"; }

# home NAME — the postgres-owned directory holding data/, postgres.log and the socket.
# Chosen on first start and remembered in $RUN_DIR/pg-NAME/home; (re)created on every start.
home() {
  local name=$1 state h; state=$(state_dir "$1")
  mkdir -p "$state"
  chmod o+x "$RUN_DIR" "$state"   # we created these; umask 077 would lock postgres out
  if [[ -f $state/home ]]; then
    h=$(<"$state/home")
  else
    h=$state/pg
    # Unix socket paths are limited to 107 bytes: $h/.s.PGSQL.NNNNN must fit.
    if ! as_pg test -x "$state" 2>/dev/null || ((${#h} > 90)); then
      h=/tmp/hyeopchi-pg-$name-$(echo -n "$RUN_DIR" | md5sum | cut -c1-8)
      log "postgres cannot use $state (permissions or path length): state in $h"
    fi
    echo "$h" >"$state/home"
  fi
  mkdir -p "$h"
  chown postgres:postgres "$h"
  chmod 700 "$h"
  echo "$h"
}

# Existing home, or fail: commands other than start never create state.
existing_home() {
  local state; state=$(state_dir "$1")
  [[ -f $state/home ]] && cat "$state/home"
}

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$1/$2"; }

# Port the server was last configured with (hyeopchi.conf), else the default.
configured_port() {
  local h; h=$(existing_home "$1") || { echo "$DEFAULT_PORT"; return 0; }
  sed -n "s/^port = \([0-9]*\)/\1/p" "$h/data/hyeopchi.conf" 2>/dev/null | grep . || echo "$DEFAULT_PORT"
}

# pid_alive PID — exists and is not a zombie. (pg_ctl status and the postmaster's own lock
# check use kill(pid, 0), which also succeeds on zombies; an init that reaps orphans late —
# this machine's PID 1 takes ~2 s — would make a dead server look alive.)
pid_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Pid of the live postmaster of server NAME, or nothing.
postmaster_pid() {
  local h pid; h=$(existing_home "$1") || return 0
  [[ -f $h/data/postmaster.pid ]] || return 0
  pid=$(head -n 1 "$h/data/postmaster.pid")
  [[ -n $pid ]] && pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 0
  echo "$pid"
}

is_running() { [[ -n $(postmaster_pid "$1") ]]; }

# wait_reaped SECONDS PID... — until the pids are gone from /proc entirely (zombies reaped),
# so a new postmaster does not mistake an old zombie for a running server.
wait_reaped() {
  local deadline=$((SECONDS + $1)) pid left; shift
  while :; do
    left=0
    for pid; do [[ -e /proc/$pid ]] && left=1; done
    ((left)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------- server lifecycle

init_data() {
  local h=$1
  [[ -f $h/data/PG_VERSION ]] && return 0
  local locale=C.UTF-8
  locale -a 2>/dev/null | grep -qix 'c.utf-\?8' || locale=C
  log "initdb $h/data"
  pg initdb -D "$h/data" -A trust -U postgres --encoding=UTF8 --locale="$locale" >/dev/null
  echo "include 'hyeopchi.conf'" >>"$h/data/postgresql.conf"
}

# Our settings, rewritten on every start (so --port can change); fsync stays on for durability tests.
write_config() {
  local h=$1 port=$2
  cat >"$h/data/hyeopchi.conf" <<EOF
# Generated by deploy/postgres/pg.sh — rewritten on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$h'
max_connections = 200
fsync = on
synchronous_commit = on
logging_collector = off
EOF
  chown postgres:postgres "$h/data/hyeopchi.conf"
}

wait_ready() {
  local port=$1 deadline=$((SECONDS + START_TIMEOUT))
  until pg pg_isready -q -h 127.0.0.1 -p "$port" -t 1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

psql_q() {  # psql_q PORT DB — run stdin as postgres, tuples only
  local port=$1 db=$2; shift 2
  pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" -tA "$@"
}

ensure_db() {
  local port=$1 db=$2 exists
  exists=$(echo "select 1 from pg_database where datname = :'d'" | psql_q "$port" postgres -v d="$db")
  [[ -n $exists ]] && return 0
  # Parallel callers may race: "already exists" is fine.
  pg createdb -h 127.0.0.1 -p "$port" -U postgres "$db" 2>/dev/null ||
    [[ -n $(echo "select 1 from pg_database where datname = :'d'" | psql_q "$port" postgres -v d="$db") ]] ||
    die "could not create database $db"
}

pg_fail() {  # pg_fail HOME MESSAGE — show the server log tail and exit
  log "$2; last log lines:"
  tail -n 30 "$1/postgres.log" >&2 2>/dev/null || true
  exit 1
}

cmd_start() {
  local name=$1 port=$2 h
  if is_running "$name"; then
    log "pg-$name already running"
    url "$(configured_port "$name")" "$DB"
    return 0
  fi
  h=$(home "$name")
  # After a crash the old postmaster may still be an unreaped zombie: let init collect it.
  if [[ -f $h/data/postmaster.pid ]]; then
    wait_reaped 15 "$(head -n 1 "$h/data/postmaster.pid")" || log "warning: old postmaster not reaped"
  fi
  init_data "$h"
  write_config "$h" "$port"
  pg_ctl_detached "$h" start || pg_fail "$h" "pg_ctl start failed"
  wait_ready "$port" || pg_fail "$h" "not ready after ${START_TIMEOUT}s"
  ensure_db "$port" "$DB"
  url "$port" "$DB"
}

cmd_stop() {
  local name=$1 h
  is_running "$name" || return 0
  h=$(existing_home "$name")
  pg pg_ctl -D "$h/data" -m fast -w -t 60 stop >&2
}

cmd_restart() {
  local name=$1 h port
  h=$(existing_home "$name") || die "pg-$name was never started"
  port=$(configured_port "$name")
  if is_running "$name"; then
    pg_ctl_detached "$h" -m fast restart || pg_fail "$h" "pg_ctl restart failed"
    wait_ready "$port" || pg_fail "$h" "not ready after ${START_TIMEOUT}s"
  else
    cmd_start "$name" "$port" >/dev/null
  fi
}

# SIGKILL the postmaster and every child at once: a crash, not a shutdown. Waits until all
# are gone (and reaped) so that the next start does crash recovery straight away.
cmd_kill() {
  local name=$1 pm pids
  pm=$(postmaster_pid "$name")
  [[ -n $pm ]] || return 0
  pids="$pm $(ps -o pid= --ppid "$pm" | tr '\n' ' ')"
  log "killing pg-$name (postmaster $pm and children)"
  # shellcheck disable=SC2086 # word-splitting the pid list is intended
  kill -KILL $pids 2>/dev/null || true
  # shellcheck disable=SC2086
  wait_reaped 15 $pids || log "warning: killed postgres processes not reaped after 15s"
}

cmd_wipe() {
  local name=$1 h
  cmd_stop "$name"
  h=$(existing_home "$name") || true
  case $h in  # only ever delete a home this script made
    */pg-"$name"/pg | /tmp/hyeopchi-pg-"$name"-*) rm -rf "$h" ;;
  esac
  rm -rf "$(state_dir "$name")"
}

# ---------------------------------------------------------------- dispatch

main() {
  local cmd=${1:-help}; shift || true
  case $cmd in help|-h|--help)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; return 0 ;;
  esac
  install
  local name=dev port="" db="" args=()
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      -*) die "unknown option $1" ;;
      *) args+=("$1"); shift ;;
    esac
  done
  case $cmd in
    install) ;;
    start) cmd_start "$name" "${port:-$(configured_port "$name")}" ;;
    createdb|url)
      db=${args[0]:-}
      [[ -n $db || $cmd == url ]] || die "createdb: DBNAME required"
      port=${port:-$(configured_port "$name")}
      if [[ $cmd == createdb ]]; then
        is_running "$name" || die "pg-$name is not running (pg.sh start first)"
        ensure_db "$port" "$db"
      fi
      url "$port" "${db:-$DB}" ;;
    stop) cmd_stop "$name" ;;
    restart) cmd_restart "$name" ;;
    kill) cmd_kill "$name" ;;
    status) if is_running "$name"; then echo running; else echo stopped; return 1; fi ;;
    wipe) cmd_wipe "$name" ;;
    *) die "unknown subcommand '$cmd' (try: pg.sh help)" ;;
  esac
}

main "$@"
