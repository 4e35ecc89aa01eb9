"""Load test of one node: the production server under wrk playing the design's mix, results and
the cost model in bench/results/load.json.

    python bench/load.py [--patients 1000] [--duration 60] [--rate 20000] [--vus 60]
                         [--wrk-threads 2]
                         [--worker-args "--workers 4"] [--postgres own|env]
                         [--redis own|env] [--redis-db N]
                         [--model-seconds 6] [--at-mix-pace all|NAME,...] [--port N]
                         [--profile]
    python bench/load.py --smoke      # CI: 5 patients, 5 s, asserts zero errors

1. PostgreSQL: `--postgres own` (the default) is the bench's own durable cluster, the one
   bench/compare.py uses (var/bench/compare-pg: fsync, full_page_writes and synchronous_commit
   on, as production must run); `env` is DATABASE_URL's server (`--smoke`'s default: CI's).
   The dataset (bench/generate.py) in database `ht_perf` (`--database`), made when missing.
2. JWTs for every patient (AccessToken.for_user, 2 h) into var/bench/users.tsv.
3. A Celery worker (all queues) and the web server as the Dockerfile's CMD runs it (bound to
   a free 127.0.0.1 port, or `--port`, refused when anything listens there: the workers bind
   with SO_REUSEPORT, so two runs would silently split each other's traffic; `--worker-args`
   swaps its worker layout), `DJANGO_ENV=production`,
   Redis: `--redis own` (the default) a redis-server of the bench's own on a free port, so its
   CPU is the node's alone; `env` REDIS_URL's server, db `--redis-db` (BENCH_REDIS_DB, 13;
   flushed first: a cold cache either way; `--smoke`'s default), keys from
   var/dev-keys.json, `BENCH_STATS=true` (per-request SQL statements, cache hits and the
   request's CPU time in headers), as behind a load balancer (`TRUSTED_PROXY_COUNT=1`, each
   patient sends their own X-Forwarded-For) and the API rate limits raised through
   `API_RATE_*` (the throttles still run; settings' defaults untouched).
4. The mix: Debian's `wrk -tT -cN` (N = `--vus` connections, each a virtual user, over T =
   `--wrk-threads` threads, 2: one per core; a thread per connection cost wrk 0.28 ms of CPU
   per request against a trivial server, two threads 0.10) with bench/load.lua, each request
   a random patient with their own JWT and an endpoint drawn by
   MIX's weights, each connection paced to `--rate / 60 / N` requests a second (`--rate 0`:
   as fast as answered) for `--duration` seconds after `--warmup` seconds of it (30) that
   are not measured: the mix's steady state (JWT user entries loaded, cached answers made
   and invalidated by the writes, PostgreSQL's buffers). Before it, on the bench's own
   cluster, `quiesce()`: `VACUUM (ANALYZE)` of every database (bench-compare's regenerated
   one included), no autovacuum worker left running, `CHECKPOINT`; what it did, and the
   checkpoints and autovacuum runs that still fell in the window, are in the results. wrk
   costs a small fraction of what locust did (measured: locust 0.8-1.0 ms of CPU per
   request on the same two cores as the server).
5. The cost model (`--model-seconds`, 0 = skip): every endpoint of the mix alone (as fast as
   answered if the mix saturated the node, else at its pace), CPU ms per request of each tier
   (web server, PostgreSQL, Redis, Celery); weighted by the mix's shares it predicts the mix's
   CPU per request and the requests/min the node's cores can carry, set against what the mix
   run measured (the error in %). Celery's tier by task: each kind's CPU per run and Celery's
   own CPU per task (the worker's counters), measured alone, times the tasks per request in
   the mix. `--at-mix-pace`: the app CPU and the tasks' CPU from each endpoint alone at its
   pace in the mix instead (a request costs more between other work than back to back).
6. Figures: requests/minute, p50/p95/p99 per endpoint and overall, errors, cache hit rate,
   SQL statements and app CPU per request, PostgreSQL transactions and rows written per second,
   CPU used by the web server / Celery / PostgreSQL / Redis / wrk / the whole machine, the load
   average; written to load.json (or `--out`). `--profile` also records a py-spy flame graph
   of the web server's workers during the mix (var/bench/profile.speedscope.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common import (
    PERF_DB,
    PERF_REDIS_DB,
    RESULTS,
    ROOT,
    WORK,
    bench_patients,
    dockerfile_command,
    libpq,
    machine,
    redis_url,
    setup_django,
    stop,
)

BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "load.lua"
ALONE_WARMUP_S = 1  # each endpoint alone, after the mix; the mix's own: --warmup
# The mix's unmeasured start: long enough for the mix's own cache state (the JWT user entries'
# first loads, each patient's cached answers and their invalidation by writes, PostgreSQL's
# buffers of this dataset, the full-page writes after the checkpoint `quiesce` made).
MIX_WARMUP_S = 30
TARGET = {"requests_per_minute": 20000, "p95_ms": 50, "errors": 0}
MODEL_TOLERANCE_PCT = 10

# The design's mix, per 100 requests: reads 80, writes 15, aggregates 5.
# name: (kind, weight, method, path, body); in a path {id} is the patient, {watch} their watch,
# {type} a metric type drawn per request; body: what bench/load.lua writes (- = none).
MIX = {
    "summary": ("read", 28, "GET", "/api/v1/health-metrics/summary", "-"),
    "list_recent": ("read", 10, "GET", "/api/v1/health-metrics?limit=100", "-"),
    "list_type": ("read", 8, "GET", "/api/v1/health-metrics?metric_type={type}&limit=50", "-"),
    "nutrition_daily": ("read", 14, "GET", "/api/v1/nutrition-logs/daily", "-"),
    "insights": ("read", 6, "GET", "/api/v1/health-insights", "-"),
    "recommendations": ("read", 8, "GET", None, "-"),  # optional: OPTIONAL_PATHS
    "goals": ("read", 6, "GET", None, "-"),  # optional
    "single_reading": ("write", 7, "POST", "/api/v1/health-metrics", "reading"),
    "meal": ("write", 5, "POST", "/api/v1/nutrition-logs", "meal"),
    "sync": ("write", 3, "POST", "/api/v1/devices/{watch}/sync", "sync"),
    "aggregates_day": (
        "aggregate", 3, "GET", "/api/v1/health-metrics/aggregates?metric_type=steps&period=day", "-"
    ),
    "aggregates_hour": (
        "aggregate", 2, "GET",
        "/api/v1/health-metrics/aggregates?metric_type=heart_rate&period=hour", "-",
    ),
}  # fmt: skip
OPTIONAL_PATHS = {
    # name: candidate paths ({id}: the patient's id), first that resolves wins
    "recommendations": ["/api/v1/recommendations/{id}", "/api/v1/recommendations"],
    "goals": ["/api/v1/health-goals", "/api/v1/goals"],
}
KINDS = {"design": {"read", "write", "aggregate"}, "writes": {"write"}}


def mix_weights(kinds: set[str], paths: dict[str, str]) -> dict[str, float]:
    """The mix's weights (per 100) of the endpoints of `kinds` on this version of the app; an
    optional read that is missing gives its share to the other reads (the reads keep theirs)."""
    active = {
        n: w
        for n, (kind, w, _, path, _) in MIX.items()
        if kind in kinds and (path is not None or n in paths)
    }
    missing = sum(w for n, (kind, w, *_) in MIX.items() if kind in kinds and n not in active)
    reads = [n for n in active if MIX[n][0] == "read"]
    read_total = sum(active[n] for n in reads)
    for n in reads:
        active[n] += missing * active[n] / read_total
    return active


def mix_lines(weights: dict[str, float], paths: dict[str, str]) -> str:
    """The mix as bench/load.lua reads it: "name weight METHOD path body" a line."""
    out = []
    for name, weight in weights.items():
        _, _, method, path, body = MIX[name]
        out.append(f"{name} {weight:.4f} {method} {paths.get(name, path)} {body}")
    return "\n".join(out) + "\n"


def _served_by_readcache(name: str, status: int, counters: list[str]) -> bool | None:
    """Whether a read was answered from its rendered bytes (accounts.api.readcache), when its
    counters alone say so: the body comes back in the prefetch's one Lua round trip, which the
    bench's counting cache does not see, so a hit shows no SQL statement and no lookup at all
    (one hit), and a read that ran SQL without any counted lookup was a miss of that cache
    (the lists'). Before, those were left out: the summary's rate read 0.001 (only its misses
    looked anything up) and the lists had none. None: the counted lookups say it all."""
    queries, hits, misses = (int(c) for c in counters)
    method = MIX.get(name, ("", 0, ""))[2]
    if method != "GET" or not 200 <= status < 300 or hits or misses:
        return None
    return queries == 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 2)


def write_users(path: Path) -> list[dict]:
    users = bench_patients()
    path.write_text("".join(f"{u['id']} {u['watch']} {u['token']}\n" for u in users))
    return users


def optional_paths() -> dict[str, str]:
    from django.urls import Resolver404, resolve

    found = {}
    for name, candidates in OPTIONAL_PATHS.items():
        for path in candidates:
            try:
                resolve(path.format(id=1))
            except Resolver404:
                continue
            found[name] = path
            break
    return found


def server_env(database_url: str, redis_db: int) -> dict[str, str]:
    from healthtrack import devkeys

    keys = devkeys.load_or_create(ROOT / "var" / "dev-keys.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BENCH_"))}
    env.update(keys)
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="healthtrack.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url(redis_db),
        # As behind a load balancer: one trusted proxy, whose X-Forwarded-For names the client
        # (every patient has an address of their own).
        TRUSTED_PROXY_COUNT="1",
        # A connection may pick the same patient several times in a second: the limits are
        # raised for the bench server only (the throttles still run on every request).
        API_RATE_PER_IP="100000/min",
        API_BURST_PER_IP="10000/s",
        API_RATE_PER_USER="100000/min",
        API_RATE_SYNC_PER_USER="100000/min",
        API_RATE_IMPORTS_PER_USER="100000/min",
        API_RATE_EXPORTS_PER_USER="100000/min",
        API_RATE_FRESH_RECOMMENDATIONS_PER_USER="100000/min",
        BENCH_STATS="true",
        # As production: JSON logs with one access line per request (into var/bench/web.log),
        # Prometheus metrics shared by the workers.
        PROMETHEUS_MULTIPROC_DIR=str(WORK / "prometheus"),
        HEALTHTRACK_VAR_DIR=str(WORK / "load-var"),
    )
    return env


WARM_PATHS = [
    "/api/v1/health-metrics/summary",
    "/api/v1/health-metrics?limit=100",
    "/api/v1/health-metrics?metric_type=weight&limit=50",
    "/api/v1/nutrition-logs/daily",
    "/api/v1/health-insights",
    "/api/v1/health-metrics/aggregates?metric_type=steps&period=day",
]


def prewarm(port: int, users: list[dict], rounds: int) -> None:
    """GET every read endpoint `rounds` times in parallel, so that every worker has loaded its
    URL conf, opened its connections and filled its caches before anything is measured."""
    from concurrent.futures import ThreadPoolExecutor

    def get(i: int) -> None:
        user = users[i % len(users)]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{WARM_PATHS[i % len(WARM_PATHS)]}",
            headers={
                "Authorization": f"Bearer {user['token']}",
                "X-Forwarded-For": f"2001:db8::{user['id']:x}",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            response.read()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, range(rounds * len(WARM_PATHS))))


def nightly_recommendations(user_ids: list[int]) -> int:
    """What production's nightly run (beat's `insights.nightly_recommendations`) leaves before
    the day's traffic: each patient's stored recommendations computed for their today. Without
    it, every patient's first read of the day recomputes synchronously, which a node that ran
    overnight never does (measured by bench/mix_replay.py: half the mix's recommendation reads
    were first touches). Computes the patients whose stored set is due or not for today, with
    the nightly task's own function, and returns how many it computed."""
    from django.contrib.auth import get_user_model

    from healthtrack.core import days
    from insights.snapshot_builder import users_due_for_recommendations
    from insights.tasks import compute_recommendations_chunk

    due = set(users_due_for_recommendations().filter(pk__in=user_ids))
    patients = (
        get_user_model().objects.filter(pk__in=user_ids).select_related("recommendation_state")
    )
    for user in patients:
        state = getattr(user, "recommendation_state", None)
        if state is None or state.computed_for != days.today(user):
            due.add(user.pk)
    ordered = sorted(due)
    for start in range(0, len(ordered), 200):
        compute_recommendations_chunk(ordered[start : start + 200])
    return len(ordered)


