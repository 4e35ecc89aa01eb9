#!/usr/bin/env bash
# `make bench` / `make bench-smoke`: PostgreSQL and Redis as CI starts them (.ci/services.sh,
# installed from Debian's packages when missing), then the benchmarks.
#
#   bench/run.sh            micro-benchmarks (bench/bench_*.py), the 10 M vs 100 k row
#                           comparison and partitioning prototype (bench/scale.py), then the
#                           load test (bench/load.py); results in bench/results/*.json and the
#                           table in bench/README.md
#   bench/run.sh --smoke    CI: a 5-second load test on a tiny dataset, asserts zero errors
#
# Variables: BENCH_PATIENTS (1000), BENCH_DURATION (60 s), BENCH_RATE (20000/min, 0 = as fast
# as possible), BENCH_VUS (60), BENCH_ARGS (more bench/load.py options),
# BENCH_PG_SETTINGS=0 to leave PostgreSQL's configuration alone, BENCH_ONLY="bench/bench_x.py
# ..." to run only those scripts (same PostgreSQL settings; no scale or load test).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MODE="${1:-}"
set -- wrk:wrk  # .ci/services.sh installs these "command:package" when missing (wrk: the load test)

. .ci/services.sh
export DATABASE_URL="${DATABASE_URL:-postgres://healthtrack:healthtrack@127.0.0.1:$PGPORT/healthtrack}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"

if [ "$MODE" = "--smoke" ]; then
  exec $PY bench/load.py --smoke
fi

# Bench-only PostgreSQL settings for a 2-core, 24 GB machine, in a conf.d file of their own
# that sorts after CI's (so it wins) and is removed again when the bench ends. Durability as
# in production: fsync, full-page writes and synchronous_commit on (CI turns them off), so a
# 201 in a benchmark means what it means in production: the reading is on disk (issue 15).
# Settings that need a restart (shared_buffers) only apply with BENCH_PG_RESTART=1.
BENCH_CONF="/etc/postgresql/$PGVER/main/conf.d/zz-healthtrack-bench.conf"
if [ "${BENCH_PG_SETTINGS:-1}" = "1" ]; then
  $SUDO tee "$BENCH_CONF" >/dev/null <<'CONF'
fsync = on
full_page_writes = on
synchronous_commit = on
shared_buffers = 4GB
effective_cache_size = 16GB
work_mem = 16MB
maintenance_work_mem = 512MB
random_page_cost = 1.1
effective_io_concurrency = 200
jit = off
max_wal_size = 8GB
checkpoint_timeout = 15min
wal_compression = on
CONF
  trap '$SUDO rm -f "$BENCH_CONF"; psql_admin "SELECT pg_reload_conf()" >/dev/null' EXIT
  if [ "${BENCH_PG_RESTART:-0}" = "1" ]; then
    $SUDO pg_ctlcluster "$PGVER" main restart
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 1; done
  else
    psql_admin "SELECT pg_reload_conf()" >/dev/null
  fi
fi

echo "== machine: $(nproc) cores, $(uptime)"
for script in ${BENCH_ONLY:-bench/bench_*.py}; do
  echo "== $script"
  $PY "$script"
done
if [ -n "${BENCH_ONLY:-}" ]; then
  $PY bench/report.py
  exit 0
fi
echo "== bench/scale.py"
$PY bench/scale.py --patients "${BENCH_PATIENTS:-1000}"
echo "== bench/load.py"
# shellcheck disable=SC2086
$PY bench/load.py --patients "${BENCH_PATIENTS:-1000}" --duration "${BENCH_DURATION:-60}" \
  --rate "${BENCH_RATE:-20000}" --vus "${BENCH_VUS:-60}" ${BENCH_ARGS:-}
$PY bench/report.py
