"""The bench server's per-request counters (healthtrack/benchstats.py, BENCH_STATS only)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.models import User
from healthtrack import benchstats

pytestmark = pytest.mark.django_db


def test_middleware_reports_the_requests_sql_statements():
    def view(request):
        User.objects.filter(username="a").exists()
        User.objects.filter(username="b").exists()
        return HttpResponse("ok")

    response = benchstats.BenchStatsMiddleware(view)(RequestFactory().get("/x"))
    assert response["X-Bench-Queries"] == "2"
    assert response["X-Bench-Cache-Hits"] == "0"
    assert response["X-Bench-Cache-Misses"] == "0"


def test_middleware_reports_a_request_that_loaded_the_jwt_user_entry():
    from accounts.credentials import revoked_ids

    user = User.objects.create_user(username="bench-a", password="x" * 16)

    def loads(request):
        revoked_ids(user.pk)  # what building the JWT user entry reads
        return HttpResponse("ok")

    def reads_users_only(request):
        User.objects.filter(pk=user.pk).exists()
        return HttpResponse("ok")

    loaded = benchstats.BenchStatsMiddleware(loads)(RequestFactory().get("/x"))
    plain = benchstats.BenchStatsMiddleware(reads_users_only)(RequestFactory().get("/x"))
    assert loaded["X-Bench-User-Loads"] == "1"
    assert plain["X-Bench-User-Loads"] == "0"


def test_middleware_reports_the_cpu_time_the_request_spent():
    def view(request):
        deadline = time.thread_time() + 0.02  # 20 ms of this thread's CPU
        while time.thread_time() < deadline:
            pass
        return HttpResponse("ok")

    response = benchstats.BenchStatsMiddleware(view)(RequestFactory().get("/x"))
    assert 20_000 <= int(response["X-Bench-CPU-us"]) < 1_000_000


def test_middleware_is_off_unless_bench_stats_is_set():
    assert "healthtrack.benchstats.BenchStatsMiddleware" not in settings.MIDDLEWARE


def test_counting_cache_counts_data_lookups_not_throttle_counters():
    if "django_redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("needs Redis (REDIS_URL)")
    cache = benchstats.CountingRedisCache(
        settings.CACHES["default"]["LOCATION"],
        {**settings.CACHES["default"], "KEY_PREFIX": "bench-test"},
    )
    cache.set("summary:1", {"a": 1})

    def view(request):
        assert cache.get("summary:1") == {"a": 1}
        assert cache.get("summary:2", "default") == "default"
        cache.get("throttle_ip_burst_203.0.113.1")
        cache.get_many(["summary:1", "summary:3"])
        return HttpResponse("ok")

    response = benchstats.BenchStatsMiddleware(view)(RequestFactory().get("/x"))
    cache.delete_many(["summary:1"])
    assert (response["X-Bench-Cache-Hits"], response["X-Bench-Cache-Misses"]) == ("2", "2")
