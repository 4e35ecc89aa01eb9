"""A write drops every cached summary window of its person on a real Redis too (the deletion
runs inside Redis, metrics.services.invalidate_summary_cache), and only theirs."""

from __future__ import annotations

import shutil

import pytest
from django.core.cache import cache
from django.test import override_settings

from metrics import services
from metrics.models import HealthMetric
from tests.healthtrack.servers import RedisServer
from tests.healthtrack.test_degraded_services import redis_cache

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]


@pytest.fixture
def redis_backed():
    server = RedisServer()
    server.start()
    try:
        with override_settings(CACHES=redis_cache(server.url)):
            yield server
    finally:
        server.cleanup()


def test_a_write_drops_every_summary_window_of_its_person_only(
    redis_backed, user, other_user, django_capture_on_commit_callbacks
):
    windows = [1, 7, 30, 90, 365]
    for days in windows:
        cache.set(services.summary_cache_key(user.pk, days), {"stale": days})
    cache.set(services.summary_cache_key(other_user.pk, 7), {"theirs": True})
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=user, metric_type="steps", value=10, recorded_at="2026-03-02T08:00:00Z"
        )
    assert HealthMetric.objects.count() == 1
    assert all(cache.get(services.summary_cache_key(user.pk, d)) is None for d in windows)
    assert cache.get(services.summary_cache_key(other_user.pk, 7)) == {"theirs": True}


def test_with_redis_down_a_write_still_succeeds(
    redis_backed, user, django_capture_on_commit_callbacks
):
    redis_backed.stop()
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=user, metric_type="steps", value=10, recorded_at="2026-03-02T08:00:00Z"
        )
    assert HealthMetric.objects.count() == 1
