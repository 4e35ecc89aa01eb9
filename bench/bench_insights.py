"""Insights benchmark (issue 5): `make bench`. Not a test; prints figures and writes
bench/results/insights.json.

On PostgreSQL (DATABASE_URL's server, database `ht_bench` or $BENCH_DB, created if missing),
with Redis from REDIS_URL if set (else the in-process cache):
- one user with 90 days of minute heart rate and daily values of 14 other types (~130,000
  rows, the loader of bench_metrics.py, kept between runs) plus 90 days of meals;
- uncached computation: snapshot from the rollups + rules + ranking + the (no-op) store, and
  the same through the API with `use_cache=false`, median of repeated runs;
- cached response: `GET /api/v1/recommendations/{id}` served from the cache, through the full
  Django/DRF stack with a JWT (in-process test client, no network), median;
- the nightly run over 1,000 users with a week of daily rollups each (bulk-created, kept
  between runs), Celery eager (one process: the "one worker"), everyone due; then the same
  run again, when nobody is due.
Targets (issue 5): uncached < 100 ms, cached < 5 ms, nightly over 1,000 users < 60 s.
The machine is shared: the load average and, as a yardstick, the metrics app's cached summary
timed in the same run are recorded beside the figures.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, date, datetime, timedelta

import bench_metrics  # the 130,000-row loader and the database set-up
from common import ROOT, median_ms, timed

RESULTS = ROOT / "bench" / "results" / "insights.json"
NIGHTLY_USERS = 1000
NIGHTLY_DAYS = 7
RUNS = {"compute": 30, "api_uncached": 30, "api_cached": 200}
TARGETS = {"uncached_ms": 100, "cached_ms": 5, "nightly_s": 60}
MEALS = (  # meal, hour, kcal, protein g, water ml
    ("breakfast", 8, 450, 20, 250),
    ("lunch", 13, 700, 35, 500),
    ("dinner", 19, 800, 40, 500),
)


def load_meals(user, days: int) -> int:
    from nutrition.models import NutritionLog

    if NutritionLog.objects.filter(user=user).count() >= days * 3:
        return NutritionLog.objects.filter(user=user).count()
    NutritionLog.objects.filter(user=user).delete()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        for meal, hour, calories, protein, water in MEALS:
            rows.append(
                NutritionLog(
                    user=user,
                    meal_type=meal,
                    logged_at=day + timedelta(hours=hour),
                    calories=calories,
                    protein_g=protein,
                    water_ml=water,
                )
            )
    NutritionLog.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def load_nightly_users(count: int, days: int) -> list[int]:
    """`count` patients with `days` days of daily rollups (steps, sleep, resting heart rate,
    weight): bulk, kept between runs."""
    from accounts.models import User
    from metrics.models import DailyRollup

    prefix = "bench-nightly-"
    ids = list(
        User.objects.filter(username__startswith=prefix).order_by("pk").values_list("pk", flat=True)
    )
    today = datetime.now(UTC).date()
    if len(ids) != count:
        User.objects.filter(username__startswith=prefix).delete()
        users = [
            User(
                username=f"{prefix}{i}",
                email=f"{prefix}{i}@example.org",
                role=User.Role.PATIENT,
                sex=User.Sex.FEMALE if i % 2 else User.Sex.MALE,
                height_cm=160 + i % 30,
                date_of_birth=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                password="!",
            )
            for i in range(count)
        ]
        User.objects.bulk_create(users, batch_size=500)
        ids = list(
            User.objects.filter(username__startswith=prefix)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    # A week of rollups ending yesterday (re-dated every run so the windows always see them).
    DailyRollup.objects.filter(user_id__in=ids).delete()
    rows = []
    for n, user_id in enumerate(ids):
        for back in range(1, days + 1):
            day = today - timedelta(days=back)
            for code, value in (
                ("steps", 2500 + (n * 37 + back * 101) % 9000),
                ("sleep", 300 + (n * 13 + back * 7) % 200),
                ("resting_heart_rate", 58 + (n + back) % 35),
                ("weight", 55 + n % 60),
            ):
                rows.append(
                    DailyRollup(
                        user_id=user_id,
                        metric_type=code,
                        day=day,
                        value=value,
                        min_value=value,
                        max_value=value,
                        count=1,
                    )
                )
    DailyRollup.objects.bulk_create(rows, batch_size=5000)
    return ids


def main() -> dict:
    bench_metrics.BENCH_DB = os.environ.get("BENCH_DB", bench_metrics.BENCH_DB)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    bench_metrics.setup_django()

    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from healthtrack.celery import app as celery_app
    from insights import cache as rec_cache
    from insights import engine, services, snapshot_builder, tasks
    from insights.models import HealthInsight, RecommendationState
    from metrics.models import Device

    celery_app.conf.task_always_eager = True
    user, _ = User.objects.get_or_create(
        username="bench",
        defaults={"email": "bench@example.org"},
    )
    if user.height_cm is None or user.date_of_birth is None:
        user.height_cm, user.sex, user.date_of_birth = 172.0, User.Sex.MALE, date(1980, 6, 1)
        user.save(update_fields=["height_cm", "sex", "date_of_birth"])
    device, _ = Device.objects.get_or_create(
        user=user,
        identifier="bench-watch",
        defaults={"device_type": "apple_watch", "name": "Bench watch", "priority": 100},
    )
    t0 = time.perf_counter()
    rows = bench_metrics.load(user, device)
    meals = load_meals(user, bench_metrics.DAYS)
    load_s = time.perf_counter() - t0
    user = User.objects.select_related("nutrition_targets").get(pk=user.pk)

    # --- uncached computation ---------------------------------------------------------------
    services.recommendations_compute(user=user)  # first run stores; later runs are no-ops
    compute = timed(lambda: services.recommendations_compute(user=user), RUNS["compute"])
    snapshot_only = timed(lambda: snapshot_builder.build_snapshot(user=user), RUNS["compute"])
    snapshot = snapshot_builder.build_snapshot(user=user)
    rules_only = timed(lambda: engine.recommend(snapshot), RUNS["compute"])
    found = [rec.type for rec in engine.recommend(snapshot)]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    url = f"/api/v1/recommendations/{user.pk}"

    def get(query: str, cached: bool):
        def call():
            response = client.get(url + query)
            assert response.status_code == 200, response.content[:300]
            assert response.json()["cached"] is cached

        return call

    api_uncached = timed(get("?use_cache=false", False), RUNS["api_uncached"])
    rec_cache.invalidate(user.pk)
    get("", False)()
    api_cached = timed(get("", True), RUNS["api_cached"])

    # Calibration: the metrics app's cached summary (2.4 ms median on a quiet machine, see
    # bench/results/metrics.json), timed now, shows how loaded the machine is.
    def summary():
        response = client.get("/api/v1/health-metrics/summary?days=30")
        assert response.status_code == 200

    summary()
    baseline = timed(summary, RUNS["api_cached"])

    # --- nightly ----------------------------------------------------------------------------
    t0 = time.perf_counter()
    ids = load_nightly_users(NIGHTLY_USERS, NIGHTLY_DAYS)
    nightly_load_s = time.perf_counter() - t0
    RecommendationState.objects.filter(user_id__in=ids).delete()
    HealthInsight.objects.filter(user_id__in=ids).delete()
    RecommendationState.objects.filter(user=user).delete()
    due = snapshot_builder.users_due_for_recommendations().count()
    start = time.perf_counter()
    first = tasks.nightly_recommendations.apply().get()
    nightly_s = time.perf_counter() - start
    stored = HealthInsight.objects.filter(user_id__in=ids).count()
    start = time.perf_counter()
    second = tasks.nightly_recommendations.apply().get()
    nightly_again_s = time.perf_counter() - start

    figures = {
        "compute_uncached_ms": median_ms(compute),
        "compute_snapshot_only_ms": median_ms(snapshot_only),
        "compute_rules_only_ms": median_ms(rules_only),
        "api_uncached_ms": median_ms(api_uncached),
        "api_cached_ms": median_ms(api_cached),
        "api_cached_p95_ms": round(sorted(api_cached)[int(len(api_cached) * 0.95)] * 1000, 2),
        "api_cached_min_ms": round(min(api_cached) * 1000, 2),
        "api_uncached_min_ms": round(min(api_uncached) * 1000, 2),
        "calibration_metrics_summary_cached_ms": median_ms(baseline),
    }
    nightly = {
        "users_due": due,
        "first_run": first,
        "first_run_seconds": round(nightly_s, 2),
        "per_user_ms": round(nightly_s / max(first["users"], 1) * 1000, 2),
        "recommendations_stored": stored,
        "second_run_same_day": second,
        "second_run_seconds": round(nightly_again_s, 3),
    }
    checks = {
        "uncached": figures["api_uncached_ms"] < TARGETS["uncached_ms"],
        "cached": figures["api_cached_ms"] < TARGETS["cached_ms"],
        "nightly": nightly_s < TARGETS["nightly_s"],
    }
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "meals": meals,
        "recommendations_for_the_bench_user": found,
        "load_seconds": round(load_s, 1),
        "nightly_load_seconds": round(nightly_load_s, 1),
        "runs": RUNS,
        "figures_ms_median": figures,
        "nightly": nightly,
        "targets": TARGETS,
        "meets_target": checks,
        "environment": {
            "python": platform.python_version(),
            "postgresql": pg_version,
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "cpus": os.cpu_count(),
            # Other work on the machine during the run inflates every figure: recorded here.
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "note": "in-process through Django + DRF with JWT auth (no network, no web "
            "server); nightly with Celery eager in this one process",
        },
    }
    cache.delete(rec_cache.cache_key(user.pk, 30))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"insights bench: {rows} rows + {meals} meals for one user (load {load_s:.1f} s)")
    for name, value in figures.items():
        print(f"  {name:<28} {value:>8.2f} ms")
    print(
        f"  nightly: {first['users']} users in {first['chunks']} chunks, {nightly_s:.1f} s "
        f"({nightly['per_user_ms']} ms a user); again the same day: {second['users']} users, "
        f"{nightly_again_s * 1000:.0f} ms"
    )
    for name, ok in checks.items():
        print(f"  target {name:<10} {'met' if ok else 'MISSED'}")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main()
