"""Load test of one node: the production server under locust, results in bench/results/load.json.

    python bench/load.py [--patients 1000] [--duration 60] [--rate 20000] [--vus 60]
                         [--worker-class gthread] [--workers N] [--threads N] [--profile]
    python bench/load.py --smoke      # CI: 5 patients, 5 s, asserts zero errors

1. The dataset (bench/generate.py) in database `ht_perf` (`--database`), made when missing.
2. JWTs for every patient (AccessToken.for_user, 2 h) into var/bench/users.json.
3. A Celery worker (all queues) and gunicorn on 127.0.0.1:`--port`, started as production runs
   them (`DJANGO_ENV=production`, PostgreSQL, Redis db 13, keys from var/dev-keys.json),
   with `BENCH_STATS=true` (per-request query/cache counters in headers), as behind a load
   balancer (`TRUSTED_PROXY_COUNT=1`, locust sends each patient's own X-Forwarded-For) and
   the per-IP API rate limits raised through `API_RATE_PER_IP` / `API_BURST_PER_IP`; the
   defaults in settings are untouched. Redis db 13 is flushed first (a cold cache).
4. locust headless for `--duration` seconds, `--vus` virtual users paced to `--rate` requests
   per minute in total (`--rate 0`: as fast as they can, closed loop).
5. Figures: requests/minute, p50/p95/p99 per endpoint and overall, errors, cache hit rate,
   queries per request, PostgreSQL transactions and rows written per second, CPU seconds used
   by gunicorn / PostgreSQL / Redis / locust, the load average; written to load.json (or
   `--out`). `--profile` also records a py-spy flame graph of the gunicorn workers.
"""

from __future__ import annotations

import argparse
import json
import os
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
    machine,
    redis_url,
    setup_django,
    stop,
)

BIN = Path(sys.executable).parent
OPTIONAL_PATHS = {
    # name: candidate paths ({id}: the patient's id), first that resolves wins
    "recommendations": ["/api/v1/recommendations/{id}", "/api/v1/recommendations"],
    "goals": ["/api/v1/health-goals", "/api/v1/goals"],
}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 2)


def write_users(path: Path) -> int:
    users = bench_patients()
    path.write_text(json.dumps(users))
    return len(users)


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


def server_env(database_url: str, port: int) -> dict[str, str]:
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
        REDIS_URL=redis_url(PERF_REDIS_DB),
        # As behind a load balancer: one trusted proxy, whose X-Forwarded-For names the client
        # (locust gives every patient an address of their own).
        TRUSTED_PROXY_COUNT="1",
        # A virtual user may pick the same patient several times in a second: the per-IP
        # limits are raised for the bench server only (settings' defaults: 600/min, 10/s).
        API_RATE_PER_IP="100000/min",
        API_BURST_PER_IP="10000/s",
        API_RATE_PER_USER="100000/min",
        API_RATE_SYNC_PER_USER="100000/min",
        API_RATE_IMPORTS_PER_USER="100000/min",
        API_RATE_EXPORTS_PER_USER="100000/min",
        API_RATE_FRESH_RECOMMENDATIONS_PER_USER="100000/min",
        BENCH_STATS="true",
        # As production: JSON logs with one access line per request (into var/bench/gunicorn.log),
        # Prometheus metrics shared by the workers.
        PROMETHEUS_MULTIPROC_DIR=str(WORK / "prometheus"),
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


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"server not ready at {url} after {timeout:.0f} s (see var/bench/)")
        time.sleep(0.3)


def _proc_cpu(pid: int) -> tuple[float, list[int]]:
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0, []
    return (int(fields[11]) + int(fields[12])) / tick, [int(c) for c in children]


