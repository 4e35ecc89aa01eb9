# HealthTrack: `make run` to serve the app, `make test` to run the suite.
# The interpreter that makes .venv: python3.11 when it is on the PATH, else python3 (which
# must then be 3.11). `make PYTHON=/path/to/python3.11 run` picks another.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-services test-faults test-replicas test-pgbouncer test-browser screenshots lint format migrate seed worker beat bench bench-smoke bench-compare install install-dev install-bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-bench.txt
	touch $@ $(VENV)/.dev $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev
install-bench: $(VENV)/.bench

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	@echo "HealthTrack on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Everything but the degraded-service and fault tests (those start and stop real servers).
test: install-dev
	$(BIN)/pytest -m "not services and not faults" $(PYTEST_ARGS)

# Degraded services: each test starts its own redis-server / PostgreSQL cluster on a free
# port, stops it mid-test and checks the app degrades (never the shared 5432 / 6379).
test-services: install-dev
	$(BIN)/pytest -m "services and not faults" $(PYTEST_ARGS)

# Fault injection (tests/faults, docs/operations-faults.md): its own PostgreSQL cluster and
# redis-server on free ports, the web server, a Celery worker and beat, under bounded load from
# threads; stops PostgreSQL, Redis, the worker and a web server worker, and checks what clients
# see, that no acknowledged write is lost and that follow-up work catches up. A few minutes.
test-faults: install-dev
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

# Through PgBouncer in transaction mode (PGBOUNCER_DATABASE_URL; .ci/run starts one): the
# PgBouncer checks plus the suites that exercise the database hardest (metrics: COPY, advisory
# transaction locks, bulk upserts; the accounts API). --reuse-db: PgBouncer keeps server
# connections pooled, so pytest-django could not drop the test database at the end; .ci/run
# drops it (WITH FORCE, directly on PostgreSQL) before each run instead.
test-pgbouncer: install-dev
	@test -n "$$PGBOUNCER_DATABASE_URL" || { echo "set PGBOUNCER_DATABASE_URL"; exit 2; }
	DATABASE_URL="$$PGBOUNCER_DATABASE_URL" DB_DISABLE_SERVER_SIDE_CURSORS=true \
		$(BIN)/pytest --reuse-db -m "not services" tests/healthtrack/test_pgbouncer.py \
		tests/accounts/test_api_users.py tests/core/test_encryption.py tests/metrics

# The replica router against a second database alias (a test mirror of the primary).
test-replicas: install-dev
	DATABASE_REPLICA_URLS="$${DATABASE_URL:-sqlite:///$(CURDIR)/var/replica-alias.sqlite3}" \
		$(BIN)/pytest tests/healthtrack/test_replica_router.py

test-browser: install-dev
	$(BIN)/pytest -m browser $(PYTEST_ARGS)

# Retake the clinician-workspace screenshots in docs/screenshots/ (Chromium, Playwright).
screenshots: install-dev
	$(BIN)/pytest docs/screenshots/take_clinician_screenshots.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py makemigrations --check --dry-run

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/celery -A healthtrack worker -l info -Q default,ingest,recommendations,imports,maintenance

beat: install
	$(BIN)/celery -A healthtrack beat -l info

# Benchmarks (bench/README.md): starts PostgreSQL and Redis as CI does (.ci/services.sh), runs
# every micro-benchmark bench/bench_*.py (metrics, insights, import, the 2 GB import,
# dashboard, database writes), the 148 k vs 15 M row comparison and the load test of one node; results in
# bench/results/*.json. BENCH_PATIENTS, BENCH_DURATION, BENCH_RATE, BENCH_VUS,
# BENCH_IMPORT_BYTES (bench-smoke never runs the large import).
bench: install-bench
	bash bench/run.sh

# HealthTrack (as its Dockerfile runs it) against a bare Django floor, with wrk, two interleaved
# sets, on a durable PostgreSQL cluster of its own: bench/results/compare.json (bench/README.md).
# BENCH_COMPARE_DURATION=5 for a quick look (written to var/bench/compare.json instead).
bench-compare: install-bench
	$(BIN)/python bench/compare.py

# CI: the load-test harness end to end on a tiny dataset for 5 s; fails on any error.
bench-smoke: install-bench
	bash bench/run.sh --smoke

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
