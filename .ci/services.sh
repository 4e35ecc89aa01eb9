#!/usr/bin/env bash
# PostgreSQL and Redis from Debian's packages on 127.0.0.1 (no systemd, no Docker), shared by
# .ci/run and `make bench`. Idempotent: running services are left as they are.
#
# Source it (`. .ci/services.sh [extra Debian packages...]`): it exports PGVER, PGPORT,
# REDIS_PORT and defines psql_admin. Extra arguments are Debian packages to install with the
# same apt-get call, each given as "command:package" (installed when `command` is missing).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
for _extra in "$@"; do
  command -v "${_extra%%:*}" >/dev/null 2>&1 || need+=("${_extra#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "ci: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- PostgreSQL ----------------------------------------------------------------------------
PGVER=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$PGVER main$"; then
  $SUDO pg_createcluster "$PGVER" main -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
# CI settings in a conf.d file of our own (re-written each run, so it stays idempotent).
$SUDO tee "/etc/postgresql/$PGVER/main/conf.d/healthtrack-ci.conf" >/dev/null <<'CONF'
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
PGPORT=$(pg_lsclusters -h | awk -v v="$PGVER" '$1==v && $2=="main" {print $3}')
if ! pg_lsclusters -h | awk -v v="$PGVER" '$1==v && $2=="main" {print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$PGVER" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break
  sleep 1
done
psql_admin() { $SUDO runuser -u postgres -- psql -p "$PGPORT" -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='healthtrack'")" ]; then
  psql_admin "CREATE ROLE healthtrack LOGIN PASSWORD 'healthtrack' CREATEDB"
fi
if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='healthtrack'")" ]; then
  psql_admin "CREATE DATABASE healthtrack OWNER healthtrack"
fi

# --- Redis ---------------------------------------------------------------------------------
REDIS_PORT=6379
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly no
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
export PGVER PGPORT REDIS_PORT SUDO
