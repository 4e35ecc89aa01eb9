"""On a real Redis too, a write leaves no cached summary of its person servable (it replaces
their version tokens, metrics.services.invalidate_summary_cache), and only theirs."""

from __future__ import annotations

import shutil

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

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


def test_a_write_replaces_its_persons_version_tokens_only(
    redis_backed, user, other_user, django_capture_on_commit_callbacks
):
    for person in (user, other_user):
        cache.set(services.summary_version_key(person.pk), "v1")
        cache.set(services.type_version_key(person.pk, "steps"), "v1")
    cache.set(services.type_version_key(user.pk, "weight"), "v1")
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=user, metric_type="steps", value=10, recorded_at="2026-03-02T08:00:00Z"
        )
    assert HealthMetric.objects.count() == 1
    assert cache.get(services.summary_version_key(user.pk)) is None
    assert cache.get(services.type_version_key(user.pk, "steps")) is None
    assert cache.get(services.type_version_key(user.pk, "weight")) == "v1"  # another type's
    assert cache.get(services.summary_version_key(other_user.pk)) == "v1"
    assert cache.get(services.type_version_key(other_user.pk, "steps")) == "v1"


def test_a_clinicians_summary_after_the_patients_write_shows_it(
    redis_backed, user, care_team, clinician_client, auth_client, django_capture_on_commit_callbacks
):
    url = "/api/v1/health-metrics/summary"
    params = {"days": 7, "user_id": user.pk}
    assert clinician_client.get(url, params).json()["metrics"] == {}
    # The payload another viewer's first read renders, kept with the version it was read under.
    version, _ = cache.get(services.summary_cache_key(user.pk, 7))
    assert version is not None
    with django_capture_on_commit_callbacks(execute=True):
        posted = auth_client.post(
            "/api/v1/health-metrics/",
            {"metric_type": "steps", "value": 10, "recorded_at": timezone.now().isoformat()},
            format="json",
        )
    assert posted.status_code == 201
    assert clinician_client.get(url, params).json()["metrics"]["steps"]["count"] == 1


def test_with_redis_down_a_write_still_succeeds(
    redis_backed, user, django_capture_on_commit_callbacks
):
    redis_backed.stop()
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=user, metric_type="steps", value=10, recorded_at="2026-03-02T08:00:00Z"
        )
    assert HealthMetric.objects.count() == 1
