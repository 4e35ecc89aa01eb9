"""Dashboard benchmark (issue 6): `make bench`. Not a test; prints figures and writes
bench/results/dashboard.json.

On PostgreSQL (DATABASE_URL's server, database `ht_bench_dashboard`, created if missing) it
loads the demo data (`seed_demo`: the demo patient's 90 days of watch, phone, scale and cuff
readings, meals and water; kept between runs) plus five current recommendations and an active
alert, so every panel is filled. Then it measures the server time of `GET /dashboard/` for the
demo patient, in-process through the whole Django stack (middleware, session, CSP, template
rendering; no network, no web server), for the 7-, 30- and 90-day periods: median and 95th
percentile of repeated requests, the process's CPU time per request, and the number of SQL
queries of one request. The machine's load average is recorded beside the figures: on a busy
machine each query's round trip waits for a core, and the wall time grows with it.
Target (issue 6): < 100 ms.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime

from common import ROOT, setup_django

RESULTS = ROOT / "bench" / "results" / "dashboard.json"
BENCH_DB = "ht_bench_dashboard"
PERIODS = (7, 30, 90)
RUNS = 40
WARMUP = 5
TARGET_MS = 100


def seed():
    """The demo data (idempotent), and a full insights panel for the demo patient."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.demo import seed_demo
    from accounts.models import User
    from insights.models import HealthInsight

    started = time.perf_counter()
    with transaction.atomic():
        seed_demo(days=90)
    patient = User.objects.get(username="demo")
    current = HealthInsight.objects.for_user(patient.pk).recommendations().current()
    if current.count() < 5:
        current.delete()
        for rank in range(1, 6):
            HealthInsight.objects.create(
                user=patient,
                kind=HealthInsight.Kind.RECOMMENDATION,
                insight_type=f"bench_{rank}",
                severity="medium",
                rank=rank,
                score=1.0 / rank,
                title=f"Recommendation {rank}",
                message="Your average over the last 7 days was below the bar.",
            )
    if not HealthInsight.objects.for_user(patient.pk).alerts().exists():
        HealthInsight.objects.create(
            user=patient,
            kind=HealthInsight.Kind.ALERT,
            insight_type="high_blood_pressure",
            severity="medium",
            title="High blood pressure",
            message="Your 7-day average is above 140/90 mmHg.",
            dedupe_key="bench",
            created_at=timezone.now(),
        )
    with connection.cursor() as cursor:
        for table in ("metrics_healthmetric", "metrics_dailyrollup", "metrics_hourlyrollup"):
            cursor.execute(f"ANALYZE {table}")
    return patient, time.perf_counter() - started


def main() -> dict:
    setup_django(BENCH_DB, rate_limits=False)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from metrics.models import HealthMetric
    from nutrition.models import NutritionLog

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    patient, seed_s = seed()
    client = Client()
    client.force_login(patient)

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert b"chart-svg" in response.content

    figures, queries = {}, {}
    for days in PERIODS:
        url = f"/dashboard/?days={days}"
        for _ in range(WARMUP):
            get(url)
        samples, cpu = [], []
        for _ in range(RUNS):
            start, start_cpu = time.perf_counter(), time.process_time()
            get(url)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        samples.sort()
        # The web process's own CPU time (Python: views, charts, templates), which the load
        # of other processes on the machine does not inflate.
        figures[f"dashboard_{days}d_cpu_median_ms"] = round(statistics.median(cpu) * 1000, 2)
        figures[f"dashboard_{days}d_median_ms"] = round(statistics.median(samples) * 1000, 2)
        figures[f"dashboard_{days}d_p95_ms"] = round(
            samples[int(len(samples) * 0.95) - 1] * 1000, 2
        )
        with CaptureQueriesContext(connection) as captured:
            get(url)
        queries[f"{days}d"] = len(captured)
    checks = {f"{days}d": figures[f"dashboard_{days}d_median_ms"] < TARGET_MS for days in PERIODS}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "measurements": HealthMetric.objects.filter(user=patient).count(),
            "diary_entries": NutritionLog.objects.filter(user=patient).count(),
            "seed_seconds": round(seed_s, 1),  # ~0 when the data was kept from a past run
        },
        "runs_per_period": RUNS,
        "figures_ms": figures,
        "queries_per_request": queries,
        "target_ms": TARGET_MS,
        "meets_target": checks,
        "environment": {
            "python": platform.python_version(),
            "postgresql": pg_version,
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "sessions": settings.SESSION_ENGINE.rsplit(".", 1)[-1],
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "in-process through Django (middleware, session, templates), "
            "signed in as the demo patient; no network, no web server",
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"dashboard bench: demo patient, {result['data']['measurements']} measurements, "
        f"{result['data']['diary_entries']} diary entries"
    )
    for name, value in figures.items():
        print(f"  {name:<26} {value:>8.2f} ms")
    for period, count in queries.items():
        print(f"  queries per request ({period:>3})  {count:>5}")
    for name, ok in checks.items():
        print(f"  target {name:<4} {'met' if ok else 'MISSED'} (median < {TARGET_MS} ms)")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main()