def claim_port(port: int | None) -> int:
    """The web server's port: a free one when `port` is None, else `port` if nothing listens
    on it. The server's workers bind with SO_REUSEPORT (granian's layout), so a second load
    run on a port already in use would not fail: the kernel would split wrk's connections
    between the two runs' servers, each counting the other's requests (and neither's CPU
    matching them). A bind without SO_REUSEPORT fails while any socket listens there (with
    SO_REUSEADDR: the previous run's connections in TIME_WAIT do not count)."""
    import socket

    from compare import free_port

    if port is None:
        return free_port()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(
                f"port {port} is in use ({exc.strerror}): another load run or server listens "
                "there; pass a free --port or leave it out (a free one is picked)"
            ) from None
    return port


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited (see {WORK / 'web.log'})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"server not ready at {url} after {timeout:.0f} s (see var/bench/)")
        time.sleep(0.3)


def start_redis() -> tuple[subprocess.Popen, str]:
    """A Redis server of the bench's own on a free loopback port, nothing persisted: its CPU is
    the node's alone (the shared server's is everybody's)."""
    from compare import free_port

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(WORK), "--logfile", str(WORK / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop(proc)
                raise SystemExit(f"redis-server did not start (see {WORK / 'redis.log'})") from None
            time.sleep(0.1)


# --- CPU accounting ---------------------------------------------------------------------------


def _proc_cpu(pid: int) -> tuple[float, list[int]]:
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += (task / "children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0, []
    # utime + stime, and cutime + cstime: the children it has reaped (a PostgreSQL backend that
    # closed, a web server worker that was replaced) stay counted in their parent
    return sum(int(f) for f in fields[11:15]) / tick, [int(c) for c in children]


def cpu_by_pid(roots: list[int]) -> dict[int, float]:
    """CPU seconds (user + system, their reaped children's included) of these processes and all
    their descendants, per pid."""
    out: dict[int, float] = {}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out[pid], children = _proc_cpu(pid)
        stack.extend(children)
    return out


def cpu_used(before: dict[int, float], after: dict[int, float], *, tree: bool = True) -> float:
    """CPU seconds spent between two snapshots. `tree`: the snapshots are whole process trees
    (a process that ended is counted in its parent); otherwise loose processes, of which those
    that ended between the snapshots are lost."""
    if tree:
        return sum(after.values()) - sum(before.values())
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def pids_matching(*fragments: str) -> list[int]:
    """PIDs whose command line contains every fragment (CPU accounting only)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if all(f in cmd for f in fragments):
                out.append(int(entry.name))
    return out


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def db_counters(cursor, name: str) -> dict[str, int]:
    cursor.execute(
        "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_read, blks_hit "
        "FROM pg_stat_database WHERE datname = %s",
        [name],
    )
    keys = ["commits", "inserted", "updated", "deleted", "blks_read", "blks_hit"]
    return dict(zip(keys, cursor.fetchone(), strict=True))


def settle(snapshot, *, idle_cores: float = 0.1, timeout: float = 20) -> None:
    """Wait until the node is idle: what a previous run left queued (slow writes in the listen
    backlog, the Celery work they enqueued) would otherwise be counted in the next run."""
    deadline = time.monotonic() + timeout
    before = snapshot()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = snapshot()
        busy = sum(cpu_used(before[k], after[k]) for k in after) / 0.5
        if busy < idle_cores:
            return
        before = after


def drain(
    snapshot, tier: str, queued=None, *, idle_cores: float = 0.02, timeout: float = 90
) -> dict:
    """Wait until `tier` is idle and `queued()` (its broker queues' length) is 0: its queue
    worked off. Idle CPU alone is not enough: on a busy machine a starved worker looks idle
    with its queue full (measured: the mix's tasks then ran, and were counted, in the next
    endpoint's run alone). The last snapshot."""
    deadline = time.monotonic() + timeout
    before = snapshot()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = snapshot()
        idle = cpu_used(before[tier], after[tier]) / 0.5 < idle_cores
        if idle and (queued is None or queued() == 0):
            return after
        before = after
    return before


def autovacuum_workers(conn) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
    ).fetchone()[0]


def postgres_counters(url: str) -> dict[str, int]:
    """The cluster's checkpoints so far and the autovacuum and autoanalyze runs of the database
    at `url`: work PostgreSQL does on its own schedule, counted in its tier's CPU when it falls
    in a run's window."""
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        checkpoints = conn.execute(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()[0]
        vacuums, analyzes = conn.execute(
            "SELECT coalesce(sum(autovacuum_count), 0)::bigint, "
            "coalesce(sum(autoanalyze_count), 0)::bigint "
            "FROM pg_stat_all_tables"
        ).fetchone()
    return {"checkpoints": checkpoints, "autovacuums": vacuums, "autoanalyzes": analyzes}


def quiesce(admin_url: str, *, timeout: float = 300) -> dict:
    """Before the mix, on the bench's own cluster (`admin_url`: a superuser's, any database):
    nothing an earlier run (bench-compare's writes and its regenerated dataset, an earlier load
    run) left for PostgreSQL to do falls in the window. Each database gets `VACUUM (ANALYZE)`
    (what autovacuum would otherwise start during the run: measured, the load run right after
    bench-compare cost 5.37 ms of app CPU per request, the next one 4.77), then no autovacuum
    worker may be running, then `CHECKPOINT` (the dirty buffers written now, not by the
    checkpointer during the window). What it did, and how long each step took, is reported."""
    import psycopg

    report: dict = {"databases": {}}
    started = time.monotonic()
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
            )
        ]
    for name in names:
        t = time.monotonic()
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        report["databases"][name] = {"vacuum_analyze_s": round(time.monotonic() - t, 1)}
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        t, seen = time.monotonic(), 0
        while (running := autovacuum_workers(conn)) and time.monotonic() - t < timeout:
            seen = max(seen, running)
            time.sleep(0.5)
        report["autovacuum_workers_waited_for"] = seen
        report["autovacuum_wait_s"] = round(time.monotonic() - t, 1)
        report["autovacuum_still_running"] = running
        t = time.monotonic()
        conn.execute("CHECKPOINT")
        report["checkpoint_s"] = round(time.monotonic() - t, 1)
    report["total_s"] = round(time.monotonic() - started, 1)
    return report


QUEUES = ("default", "ingest", "recommendations", "imports", "maintenance")


def broker_queued(url: str):
    """The number of messages waiting in the worker's queues on the Redis broker at `url`
    (kombu's list per queue and priority step); tasks the worker has taken are not counted."""
    import redis

    client = redis.from_url(url)
    keys = [q if p == 0 else f"{q}\x06\x16{p}" for q in QUEUES for p in (0, 3, 6, 9)]

    def queued() -> int:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
            return sum(pipe.execute())

    return queued


def celery_tasks(log: Path, offset: int) -> dict[str, int]:
    """Tasks the worker received since `offset` in its log (`-l info`), by name."""
    counts: dict[str, int] = {}
    if not log.exists():
        return counts
    with log.open("rb") as fh:
        fh.seek(offset)
        for line in fh.read().decode(errors="replace").splitlines():
            # "... Task insights.tasks.compute_recommendations[<id>] received"
            if "received" in line and "Task " in line:
                name = line.split("Task ", 1)[1].split("[", 1)[0]
                counts[name] = counts.get(name, 0) + 1
    return counts


def celery_task_counters(metrics_dir: Path) -> dict[str, dict[str, float]]:
    """The worker's task counters so far, from the Prometheus files its processes write
    (PROMETHEUS_MULTIPROC_DIR): per task name, the tasks run (`healthtrack_celery_tasks_total`,
    every outcome) and the CPU seconds of the threads that ran them
    (`healthtrack_celery_task_cpu_seconds_total`, healthtrack/celery.py)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    out: dict[str, dict[str, float]] = {}
    wanted = {
        "healthtrack_celery_tasks_total": "run",
        "healthtrack_celery_task_cpu_seconds_total": "cpu_s",
    }
    for metric in registry.collect():
        for sample in metric.samples:
            key = wanted.get(sample.name)
            if key is not None:
                counts = out.setdefault(sample.labels["task"], {"run": 0.0, "cpu_s": 0.0})
                counts[key] += sample.value
    return out


# Tasks published with a countdown longer than any run: the recommendations' debounce
# (RECOMMENDATIONS_DEBOUNCE_SECONDS, 300 s) schedules its run that long after a person's first
# write; no run waits for them (the worker holds them, received, until they are due).
LONG_COUNTDOWN_TASKS = frozenset({"insights.compute_recommendations"})


def wait_for_countdown_tasks(
    received, run, *, seconds: float, skip: frozenset[str] = LONG_COUNTDOWN_TASKS
) -> dict[str, float]:
    """Wait (at most `seconds`) until every task this run's requests published has run, but
    those of `skip`: a countdown task (goal progress was one, coalesced per person for a
    window, before it ran in the write's own send, `goals.receivers`) is held by the worker,
    not queued in the broker, so the queues can be empty and the worker idle while it waits.
    Counted in the next run, the last seconds' tasks of one endpoint alone (all of them, in a
    run of a few seconds) went to the next endpoint. `received()`: tasks received by name;
    `run()`: tasks run by name. The tasks still due, by name."""
    deadline = time.monotonic() + seconds
    while True:
        ran = run()
        due = {
            name: count - ran.get(name, {}).get("run", 0.0)
            for name, count in received().items()
            if name not in skip
        }
        due = {name: left for name, left in due.items() if left > 0}
        if not due or time.monotonic() > deadline:
            return due
        time.sleep(0.5)


def counters_since(before: dict, after: dict) -> dict[str, dict[str, float]]:
    out = {}
    for name, counts in after.items():
        old = before.get(name, {})
        diff = {k: v - old.get(k, 0.0) for k, v in counts.items()}
        if diff["run"] or diff["cpu_s"]:
            out[name] = diff
    return out


# --- one wrk run ------------------------------------------------------------------------------


def run_wrk(
    label: str,
    weights: dict[str, float],
    paths: dict[str, str],
    *,
    port: int,
    seconds: float,
    warmup: float,
    rate_per_min: int,
    connections: int,
    threads: int,
    users_file: Path,
    snapshot,
    queued=None,
    loose: frozenset[str] = frozenset(),
    during=None,
    task_counters=None,
    countdown_s: float = 0.0,
) -> dict:
    """wrk with bench/load.lua for `warmup` + `seconds`; the requests answered in the last
    `seconds` (the window), the CPU each tier used in it (`snapshot()`'s tiers; those in
    `loose` are loose processes, not trees), and wrk's own CPU over the whole run.
    `during(seconds)` is called when the window opens (the profiler); `task_counters()`: the
    worker's tasks run and their CPU so far, by name (`celery_task_counters`); `countdown_s`:
    the longest countdown of a task the run waits for (`wait_for_countdown_tasks`)."""
    drain(snapshot, "celery", queued)  # what an earlier run queued is not this run's
    settle(snapshot)
    out_dir = WORK / "wrk" / label
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    mix_file = out_dir / "mix.txt"
    mix_file.write_text(mix_lines(weights, paths))
    env = dict(
        os.environ,
        LOAD_USERS=str(users_file),
        LOAD_MIX=str(mix_file),
        LOAD_RATE=str(rate_per_min / 60 / connections if rate_per_min else 0),
        LOAD_OUT=str(out_dir / "thread"),
    )
    total = max(round(warmup + seconds), 1)
    threads = max(1, min(threads, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{total}s", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}"]
    celery_log = WORK / "celery.log"
    log_from = celery_log.stat().st_size if celery_log.exists() else 0
    with (out_dir / "wrk.out").open("wb") as log:
        start = snapshot()  # the node is idle (settle): what Celery does from here is this run's
        tasks_before = task_counters() if task_counters else {}
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(warmup)
        cpu0, busy0, t0 = snapshot(), machine_busy(), time.monotonic()
        if during is not None:
            during(seconds)
        # wait4: wrk's own CPU (every thread) from the kernel's accounting of the child
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    t1 = time.monotonic()
    cpu1, busy1 = snapshot(), machine_busy()
    window = t1 - t0
    # Celery works through the queue the requests filled after they were answered: the tasks
    # still queued when wrk stops (a saturated node leaves the worker ~0.1 core) run after the
    # window. Its CPU from wrk's start until it is idle again, over every request of the run
    # (warm-up included), is what those requests cost it; the window alone undercounts the
    # runs that leave a backlog (the writes alone, as fast as answered) more than the mix.
    drained = drain(snapshot, "celery", queued)
    still_due: dict[str, float] = {}
    if task_counters:
        still_due = wait_for_countdown_tasks(
            lambda: celery_tasks(celery_log, log_from),
            lambda: counters_since(tasks_before, task_counters()),
            seconds=countdown_s + 3,
        )
        drained = drain(snapshot, "celery", queued)
    celery_run_s = cpu_used(start["celery"], drained["celery"])
    tasks = celery_tasks(celery_log, log_from)
    tasks_run = counters_since(tasks_before, task_counters()) if task_counters else {}
    summary_line = next(
        (x for x in (out_dir / "wrk.out").read_text().splitlines() if x.startswith("{")), None
    )
    if proc.returncode != 0 or summary_line is None:
        raise SystemExit(f"wrk failed ({proc.returncode}): see {out_dir / 'wrk.out'}")
    wrk_summary = json.loads(summary_line)
    endpoints: dict[str, dict] = {}
    answered = 0
    for path in sorted(out_dir.glob("thread.*.tsv")):
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            answered += 1
            ended = float(fields[2])
            if not t0 <= ended <= t1:
                continue
            e = endpoints.setdefault(
                fields[0],
                {"times_ms": [], "errors": 0, "status": {}, "queries": 0, "counted": 0,
                 "cache_hits": 0, "cache_misses": 0, "cpu_us": [], "sql_cpu_us": [],
                 "cached_cpu_us": [], "user_load_cpu_us": [], "error_samples": []},
            )  # fmt: skip
            status = int(fields[1])
            e["status"][str(status)] = e["status"].get(str(status), 0) + 1
            e["times_ms"].append(int(fields[3]) / 1000)
            if not 200 <= status < 300:
                e["errors"] += 1
                if len(e["error_samples"]) < 3:
                    e["error_samples"].append(f"{status} {fields[9] if len(fields) > 9 else ''}")
            if fields[4] != "-":
                e["counted"] += 1
                e["queries"] += int(fields[4])
                e["cache_hits"] += int(fields[5])
                e["cache_misses"] += int(fields[6])
                served = _served_by_readcache(fields[0], status, fields[4:7])
                if served is not None:
                    e["cache_hits" if served else "cache_misses"] += 1
            if fields[7] != "-":
                e["cpu_us"].append(int(fields[7]))
                # loaded the JWT user entry (X-Bench-User-Loads: its rate is per second, not
                # per request), else served from the caches alone, or not
                loaded = fields[8] not in ("-", "0")
                ran_sql = fields[4] != "-" and int(fields[4]) > 0
                bucket = "user_load" if loaded else "sql" if ran_sql else "cached"
                e[f"{bucket}_cpu_us"].append(int(fields[7]))
    transport = {k: wrk_summary[k] for k in ("connect", "read", "write", "timeout")}
    cpu_s = {k: cpu_used(cpu0[k], cpu1[k], tree=k not in loose) for k in cpu0}
    return {
        "endpoints": endpoints,
        "window_s": window,
        "warmup_s": warmup,
        "transport_errors": transport,
        "cpu_s": cpu_s,
        "whole_machine_s": busy1 - busy0,
        "wrk_cpu_s": usage.ru_utime + usage.ru_stime,
        "wrk_answered": answered,
        "celery_window_s": cpu_s["celery"],
        "celery_run_s": celery_run_s,
        "celery_tasks": tasks,
        "celery_tasks_run": tasks_run,
        "celery_tasks_still_due": still_due,
    }


# --- figures ----------------------------------------------------------------------------------


def _mean_ms(values_us: list[int]) -> float | None:
    return round(statistics.fmean(values_us) / 1000, 3) if values_us else None


def _share(part: list, whole: list) -> float | None:
    return round(len(part) / len(whole), 4) if whole else None


def summarise(run: dict) -> dict:
    """Per endpoint and overall: requests, errors, latencies, SQL, cache, app CPU, and the CPU
    each tier used per request of the window."""
    endpoints = {}
    all_times: list[float] = []
    totals = {"requests": 0, "errors": 0, "queries": 0, "counted": 0, "hits": 0, "misses": 0}
    cpu_us: list[int] = []
    for name, e in sorted(run["endpoints"].items()):
        times = e["times_ms"]
        all_times += times
        cpu_us += e["cpu_us"]
        looked_up = e["cache_hits"] + e["cache_misses"]
        endpoints[name] = {
            "requests": len(times),
            "errors": e["errors"],
            "status": e["status"],
            "p50_ms": percentile(times, 0.50),
            "p95_ms": percentile(times, 0.95),
            "p99_ms": percentile(times, 0.99),
            "mean_ms": round(statistics.fmean(times), 2),
            "queries_per_request": round(e["queries"] / e["counted"], 2) if e["counted"] else None,
            "cache_hit_rate": round(e["cache_hits"] / looked_up, 3) if looked_up else None,
            "app_cpu_ms": _mean_ms(e["cpu_us"]),
            # the cache state: the share of requests that loaded the JWT user entry, of those
            # that did not but ran SQL (not served from caches alone), and the app CPU of each
            # kind and of the others
            "user_load_share": _share(e["user_load_cpu_us"], e["cpu_us"]),
            "sql_share": _share(e["sql_cpu_us"], e["cpu_us"]),
            "app_cpu_ms_user_load": _mean_ms(e["user_load_cpu_us"]),
            "app_cpu_ms_sql": _mean_ms(e["sql_cpu_us"]),
            "app_cpu_ms_no_sql": _mean_ms(e["cached_cpu_us"]),
            **({"error_samples": e["error_samples"]} if e["error_samples"] else {}),
        }
        totals["requests"] += len(times)
        totals["errors"] += e["errors"]
        totals["queries"] += e["queries"]
        totals["counted"] += e["counted"]
        totals["hits"] += e["cache_hits"]
        totals["misses"] += e["cache_misses"]
    window = run["window_s"]
    looked_up = totals["hits"] + totals["misses"]
    transport = sum(run["transport_errors"].values())
    overall = {
        "requests": totals["requests"],
        "measured_seconds": round(window, 1),
        "requests_per_minute": round(totals["requests"] / window * 60) if window else 0,
        "errors": totals["errors"] + transport,
        "transport_errors": run["transport_errors"],
        "p50_ms": percentile(all_times, 0.50),
        "p95_ms": percentile(all_times, 0.95),
        "p99_ms": percentile(all_times, 0.99),
        "queries_per_request": round(totals["queries"] / totals["counted"], 2)
        if totals["counted"]
        else None,
        "cache_hit_rate": round(totals["hits"] / looked_up, 3) if looked_up else None,
        "app_cpu_ms": round(statistics.fmean(cpu_us) / 1000, 2) if cpu_us else None,
    }
    overall["meets_target"] = (
        overall["requests_per_minute"] >= TARGET["requests_per_minute"]
        and overall["p95_ms"] < TARGET["p95_ms"]
        and overall["errors"] == 0
    )
    # where the app's CPU goes: each endpoint's share of the mix's app CPU
    app_total = sum(e["app_cpu_ms"] * e["requests"] for e in endpoints.values() if e["app_cpu_ms"])
    for e in endpoints.values():
        e["share_of_app_cpu"] = (
            round(e["app_cpu_ms"] * e["requests"] / app_total, 3) if e["app_cpu_ms"] else None
        )
    served = max(totals["requests"], 1)
    cpu_ms = {k: round(v * 1000 / served, 3) for k, v in run["cpu_s"].items()}
    answered = max(run["wrk_answered"], 1)
    cpu_ms["celery"] = round(run["celery_run_s"] * 1000 / answered, 3)
    cpu_ms["celery_window_only"] = round(run["celery_window_s"] * 1000 / served, 3)
    cpu_ms["wrk"] = round(run["wrk_cpu_s"] * 1000 / max(run["wrk_answered"], 1), 3)
    # the worker's CPU: the tasks' own (the threads that ran them) and Celery's around them
    tasks_run = run.get("celery_tasks_run", {})
    task_cpu_s = sum(t["cpu_s"] for t in tasks_run.values())
    cpu_ms["celery_tasks"] = round(task_cpu_s * 1000 / answered, 3)
    cpu_ms["celery_overhead"] = round((run["celery_run_s"] - task_cpu_s) * 1000 / answered, 3)
    cores = {k: round(v / window, 2) for k, v in run["cpu_s"].items()}
    cores["wrk"] = round(run["wrk_cpu_s"] / (window + run["warmup_s"]), 2)
    cores["whole_machine"] = round(run["whole_machine_s"] / window, 2)
    return {
        "overall": overall,
        "endpoints": endpoints,
        "celery_tasks_per_request": {
            k: round(v / answered, 4) for k, v in sorted(run["celery_tasks"].items())
        },
        # tasks that ran (a countdown task received in one run may run in the next) and the
        # CPU ms of each one's own work
        "celery_tasks_run": {
            k: {
                "per_request": round(t["run"] / answered, 4),
                "cpu_ms_per_task": round(t["cpu_s"] * 1000 / t["run"], 3) if t["run"] else None,
            }
            for k, t in sorted(tasks_run.items())
        },  # fmt: skip
        # the raw counts the cost model pools over the runs alone
        "celery_counts": {
            "answered": answered,
            "worker_cpu_s": round(run["celery_run_s"], 4),
            "tasks_cpu_s": round(task_cpu_s, 4),
            "received": sum(run["celery_tasks"].values()),
            "run": {k: t["run"] for k, t in tasks_run.items()},
            "cpu_s": {k: round(t["cpu_s"], 4) for k, t in tasks_run.items()},
        },
        "celery_overhead_ms_per_task": round(
            (run["celery_run_s"] - task_cpu_s) * 1000 / sum(t["run"] for t in tasks_run.values()),
            3,
        )
        if tasks_run
        else None,
        "cpu_ms_per_request": cpu_ms,
        "cpu_seconds_per_second": cores,
    }


NODE_TIERS = ("web", "postgresql", "redis", "celery")


def error_pct(predicted: float, measured: float) -> float | None:
    return round((predicted - measured) / measured * 100, 1) if measured else None


def _adjusted(alone: dict, in_mix: dict) -> dict[str, float]:
    """One endpoint's CPU ms per request per tier, measured alone, carried over to the cache
    state of the mix: the app CPU of requests that loaded the JWT user entry, of those that ran
    SQL and of those served from caches, weighted by the mix's share of each (the user entry
    expires after AUTH_USER_CACHE_SECONDS: a run alone, at several times the mix's requests/s,
    loads it on a smaller share of its requests); PostgreSQL's in proportion to the SQL
    statements per request. The web server's own work outside the app (HTTP) stays as
    measured alone."""
    ms = dict(alone["cpu_ms_per_request"])
    sql_share, load_share = in_mix["sql_share"], in_mix.get("user_load_share") or 0.0
    with_sql, cached = alone["app_cpu_ms_sql"], alone["app_cpu_ms_no_sql"]
    loaded = alone.get("app_cpu_ms_user_load")
    if sql_share is not None and alone["app_cpu_ms"] is not None:
        with_sql = with_sql if with_sql is not None else cached
        cached = cached if cached is not None else with_sql
        if with_sql is None:  # every request alone loaded the user
            with_sql = cached = loaded
        loaded = loaded if loaded is not None else with_sql
        cached_share = max(1.0 - sql_share - load_share, 0.0)
        app = sql_share * with_sql + cached_share * cached + load_share * loaded
        ms["web"] += app - alone["app_cpu_ms"]
        ms["app"] = app
    queries_alone, queries_mix = alone["queries_per_request"], in_mix["queries_per_request"]
    if queries_alone and queries_mix is not None:
        ms["postgresql"] *= queries_mix / queries_alone
    return ms


def celery_by_task(
    mix: dict, solo: dict[str, dict], paced: dict[str, dict] | None = None
) -> dict | None:
    """Celery's CPU per request of the mix from what its tasks cost alone: each kind of task's
    own CPU per run (pooled over the runs alone in which it ran) times the runs of that kind per
    request, plus Celery's own CPU per task received (the worker's CPU beyond the tasks' own,
    pooled over the runs alone that received tasks) times the tasks received per request.

    The counts per request are the workload's and come from the mix, as its shares of requests
    and of requests that ran SQL do: how many tasks its writes leave depends on the per-person
    windows (the recommendations' 300-s debounce; goal progress's window before the eighth
    round) and on their state, which a run alone does not reproduce (alone, writes
    come several times faster per person; after the mix, every person's debounce is claimed
    already). The costs per task come from the runs alone only. The counts that the runs
    alone predict (share x tasks per request alone, by kind) are reported beside them. None
    when the worker's task counters were not read."""
    mix_counts = mix.get("celery_counts")
    if not mix_counts or not mix_counts["answered"]:
        return None
    run = {}  # kind: [runs, cpu_s] over the runs alone
    overhead_s = received = 0.0
    for alone in solo.values():
        counts = alone.get("celery_counts")
        if not counts:
            return None
        for kind, n in counts["run"].items():
            pooled = run.setdefault(kind, [0.0, 0.0])
            pooled[0] += n
            pooled[1] += counts["cpu_s"][kind]
        if counts["received"]:
            overhead_s += counts["worker_cpu_s"] - counts["tasks_cpu_s"]
            received += counts["received"]
    if not received:
        return None
    # a kind's CPU per run from the runs at the mix's pace when it ran there (a task costs more
    # between other work, as a request does: measured, goal progress 6.9 ms a run back to back
    # alone, 8.2-8.4 at the mix's pace and in the mix)
    at_pace: dict[str, list[float]] = {}
    for entry in (paced or {}).values():
        counts = entry.get("celery_counts") or {"run": {}}
        for kind, n in counts["run"].items():
            pooled = at_pace.setdefault(kind, [0.0, 0.0])
            pooled[0] += n
            pooled[1] += counts["cpu_s"][kind]
    run.update({kind: pooled for kind, pooled in at_pace.items() if pooled[0]})
    overhead_ms = overhead_s * 1000 / received
    answered = mix_counts["answered"]
    kinds = {}
    predicted = mix_counts["received"] / answered * overhead_ms
    for kind, n in sorted(mix_counts["run"].items()):
        ms = run[kind][1] * 1000 / run[kind][0] if run.get(kind, [0])[0] else None
        kinds[kind] = {
            "runs_per_request_in_mix": round(n / answered, 4),
            "cpu_ms_per_run_alone": round(ms, 3) if ms is not None else None,
            "cpu_ms_per_run_in_mix": round(mix_counts["cpu_s"][kind] * 1000 / n, 3) if n else None,
        }
        predicted += n / answered * (ms or 0.0)
    total = sum(e["requests"] for e in mix["endpoints"].values()) or 1
    from_alone: dict[str, float] = {}
    for name, e in mix["endpoints"].items():
        for kind, t in (solo[name].get("celery_tasks_per_request") or {}).items():
            from_alone[kind] = from_alone.get(kind, 0.0) + e["requests"] / total * t
    return {
        "predicted_ms_per_request": round(predicted, 3),
        "overhead_ms_per_task_received_alone": round(overhead_ms, 3),
        "overhead_ms_per_task_received_in_mix": round(
            (mix_counts["worker_cpu_s"] - mix_counts["tasks_cpu_s"])
            * 1000
            / max(mix_counts["received"], 1),
            3,
        ),
        "tasks_received_per_request_in_mix": round(mix_counts["received"] / answered, 4),
        "tasks_received_per_request_from_alone": {k: round(v, 4) for k, v in from_alone.items()},
        "tasks_received_per_request_in_mix_by_kind": mix.get("celery_tasks_per_request"),
        "tasks": kinds,
    }