def cpu_by_pid(roots: list[int]) -> dict[int, float]:
    """User+system CPU seconds of these processes and all their descendants, per pid."""
    out: dict[int, float] = {}
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out[pid], children = _proc_cpu(pid)
        stack.extend(children)
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots by the processes alive at the second one."""
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


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / tick, sum(values) / tick


def db_counters(cursor, name: str) -> dict[str, int]:
    cursor.execute(
        "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_read, blks_hit "
        "FROM pg_stat_database WHERE datname = %s",
        [name],
    )
    keys = ["commits", "inserted", "updated", "deleted", "blks_read", "blks_hit"]
    return dict(zip(keys, cursor.fetchone(), strict=True))


def summarise(raw: dict, duration: float, extra: dict) -> dict:
    endpoints = {}
    all_times: list[float] = []
    totals = {"requests": 0, "errors": 0, "queries": 0, "counted": 0, "hits": 0, "misses": 0}
    first_end, last_end = None, None
    for name, e in sorted(raw["endpoints"].items()):
        times = e["times_ms"]
        if not times:
            continue
        all_times += times
        ends = e.get("ends", [])
        if ends:
            first_end = min(first_end or ends[0], min(ends))
            last_end = max(last_end or ends[-1], max(ends))
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
            **({"error_samples": e["error_samples"]} if e["error_samples"] else {}),
        }
        totals["requests"] += len(times)
        totals["errors"] += e["errors"]
        totals["queries"] += e["queries"]
        totals["counted"] += e["counted"]
        totals["hits"] += e["cache_hits"]
        totals["misses"] += e["cache_misses"]
    window = (last_end - first_end) if first_end is not None and last_end > first_end else duration
    looked_up = totals["hits"] + totals["misses"]
    overall = {
        "requests": totals["requests"],
        "measured_seconds": round(window, 1),
        "requests_per_minute": round(totals["requests"] / window * 60) if window else 0,
        "errors": totals["errors"],
        "p50_ms": percentile(all_times, 0.50),
        "p95_ms": percentile(all_times, 0.95),
        "p99_ms": percentile(all_times, 0.99),
        "queries_per_request": round(totals["queries"] / totals["counted"], 2)
        if totals["counted"]
        else None,
        "cache_hit_rate": round(totals["hits"] / looked_up, 3) if looked_up else None,
    }
    target = {"requests_per_minute": 20000, "p95_ms": 50, "errors": 0}
    overall["meets_target"] = (
        overall["requests_per_minute"] >= target["requests_per_minute"]
        and overall["p95_ms"] < target["p95_ms"]
        and overall["errors"] == 0
    )
    return {"overall": overall, "target": target, "endpoints": endpoints, **extra}


def print_report(result: dict) -> None:
    o = result["overall"]
    print(
        f"\nload: {o['requests']:,} requests in {o['measured_seconds']} s = "
        f"{o['requests_per_minute']:,}/min, errors {o['errors']}, p50 {o['p50_ms']} ms, "
        f"p95 {o['p95_ms']} ms, p99 {o['p99_ms']} ms, {o['queries_per_request']} queries/request, "
        f"cache hit rate {o['cache_hit_rate']}"
    )
    print(f"{'endpoint':<18}{'n':>7}{'err':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'q/req':>7}{'hit':>7}")
    for name, e in result["endpoints"].items():
        hit = "" if e["cache_hit_rate"] is None else f"{e['cache_hit_rate']:.2f}"
        print(
            f"{name:<18}{e['requests']:>7}{e['errors']:>5}{e['p50_ms']:>8}{e['p95_ms']:>8}"
            f"{e['p99_ms']:>8}{e['queries_per_request'] or 0:>7}{hit:>7}"
        )
    cpu = result.get("cpu_seconds_per_second")
    if cpu:
        print("CPU cores used: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
        per = result["cpu_ms_per_request"]
        print(
            "CPU ms per request: "
            + ", ".join(f"{k} {v}" for k, v in per.items())
            + f"; on {os.cpu_count()} cores alone that is "
            f"~{result['capacity_estimate_per_min_on_all_cores']:,} requests/min"
        )
    verdict = "met" if o["meets_target"] else "NOT met"
    if result["config"]["duration_s"] > 5:  # a smoke run's figures mean nothing
        print(f"target (>= 20,000/min, p95 < 50 ms, 0 errors): {verdict}")


def main(argv: list[str] | None = None) -> dict:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", default=PERF_DB)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--rate", type=int, default=20000, help="requests/minute, 0 = max")
    parser.add_argument("--vus", type=int, default=60, help="virtual users")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=0, help="default: from the core count")
    parser.add_argument("--threads", type=int, default=16, help="gthread threads per worker")
    parser.add_argument("--mix", default="design", choices=["design", "writes"])
    parser.add_argument("--profile", action="store_true", help="py-spy flame graph of gunicorn")
    parser.add_argument("--smoke", action="store_true", help="CI: tiny dataset, 5 s, 0 errors")
    parser.add_argument("--out", default=str(RESULTS / "load.json"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.patients, args.days, args.duration, args.rate, args.vus = 5, 14, 5, 3000, 5
        args.database = f"{args.database}_smoke"
        if args.out == str(RESULTS / "load.json"):
            args.out = str(WORK / "smoke.json")
    workers = args.workers or (2 * cores + 1 if args.worker_class == "sync" else cores)

    WORK.mkdir(parents=True, exist_ok=True)
    setup_django(args.database)
    import generate  # after Django is set up

    dataset = generate.ensure(patients=args.patients, days=args.days)
    users_file = WORK / "users.json"
    n_users = write_users(users_file)
    paths = optional_paths()

    from django.conf import settings
    from django.db import connection

    db_url = os.environ["DATABASE_URL"]
    env = server_env(db_url, args.port)
    import redis

    redis.from_url(env["REDIS_URL"]).flushdb()  # our own db only: a cold cache
    prometheus = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    prometheus.mkdir(parents=True, exist_ok=True)
    for stale in prometheus.glob("*.db"):
        stale.unlink()
    logs = {n: open(WORK / f"{n}.log", "w") for n in ("gunicorn", "celery", "locust")}  # noqa: SIM115
    gunicorn = celery = None
    raw_path = WORK / "locust-raw.json"
    raw_path.unlink(missing_ok=True)
    try:
        celery = subprocess.Popen(
            [BIN / "celery", "-A", "healthtrack", "worker", "-l", "warning", "--concurrency", "1",
             "-Q", "default,ingest,recommendations,imports,maintenance",
             "-n", f"bench-{args.port}@%h", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=logs["celery"], stderr=subprocess.STDOUT,
        )  # fmt: skip
        command = [
            BIN / "gunicorn", "-c", "python:healthtrack.gunicorn_conf", "healthtrack.wsgi",
            "-b", f"127.0.0.1:{args.port}",
            "--workers", str(workers), "--worker-class", args.worker_class,
            "--max-requests", "20000", "--max-requests-jitter", "2000",
            "--log-level", "warning", "--backlog", "2048", "--preload",
        ]  # fmt: skip
        if args.worker_class == "gthread":
            command += ["--threads", str(args.threads)]
        gunicorn = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=logs["gunicorn"], stderr=subprocess.STDOUT
        )
        wait_ready(f"http://127.0.0.1:{args.port}/ready")
        prewarm(args.port, json.loads(users_file.read_text()), rounds=2 if args.smoke else 8)

        locust_env = {
            **env,
            "BENCH_USERS_FILE": str(users_file),
            "BENCH_ENABLED": ",".join(paths),
            "BENCH_PATHS": json.dumps(paths),
            "BENCH_RATE_PER_USER": str(args.rate / 60 / args.vus if args.rate else 0),
            "BENCH_RAW_OUT": str(raw_path),
            "BENCH_MIX": args.mix,
            "BENCH_WARMUP": "1" if args.smoke else "3",
        }
        locust_cmd = [
            BIN / "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
            "-u", str(args.vus), "-r", str(max(args.vus, 1)), "-t", f"{args.duration}s",
            "--host", f"http://127.0.0.1:{args.port}", "--only-summary", "--stop-timeout", "5",
            "--loglevel", "WARNING",
        ]  # fmt: skip
        with connection.cursor() as cursor:
            before = db_counters(cursor, settings.DATABASES["default"]["NAME"])
        load_before = os.getloadavg()
        db_name = settings.DATABASES["default"]["NAME"]

        def snapshot() -> dict[str, dict[int, float]]:
            return {
                "gunicorn": cpu_by_pid([gunicorn.pid]),
                "celery": cpu_by_pid([celery.pid]),
                # this database's backends only (other clients share the server)
                "postgresql": cpu_by_pid(pids_matching("postgres: ", f" {db_name} ")),
                "redis": cpu_by_pid(pids_matching("redis-server")),
            }

        cpu0, busy0 = snapshot(), machine_busy()
        started = time.monotonic()
        locust = subprocess.Popen(
            locust_cmd, cwd=ROOT, env=locust_env, stdout=logs["locust"], stderr=subprocess.STDOUT
        )
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [BIN / "py-spy", "record", "--pid", str(gunicorn.pid), "--subprocesses",
                 "--duration", str(max(args.duration - 5, 3)), "--rate", "200",
                 "--format", "speedscope", "-o", str(WORK / "profile.speedscope.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )  # fmt: skip
        locust_cpu = 0.0
        while locust.poll() is None:
            locust_cpu = max(locust_cpu, sum(cpu_by_pid([locust.pid]).values()))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        cpu1, busy1 = snapshot(), machine_busy()
        if spy is not None:
            spy.wait(timeout=60)
        with connection.cursor() as cursor:
            after = db_counters(cursor, settings.DATABASES["default"]["NAME"])
        load_after = os.getloadavg()
    finally:
        stop(gunicorn, timeout=20)
        stop(celery, timeout=20)
        for fh in logs.values():
            fh.close()
    if not raw_path.exists():
        raise SystemExit(f"locust wrote no results; see {WORK / 'locust.log'}")
    raw = json.loads(raw_path.read_text())
    cpu = {k: round(cpu_used(cpu0[k], cpu1[k]) / elapsed, 2) for k in cpu0}
    cpu["locust"] = round(locust_cpu / elapsed, 2)
    cpu["whole_machine"] = round((busy1[0] - busy0[0]) / elapsed, 2)
    db = {k: after[k] - before[k] for k in before}
    extra = {
        "machine": {**machine(), "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "config": {
            "patients": args.patients, "days": args.days, "database": args.database,
            "dataset_measurements": dataset["measurements"], "token_users": n_users,
            "duration_s": args.duration, "target_rate_per_min": args.rate, "vus": args.vus,
            "gunicorn": {"worker_class": args.worker_class, "workers": workers,
                         "threads": args.threads if args.worker_class == "gthread" else 1},
            "celery_concurrency": 1, "optional_endpoints": paths, "mix": args.mix,
            "weights_percent": {k: round(v, 2) for k, v in raw["weights"].items()},
        },
        "cpu_seconds_per_second": cpu,
        "database_per_second": {k: round(v / elapsed, 1) for k, v in db.items()},
    }  # fmt: skip
    result = summarise(raw, args.duration, extra)
    # CPU cost per request of each part (over every request locust made, warm-up included, as
    # the CPU is counted over the whole run), and what the cores would serve doing nothing
    # else: less sensitive to other load on the machine than the latencies are.
    served = raw.get("total_requests") or result["overall"]["requests"] or 1
    per_request = {
        k: round(v * elapsed / served * 1000, 2) for k, v in cpu.items() if k != "whole_machine"
    }
    result["cpu_ms_per_request"] = per_request
    result["capacity_estimate_per_min_on_all_cores"] = round(
        60_000 * cores / max(sum(per_request.values()), 0.01)
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(result)
    print(f"written to {out}")
    if args.smoke:
        o = result["overall"]
        assert o["requests"] > 0, "smoke: no request was made"
        assert o["errors"] == 0, f"smoke: {o['errors']} errors: {result['endpoints']}"
        print(f"bench smoke: {o['requests']} requests, 0 errors")
    return result


if __name__ == "__main__":
    main()
