#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the registry tests and print its URL.
#
#   url=$(.ci/postgres.sh)                 # or: source .ci/postgres.sh
#   export RESORB_TEST_POSTGRES_URL="$url"
#
# Installs Debian's postgresql when it is missing (needs root), creates a data
# directory under /tmp, starts the server (as the postgres user when run as root,
# else as the caller) on 127.0.0.1
# (port $RESORB_PG_PORT, default 54329), creates the role and database
# resorb_test, and prints postgresql+psycopg://resorb:resorb@127.0.0.1:PORT/resorb_test
# as the only line on stdout (progress goes to stderr). Running it again while
# the server is up reuses it. Stop it with: .ci/postgres.sh stop

# Sourced: run as a child (so that set -e and exit cannot touch the caller) and export the URL.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  if RESORB_TEST_POSTGRES_URL="$(bash "${BASH_SOURCE[0]}" "$@")"; then
    export RESORB_TEST_POSTGRES_URL
    echo "$RESORB_TEST_POSTGRES_URL"
    return 0
  fi
  return 1
fi

set -euo pipefail

PORT="${RESORB_PG_PORT:-54329}"
DATA="${RESORB_PG_DATA:-/tmp/resorb-pg-${PORT}}"
DB=resorb_test
ROLE=resorb
PASSWORD=resorb

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

BIN="$(find_bin || true)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and this is not root; install Debian's postgresql first"
    exit 1
  fi
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(find_bin)"
fi

# Root runs the server as the postgres user; anyone else runs it as themselves
# (a cluster in /tmp owned by the caller needs no privileges).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  if [ -f "$DATA/postmaster.pid" ]; then as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2; fi
  exit 0
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -s "$DATA/PG_VERSION" ]; then
    log "initialising a cluster in $DATA"
    mkdir -p "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA"; fi
    chmod 700 "$DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null 2>&1 \
      || as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust \
           --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >&2
  fi
  log "starting the server on 127.0.0.1:$PORT"
  as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off" start >&2
fi

psql_su() { as_postgres "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
  psql_su -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_su -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