APP_KEYS = ("app_cpu_ms", "app_cpu_ms_sql", "app_cpu_ms_no_sql", "app_cpu_ms_user_load")


def _adjusted_paced(alone: dict, paced: dict | None, in_mix: dict) -> dict[str, float]:
    """`_adjusted`, the app CPU from the run at the mix's pace when there is one (its own split
    by cache state, carried over to the mix's): the web server's CPU outside the app and the
    other tiers stay those of the run as fast as answered."""
    ms = _adjusted(alone, in_mix)
    if not paced or paced.get("app_cpu_ms") is None or "app" not in ms:
        return ms
    # a cache state the paced run did not meet (its few requests all served from the caches,
    # say) is priced as in the run as fast as answered
    app_costs = {k: paced[k] if paced.get(k) is not None else alone.get(k) for k in APP_KEYS}
    app = _adjusted({**alone, **app_costs}, in_mix).get("app")
    if app is not None:
        ms["web"] += app - ms["app"]
        ms["app"] = app
    return ms


def cost_model(
    mix: dict, solo: dict[str, dict], cores: int, paced: dict[str, dict] | None = None
) -> dict:
    """Each endpoint's CPU ms per request measured alone, weighted by its share of the mix run's
    requests: the mix's predicted CPU per request per tier and the requests/min the node's
    cores carry, against the mix run's measured figures. The inputs taken from the mix run are
    the workload's, not its costs: each endpoint's share of the requests and its cache state
    (the share of its requests that ran SQL, and SQL statements per request)."""
    total = sum(e["requests"] for e in mix["endpoints"].values()) or 1
    shares = {n: e["requests"] / total for n, e in mix["endpoints"].items()}
    paced = paced or {}
    adjusted = {n: _adjusted_paced(solo[n], paced.get(n), mix["endpoints"][n]) for n in shares}

    def weighted(costs: dict[str, dict], tier: str) -> float:
        return round(sum(shares[n] * costs[n].get(tier, 0.0) for n in shares), 3)

    naive = {n: solo[n]["cpu_ms_per_request"] for n in shares}
    predicted = {tier: weighted(adjusted, tier) for tier in NODE_TIERS}
    # Celery by its tasks (`celery_by_task`); per endpoint alone it was the worker's CPU per
    # request of each write run alone, which carries the runs alone's task counts
    celery = celery_by_task(mix, solo, paced)
    celery_per_endpoint = predicted["celery"]
    if celery is not None:
        predicted["celery"] = celery["predicted_ms_per_request"]
    measured = {tier: mix["cpu_ms_per_request"][tier] for tier in NODE_TIERS}
    node_predicted = sum(predicted.values())
    node_measured = sum(measured.values())
    node_naive = sum(weighted(naive, tier) for tier in NODE_TIERS)
    per_endpoint = {}
    for name in shares:
        alone, in_mix = solo[name], mix["endpoints"][name]
        app = adjusted[name].get("app")
        per_endpoint[name] = {
            "share": round(shares[name], 4),
            "requests_alone": alone["requests"],
            "cpu_ms_per_request_alone": alone["cpu_ms_per_request"],
            "celery_tasks_per_request_alone": alone.get("celery_tasks_per_request"),
            "cpu_ms_per_request_model": {k: round(v, 3) for k, v in adjusted[name].items()},
            "sql_share_alone": alone["sql_share"],
            "sql_share_in_mix": in_mix["sql_share"],
            "user_load_share_alone": alone.get("user_load_share"),
            "user_load_share_in_mix": in_mix.get("user_load_share"),
            "app_cpu_ms_alone": alone["app_cpu_ms"],
            "app_cpu_ms_model": round(app, 3) if app is not None else None,
            "app_cpu_ms_at_mix_pace": paced.get(name, {}).get("app_cpu_ms"),
            "app_cpu_ms_in_mix": in_mix["app_cpu_ms"],
            "app_cpu_error_pct": error_pct(app, in_mix["app_cpu_ms"])
            if app is not None and in_mix["app_cpu_ms"]
            else None,
        }
    app_predicted = weighted(adjusted, "app")
    app_measured = mix["overall"]["app_cpu_ms"] or 0
    rpm = {
        "predicted": round(60_000 * cores / node_predicted) if node_predicted else None,
        "load_test": round(60_000 * cores / node_measured) if node_measured else None,
    }
    errors = {
        **{tier: error_pct(predicted[tier], measured[tier]) for tier in NODE_TIERS},
        "node": error_pct(node_predicted, node_measured),
        "app": error_pct(app_predicted, app_measured),
        "capacity_rpm": error_pct(rpm["predicted"] or 0, rpm["load_test"] or 0),
        "node_without_cache_state": error_pct(node_naive, node_measured),
        "celery_per_endpoint_alone": error_pct(celery_per_endpoint, measured["celery"]),
    }
    return {
        "method": "each endpoint alone under the mix's load, carried over to the mix's cache "
        "state; predicted = sum of share x CPU ms per request; Celery: each kind of task's CPU "
        "alone x its runs per request in the mix, plus Celery's own CPU per task alone x the "
        "tasks received per request in the mix; capacity = 60,000 ms x cores / CPU ms per "
        "request of the node's tiers (web server + PostgreSQL + Redis + Celery)",
        "celery": celery,
        "celery_per_endpoint_alone_ms": celery_per_endpoint,
        "cores": cores,
        "predicted_cpu_ms_per_request": {**predicted, "node": round(node_predicted, 3)},
        "measured_cpu_ms_per_request": {**measured, "node": round(node_measured, 3)},
        "app_cpu_ms_per_request": {"predicted": app_predicted, "measured": app_measured},
        "capacity_requests_per_minute": rpm,
        "error_pct": errors,
        "tolerance_pct": MODEL_TOLERANCE_PCT,
        "within_tolerance": all(
            errors[k] is not None and abs(errors[k]) <= MODEL_TOLERANCE_PCT
            for k in ("web", "node", "capacity_rpm")
        ),
        "endpoints": per_endpoint,
    }


