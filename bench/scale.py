"""Latency at 10 million rows against 100 thousand, and the monthly-partitioning prototype.

    python bench/scale.py [--patients 1000] [--small 10] [--runs 25] [--no-partition]

Two datasets from bench/generate.py: `ht_perf` (`--patients`, ~15 M measurements at 1,000)
and `ht_perf_small` (`--small` patients, ~150 k). In each, for the first patient (one with
minute-level heart rate), through the whole Django/DRF stack in-process with a JWT and Redis
(db 14) as the cache, median of `--runs`: the list endpoint (default page, one type), the
summary (uncached and cached), hourly aggregates. The SQL those requests run is captured
and EXPLAIN (ANALYZE, BUFFERS) of each hot query written to bench/results/explain-<db>.txt.

Partitioning prototype (big dataset): `bench_metric_part`, a copy of the measurement table
range-partitioned by month on `recorded_at` (native partitioning, the indexes of the real
table on every partition), and the same hot queries timed against both tables.
Results: bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from common import PERF_DB, RESULTS, ROOT, machine, setup_django

SMALL_DB = f"{PERF_DB}_small"
CACHE_DB = 14


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def measure(database: str, patients: int, runs: int) -> dict:
    """In a process of its own (one Django set-up per database)."""
    os.environ["RATELIMIT_ENABLE"] = "false"  # one client, hundreds of requests in a second
    setup_django(database, redis_db=CACHE_DB)
    import generate

    marker = generate.ensure(patients=patients, days=90)
    from django.core.cache import cache
    from django.db import connection
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from metrics import services

    user = User.objects.filter(username="bench-p00001").get()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    cache.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metrics_healthmetric")
        rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM metrics_healthmetric WHERE user_id = %s", [user.pk])
        user_rows = cursor.fetchone()[0]

    urls = {
        "list_default_page": "/api/v1/health-metrics",
        "list_heart_rate_100": "/api/v1/health-metrics?metric_type=heart_rate&limit=100",
        "list_weight_50": "/api/v1/health-metrics?metric_type=weight&limit=50",
        "aggregates_hour_48h": "/api/v1/health-metrics/aggregates?metric_type=heart_rate"
        "&period=hour",
        "aggregates_day_30d": "/api/v1/health-metrics/aggregates?metric_type=steps&period=day",
        "summary_uncached": "/api/v1/health-metrics/summary",
        "summary_cached": "/api/v1/health-metrics/summary",
    }
    figures, captured = {}, {}
    for name, url in urls.items():
        samples = []
        for i in range(runs + 2):
            if name == "summary_uncached":
                services.invalidate_summary_cache(user.pk)  # as a write of every type does
            statements: list[tuple[str, tuple]] = []

            def capture(execute, sql, params, many, context, statements=statements):
                statements.append((sql, params))
                return execute(sql, params, many, context)

            with connection.execute_wrapper(capture):
                start = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - start
            assert response.status_code == 200, (url, response.status_code)
            if i >= 2:  # two warm-up calls
                samples.append(elapsed)
            captured[name] = statements
        figures[name] = _median_ms(samples)

    explain = []
    with connection.cursor() as cursor:
        for name in ("list_default_page", "list_heart_rate_100", "summary_uncached"):
            for sql, params in captured[name]:
                if not sql.lstrip().upper().startswith("SELECT") or "metrics_" not in sql:
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(r[0] for r in cursor.fetchall())
                explain.append(f"-- {name}\n{cursor.mogrify(sql, params)}\n{plan}\n")
    (RESULTS / f"explain-{database}.txt").write_text("\n".join(explain))
    return {
        "database": database,
        "measurements": rows,
        "patient_measurements": user_rows,
        "dataset": {k: str(v) for k, v in marker.items()},
        "median_ms": figures,
        "runs": runs,
    }


# --- partitioning prototype -------------------------------------------------------------------

PARTITION_INDEXES = [
    "CREATE INDEX ON bench_metric_part (user_id, metric_type, recorded_at DESC)",
    "CREATE INDEX ON bench_metric_part (user_id, recorded_at DESC)",
]


def _months(first: date, last: date):
    month = first.replace(day=1)
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        yield month, following
        month = following


def build_partitioned(cursor) -> dict:
    """bench_metric_part: the generated measurements (ids 1..N of bench/generate.py; rows the
    load test added later are left out, so the copy stays valid between runs),
    range-partitioned by month. Kept while its row count matches the dataset's."""
    cursor.execute("SELECT measurements FROM bench_dataset WHERE id = 1")
    rows = cursor.fetchone()[0]
    cursor.execute(
        "SELECT min(recorded_at), max(recorded_at) FROM metrics_healthmetric WHERE id <= %s",
        [rows],
    )
    lo, hi = cursor.fetchone()
    cursor.execute("SELECT to_regclass('bench_metric_part') IS NOT NULL")
    if cursor.fetchone()[0]:
        cursor.execute("SELECT count(*) FROM bench_metric_part")
        if cursor.fetchone()[0] == rows:
            return {"rows": rows, "built_seconds": None}
        cursor.execute("DROP TABLE bench_metric_part")
    started = time.perf_counter()
    cursor.execute(
        "CREATE TABLE bench_metric_part (LIKE metrics_healthmetric INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS, PRIMARY KEY (id, recorded_at)) PARTITION BY RANGE (recorded_at)"
    )
    # Months of the data and two ahead (where today's writes land), plus a default partition.
    for start, end in _months(lo.date(), (hi + timedelta(days=62)).date()):
        cursor.execute(
            f"CREATE TABLE bench_metric_part_{start:%Y_%m} PARTITION OF bench_metric_part "
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )
    cursor.execute("CREATE TABLE bench_metric_part_default PARTITION OF bench_metric_part DEFAULT")
    cursor.execute("SET maintenance_work_mem = '512MB'")
    cursor.execute(
        "INSERT INTO bench_metric_part SELECT * FROM metrics_healthmetric WHERE id <= %s", [rows]
    )
    for statement in PARTITION_INDEXES:
        cursor.execute(statement)
    cursor.execute("VACUUM ANALYZE bench_metric_part")
    return {"rows": rows, "built_seconds": round(time.perf_counter() - started, 1)}