def print_report(result: dict) -> None:
    o = result["overall"]
    print(
        f"\nload: {o['requests']:,} requests in {o['measured_seconds']} s = "
        f"{o['requests_per_minute']:,}/min, errors {o['errors']}, p50 {o['p50_ms']} ms, "
        f"p95 {o['p95_ms']} ms, p99 {o['p99_ms']} ms, {o['queries_per_request']} queries/request, "
        f"cache hit rate {o['cache_hit_rate']}, app CPU {o['app_cpu_ms']} ms/request"
    )
    print(
        f"{'endpoint':<18}{'n':>7}{'err':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'q/req':>7}{'hit':>7}"
        f"{'app ms':>8}"
    )
    for name, e in result["endpoints"].items():
        hit = "" if e["cache_hit_rate"] is None else f"{e['cache_hit_rate']:.2f}"
        print(
            f"{name:<18}{e['requests']:>7}{e['errors']:>5}{e['p50_ms']:>8}{e['p95_ms']:>8}"
            f"{e['p99_ms']:>8}{e['queries_per_request'] or 0:>7}{hit:>7}{e['app_cpu_ms'] or 0:>8}"
        )
    cpu = result["cpu_seconds_per_second"]
    print("CPU cores used: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    print(
        "CPU ms per request: "
        + ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_request"].items())
    )
    ran = result.get("celery_tasks_run") or {}
    if ran:
        print(
            "Celery tasks run per request (CPU ms each): "
            + ", ".join(f"{k} {t['per_request']} ({t['cpu_ms_per_task']})" for k, t in ran.items())
            + f"; Celery's own CPU per task {result.get('celery_overhead_ms_per_task')} ms"
        )
    model = result.get("cost_model")
    if model:
        p, m = model["predicted_cpu_ms_per_request"], model["measured_cpu_ms_per_request"]
        print(f"\ncost model (each endpoint alone, {result['config']['model_seconds']} s each):")
        print(f"{'endpoint':<18}{'share':>7}{'web ms':>12}{'pg ms':>8}{'sql alone':>10}"
              f"{'sql mix':>8}{'user alone':>11}{'user mix':>9}{'app alone':>10}{'model':>8}"
              f"{'in mix':>8}{'err %':>7}")  # fmt: skip
        for name, e in model["endpoints"].items():
            c = e["cpu_ms_per_request_alone"]
            err = e["app_cpu_error_pct"]
            print(
                f"{name:<18}{e['share']:>7.3f}{c['web']:>12}{c['postgresql']:>8}"
                f"{e['sql_share_alone'] or 0:>10.2f}{e['sql_share_in_mix'] or 0:>8.2f}"
                f"{e['user_load_share_alone'] or 0:>11.2f}{e['user_load_share_in_mix'] or 0:>9.2f}"
                f"{e['app_cpu_ms_alone'] or 0:>10}{e['app_cpu_ms_model'] or 0:>8}"
                f"{e['app_cpu_ms_in_mix'] or 0:>8}{err if err is not None else '':>7}"
            )
        for tier in (*NODE_TIERS, "node"):
            print(
                f"  {tier:<11} predicted {p[tier]:>7} ms, measured {m[tier]:>7} ms, "
                f"error {model['error_pct'][tier]} %"
            )
        a = model["app_cpu_ms_per_request"]
        print(
            f"  app (in Django) predicted {a['predicted']} ms, measured {a['measured']} ms, error "
            f"{model['error_pct']['app']} %; the node without the cache state: error "
            f"{model['error_pct']['node_without_cache_state']} %"
        )
        rpm = model["capacity_requests_per_minute"]
        print(
            f"  capacity on {model['cores']} cores: predicted {rpm['predicted']:,}/min, "
            f"implied by the load test {rpm['load_test']:,}/min "
            f"(error {model['error_pct']['capacity_rpm']} %)"
        )
        if result["config"]["duration_s"] > 5:  # a smoke run's 1-s runs mean nothing
            verdict = "yes" if model["within_tolerance"] else "NO"
            tolerance = model["tolerance_pct"]
            print(f"  model within {tolerance} % (web, node, capacity): {verdict}")
    quiet, in_window = result["config"]["before_the_mix"], result["config"]["postgres_in_window"]
    if isinstance(quiet, dict):
        print(
            f"before the mix: VACUUM (ANALYZE) of {len(quiet['databases'])} databases, waited "
            f"{quiet['autovacuum_wait_s']} s for {quiet['autovacuum_workers_waited_for']} "
            f"autovacuum workers, CHECKPOINT {quiet['checkpoint_s']} s; then "
            f"{result['config']['warmup_s']} s of the mix unmeasured"
        )
    nightly = result["config"].get("recommendations_computed_before")
    if nightly is not None:
        print(f"before the mix: the nightly recommendations run computed {nightly} patients")
    print("PostgreSQL in the mix's window: " + ", ".join(f"{k} {v}" for k, v in in_window.items()))
    if result["config"]["duration_s"] > 5:  # a smoke run's figures mean nothing
        verdict = "met" if o["meets_target"] else "NOT met"
        print(f"target (>= 20,000/min, p95 < 50 ms, 0 errors): {verdict}")


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", default=PERF_DB)
    parser.add_argument(
        "--postgres",
        choices=["own", "env"],
        default=None,
        help="own: the bench's durable cluster (default); env: DATABASE_URL's server",
    )
    parser.add_argument(
        "--redis",
        choices=["own", "env"],
        default=None,
        help="own: a Redis server of the bench's own (default); env: REDIS_URL's server",
    )
    parser.add_argument(
        "--redis-db", type=int, default=PERF_REDIS_DB, help="with --redis env: flushed first"
    )
    parser.add_argument("--duration", type=int, default=60, help="seconds measured")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help=f"seconds of the mix before it is measured (default {MIX_WARMUP_S}; smoke 1)",
    )
    parser.add_argument("--rate", type=int, default=20000, help="requests/minute, 0 = max")
    parser.add_argument("--vus", type=int, default=60, help="connections (virtual users)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk's threads (at most --vus)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="the web server's loopback port (default: a free one); refused when taken",
    )
    parser.add_argument(
        "--worker-args", default=None, help='instead of the Dockerfile\'s: "--workers 4"'
    )
    parser.add_argument("--mix", default="design", choices=sorted(KINDS))
    parser.add_argument(
        "--model-seconds", type=float, default=6, help="cost model: seconds per endpoint alone"
    )
    parser.add_argument(
        "--at-mix-pace",
        type=lambda v: [x for x in v.split(",") if x],
        default=[],
        help="endpoints also run alone at their pace in the mix (comma-separated, or all): the "
        "cost model takes their app CPU and their tasks' CPU from those runs",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy flame graph of the server")
    parser.add_argument("--smoke", action="store_true", help="CI: tiny dataset, 5 s, 0 errors")
    parser.add_argument("--out", default=str(RESULTS / "load.json"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients, args.days, args.duration, args.rate, args.vus = 5, 14, 5, 3000, 5
        args.model_seconds = min(args.model_seconds, 1)
        args.database = f"{args.database}_smoke"
        args.postgres = args.postgres or "env"
        args.redis = args.redis or "env"
        if args.out == str(RESULTS / "load.json"):
            args.out = str(WORK / "smoke.json")
    args.postgres = args.postgres or "own"
    args.redis = args.redis or "own"
    args.port = claim_port(args.port)
    if args.warmup is None:
        args.warmup = 1 if args.smoke else MIX_WARMUP_S
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk (Debian's package)")

    WORK.mkdir(parents=True, exist_ok=True)
    pg = None
    if args.postgres == "own":
        from compare import Postgres  # the bench's durable cluster, shared with compare.py

        pg = Postgres()
        pg.start()
        os.environ["DATABASE_URL"] = pg.url("postgres")
    web = celery = redis_server = None
    logs = {}
    paced: dict[str, dict] = {}
    try:
        if args.redis == "own":
            redis_server, os.environ["REDIS_URL"] = start_redis()
        setup_django(args.database)
        import generate  # after Django is set up

        dataset = generate.ensure(patients=args.patients, days=args.days)
        users_file = WORK / "users.tsv"
        users = write_users(users_file)
        nightly = nightly_recommendations([u["id"] for u in users])
        paths = optional_paths()
        weights = mix_weights(KINDS[args.mix], paths)

        from django.conf import settings
        from django.db import connection

        db_name = settings.DATABASES["default"]["NAME"]
        env = server_env(os.environ["DATABASE_URL"], 0 if redis_server else args.redis_db)
        import redis

        redis.from_url(env["REDIS_URL"]).flushdb()  # our own db only: a cold cache
        prometheus = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        prometheus.mkdir(parents=True, exist_ok=True)
        logs = {n: open(WORK / f"{n}.log", "w") for n in ("web", "celery")}  # noqa: SIM115
        celery = subprocess.Popen(
            [BIN / "celery", "-A", "healthtrack", "worker", "-l", "info", "--concurrency", "1",
             "-Q", ",".join(QUEUES),
             "-n", f"bench-{args.port}@%h", "--without-gossip", "--without-mingle"],
            # unbuffered: its log lines (the tasks received, counted per run) are in the file
            # when the run is summed up, not in a pipe buffer
            cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=logs["celery"],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        command = dockerfile_command(args.port, args.worker_args)
        web = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=logs["web"], stderr=subprocess.STDOUT
        )
        wait_ready(f"http://127.0.0.1:{args.port}/ready", web)
        prewarm(args.port, users, rounds=2 if args.smoke else 8)

        def snapshot() -> dict[str, dict[int, float]]:
            return {
                "web": cpu_by_pid([web.pid]),
                "celery": cpu_by_pid([celery.pid]),
                # the bench's own cluster: all of it (backends, WAL writer, checkpointer);
                # a shared server: this database's live backends only
                "postgresql": cpu_by_pid([pg.postmaster_pid()])
                if pg is not None
                else cpu_by_pid(pids_matching("postgres: ", f" {db_name} ")),
                # a shared Redis server's CPU is everybody's: an upper bound
                "redis": cpu_by_pid([redis_server.pid])
                if redis_server
                else cpu_by_pid(pids_matching("redis-server")),
            }

        def profile(seconds: float) -> None:
            subprocess.Popen(
                [BIN / "py-spy", "record", "--pid", str(web.pid), "--subprocesses",
                 "--duration", str(max(int(seconds) - 2, 3)), "--rate", "100",
                 "--format", "speedscope", "-o", str(WORK / "profile.speedscope.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )  # fmt: skip

        common = {
            "paths": paths,
            "port": args.port,
            "rate_per_min": args.rate,
            "connections": args.vus,
            "threads": args.wrk_threads,
            "users_file": users_file,
            "snapshot": snapshot,
            "queued": broker_queued(env["REDIS_URL"]),
            "task_counters": lambda: celery_task_counters(prometheus),
            "countdown_s": 1.0,  # goal progress runs in the write's send (goals.receivers)
            "loose": frozenset() if pg is not None else frozenset({"postgresql"}),
        }
        # The steady state the model predicts for: PostgreSQL with nothing left over to do
        # (own cluster), then the mix's warm-up (`--warmup`) before its window.
        quiet = quiesce(pg.url("postgres")) if pg is not None else None

        def window_opens(seconds: float) -> None:
            with connection.cursor() as cursor:
                window["before"] = db_counters(cursor, db_name)
            window["pg_before"] = postgres_counters(os.environ["DATABASE_URL"])
            if args.profile:
                profile(seconds)

        window: dict = {}
        load_before = os.getloadavg()
        mix_run = run_wrk(
            "mix", weights, seconds=args.duration, warmup=args.warmup, during=window_opens,
            **common,
        )  # fmt: skip
        with connection.cursor() as cursor:
            after = db_counters(cursor, db_name)
        pg_after = postgres_counters(os.environ["DATABASE_URL"])
        before = window["before"]
        in_window = {k: pg_after[k] - window["pg_before"][k] for k in pg_after}
        load_after = os.getloadavg()
        solo = {}
        # Alone, each endpoint under the mix's condition: when the node could not keep the
        # mix's pace (saturated), as fast as it answers, else at the same pace. A request costs
        # more CPU on a saturated node (measured: 5-20 % for the cheap reads).
        served = sum(len(e["times_ms"]) for e in mix_run["endpoints"].values())
        saturated = bool(args.rate) and served / mix_run["window_s"] * 60 < 0.95 * args.rate
        alone_pace = {**common, "rate_per_min": 0 if saturated else args.rate}
        if args.model_seconds > 0:
            for name in weights:
                run = run_wrk(
                    f"alone-{name}",
                    {name: 1},
                    seconds=args.model_seconds,
                    warmup=ALONE_WARMUP_S,
                    **alone_pace,
                )
                solo[name] = summarise(run)
                e = solo[name]["endpoints"].get(name)
                if e is None:
                    raise SystemExit(f"cost model: no {name} request answered alone")
                solo[name] = {
                    **e,
                    "cpu_ms_per_request": solo[name]["cpu_ms_per_request"],
                    "celery_tasks_per_request": solo[name]["celery_tasks_per_request"],
                    "celery_tasks_run": solo[name]["celery_tasks_run"],
                    "celery_overhead_ms_per_task": solo[name]["celery_overhead_ms_per_task"],
                    "celery_counts": solo[name]["celery_counts"],
                    "errors": solo[name]["overall"]["errors"],
                }
        # The same endpoints alone at the pace they had in the mix (their requests/min in its
        # window): measured, an uncached read costs ~50 % more app CPU at that pace than run
        # back to back as fast as answered, as much as in the mix (each worker runs other code
        # between two requests: the CPU caches are cold for it); the model takes their app CPU
        # and their tasks' CPU from these runs (`cost_model`).
        names = list(weights) if args.at_mix_pace == ["all"] else args.at_mix_pace
        for name in names:
            e = mix_run["endpoints"].get(name)
            if e is None or name not in weights:
                continue
            rate = round(len(e["times_ms"]) / mix_run["window_s"] * 60)
            run = summarise(
                run_wrk(
                    f"paced-{name}",
                    {name: 1},
                    seconds=args.model_seconds or 6,
                    warmup=ALONE_WARMUP_S,
                    # each connection at least a request a second: a slower one may send
                    # nothing in a few seconds' window
                    **{
                        **common,
                        "rate_per_min": rate,
                        "connections": max(1, min(args.vus, 10, rate // 60)),
                    },
                )
            )
            paced[name] = {
                **run["endpoints"].get(name, {}),
                "rate_per_min": rate,
                "requests": run["overall"]["requests"],
                "cpu_ms_per_request": run["cpu_ms_per_request"],
                "celery_counts": run["celery_counts"],
                "celery_tasks_per_request": run["celery_tasks_per_request"],
                "celery_tasks_run": run["celery_tasks_run"],
                "cpu_seconds_per_second": run["cpu_seconds_per_second"],
            }
            print(
                f"{name} alone at the mix's pace ({rate}/min): app CPU "
                f"{paced[name].get('app_cpu_ms')} ms ({paced[name]['requests']} requests)",
                flush=True,
            )
    finally:
        stop(web, timeout=20)
        stop(celery, timeout=20)
        for fh in logs.values():
            fh.close()
        stop(redis_server, timeout=10)
        if pg is not None:
            pg.stop()
    result = summarise(mix_run)
    db = {k: after[k] - before[k] for k in before}
    node_ms = sum(result["cpu_ms_per_request"][k] for k in NODE_TIERS)
    result = {
        "overall": result["overall"],
        "target": TARGET,
        "endpoints": result["endpoints"],
        "machine": {**machine(), "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "config": {
            "patients": args.patients, "days": args.days, "database": args.database,
            "postgres": "own durable cluster (fsync, full_page_writes, synchronous_commit on)"
            if pg is not None else "DATABASE_URL's server",
            "redis": "own server (no persistence)" if redis_server else "REDIS_URL's server",
            "dataset_measurements": dataset["measurements"], "token_users": len(users),
            "duration_s": args.duration, "warmup_s": args.warmup,
            "warmup_s_alone": ALONE_WARMUP_S,
            "before_the_mix": quiet or "DATABASE_URL's server: left as it is",
            # the nightly run production does before the day's traffic
            "recommendations_computed_before": nightly,
            # PostgreSQL's own work in the mix's window (checkpoints: the cluster's; autovacuum
            # and autoanalyze runs: this database's)
            "postgres_in_window": in_window,
            "target_rate_per_min": args.rate, "vus": args.vus,
            "generator": f"wrk -t{min(args.wrk_threads, args.vus)} -c{args.vus} -s bench/load.lua",
            "web": shlex.join(command[1:]).replace(f"127.0.0.1:{args.port}", "127.0.0.1:PORT"),
            "celery_concurrency": 1, "optional_endpoints": paths, "mix": args.mix,
            "weights_percent": {k: round(v, 2) for k, v in weights.items()},
            "model_seconds": args.model_seconds,
            "model_alone_pace": "as fast as answered (the mix saturated the node)"
            if saturated else "the mix's",
        },
        "cpu_seconds_per_second": result["cpu_seconds_per_second"],
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "celery_tasks_per_request": result["celery_tasks_per_request"],
        "celery_tasks_run": result["celery_tasks_run"],
        "celery_overhead_ms_per_task": result["celery_overhead_ms_per_task"],
        "celery_counts": result["celery_counts"],
        # what the node's cores would serve doing nothing else (the load generator excluded)
        "capacity_estimate_per_min_on_all_cores": round(60_000 * cores / max(node_ms, 0.01)),
        "database_per_second": {k: round(v / mix_run["window_s"], 1) for k, v in db.items()},
    }  # fmt: skip
    if solo:
        result["cost_model"] = cost_model(result, solo, cores, paced)
        if paced:  # the same model from the runs as fast as answered only, for comparison
            plain = cost_model(result, solo, cores)
            result["cost_model"]["without_the_runs_at_the_mix_pace"] = {
                "predicted_cpu_ms_per_request": plain["predicted_cpu_ms_per_request"],
                "error_pct": plain["error_pct"],
                "app_cpu_error_pct": {
                    n: e["app_cpu_error_pct"] for n, e in plain["endpoints"].items()
                },
            }
    if paced:
        for name, e in paced.items():
            in_mix, alone = result["endpoints"][name]["app_cpu_ms"], solo.get(name, {})
            e["app_cpu_ms_in_mix"] = in_mix
            e["app_cpu_ms_alone_as_fast_as_answered"] = alone.get("app_cpu_ms")
            e["app_cpu_error_pct_vs_mix"] = (
                error_pct(e["app_cpu_ms"], in_mix) if e.get("app_cpu_ms") and in_mix else None
            )
        result["alone_at_the_mix_pace"] = paced
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(result)
    print(f"written to {out}")
    if args.smoke:
        o = result["overall"]
        assert o["requests"] > 0, "smoke: no request was made"
        assert o["errors"] == 0, f"smoke: {o['errors']} errors: {result['endpoints']}"
        assert all(s["errors"] == 0 for s in solo.values()), f"smoke: errors alone: {solo}"
        print(f"bench smoke: {o['requests']} requests, 0 errors")
    return result


if __name__ == "__main__":
    main()