HOT_QUERIES = {
    # The list endpoint's first page (newest first, cursor pagination).
    "list_newest_100": "SELECT id, metric_type, value, recorded_at FROM {t} WHERE user_id = %(u)s "
    "ORDER BY recorded_at DESC, id DESC LIMIT 101",
    "list_type_newest_100": "SELECT id, value, recorded_at FROM {t} WHERE user_id = %(u)s AND "
    "metric_type = 'heart_rate' ORDER BY recorded_at DESC, id DESC LIMIT 101",
    # The summary's latest value per type.
    "latest_weight": "SELECT recorded_at, value FROM {t} WHERE user_id = %(u)s AND "
    "metric_type = 'weight' AND recorded_at < %(end)s ORDER BY recorded_at DESC, id DESC LIMIT 1",
    # A rollup recompute's read (one day of heart rate).
    "one_day_heart_rate": "SELECT date_trunc('hour', recorded_at), avg(value), count(*) FROM {t} "
    "WHERE user_id = %(u)s AND metric_type = 'heart_rate' AND recorded_at >= %(day)s AND "
    "recorded_at < %(day)s + interval '1 day' GROUP BY 1",
    # A month of one patient's rows (an export or a backfill).
    "one_month_count": "SELECT count(*) FROM {t} WHERE user_id = %(u)s AND recorded_at >= "
    "%(month)s AND recorded_at < %(month)s + interval '1 month'",
}


def partition_compare(runs: int) -> dict:
    setup_django(PERF_DB, migrate=False)
    from django.db import connection

    from accounts.models import User

    user = User.objects.get(username="bench-p00001")
    with connection.cursor() as cursor:
        built = build_partitioned(cursor)
        cursor.execute(
            "SELECT max(recorded_at) FROM metrics_healthmetric WHERE user_id = %s", [user.pk]
        )
        newest = cursor.fetchone()[0]
        day = datetime.combine(newest.date() - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
        params = {
            "u": user.pk,
            "end": newest + timedelta(days=1),
            "day": day,
            "month": day.replace(day=1) - timedelta(days=1),
        }
        params["month"] = params["month"].replace(day=1)
        out: dict[str, dict] = {}
        plans = []
        for name, sql in HOT_QUERIES.items():
            out[name] = {}
            for table in ("metrics_healthmetric", "bench_metric_part"):
                query = sql.format(t=table)
                samples = []
                for i in range(runs + 2):
                    start = time.perf_counter()
                    cursor.execute(query, params)
                    cursor.fetchall()
                    if i >= 2:
                        samples.append(time.perf_counter() - start)
                out[name][table] = _median_ms(samples)
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params)
                plan = "\n".join(r[0] for r in cursor.fetchall())
                plans.append(f"-- {name} on {table}\n{plan}\n")
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'bench_metric_part'::regclass"
        )
        partitions = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_total_relation_size('metrics_healthmetric'), "
            "(SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
            "WHERE inhparent = 'bench_metric_part'::regclass)"
        )
        size_plain, size_part = cursor.fetchone()
    (RESULTS / "explain-partitioned.txt").write_text("\n".join(plans))
    return {
        **built,
        "partitions": partitions,
        "size_mb": {"plain": size_plain // 2**20, "partitioned": int(size_part) // 2**20},
        "median_ms": out,
        "runs": runs,
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"no result from {args}: {out.stdout[-2000:]} {out.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--no-partition", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--partition-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print("RESULT " + json.dumps(measure(args.measure, args.patients, args.runs)))
        return {}
    if args.partition_only:
        print("RESULT " + json.dumps(partition_compare(args.runs)))
        return {}

    load_before = os.getloadavg()
    runs = str(args.runs)
    small = _child(["--measure", SMALL_DB, "--patients", str(args.small), "--runs", runs])
    big = _child(["--measure", PERF_DB, "--patients", str(args.patients), "--runs", runs])
    partition = None if args.no_partition else _child(["--partition-only", "--runs", runs])
    result = {
        "machine": {**machine(), "loadavg_before": [round(x, 2) for x in load_before]},
        "small": small,
        "big": big,
        "partitioning": partition,
    }
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'median ms':<22}{small['measurements']:>14,}{big['measurements']:>14,} rows")
    for name in small["median_ms"]:
        print(f"{name:<22}{small['median_ms'][name]:>14}{big['median_ms'][name]:>14}")
    if partition:
        print(f"\npartitioned by month ({partition['partitions']} partitions), median ms:")
        for name, times in partition["median_ms"].items():
            print(f"{name:<22}{times['metrics_healthmetric']:>10}{times['bench_metric_part']:>10}")
    print(f"written to {RESULTS / 'scale.json'}")
    return result


if __name__ == "__main__":
    main()
