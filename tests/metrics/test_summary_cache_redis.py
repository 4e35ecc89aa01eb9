"""On a real Redis too, a write leaves no cached summary of its person servable (it replaces
their version tokens, metrics.services.invalidate_summary_cache), and only theirs; the answer
is built from pieces per type kept under those tokens (metrics.summary_cache): the same bytes
as computed, one type computed again after a write of that type."""

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


def test_the_answer_from_pieces_is_the_computed_one_and_a_write_recomputes_its_type(
    redis_backed, user, auth_client, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.api import readcache
    from healthtrack.core import days as calendar
    from metrics import summary_cache
    from metrics.summary import payload, summary

    def uncached() -> bytes:
        return readcache.render(
            payload(summary(user_id=user.pk, days=30, tz=calendar.zone_of(user)))
        )

    for code, value in (("steps", 4000), ("heart_rate", 70), ("weight", 80)):
        services.metric_create(user=user, metric_type=code, value=value, recorded_at=timezone.now())
    computed = []
    entries = summary_cache.entries
    monkeypatch.setattr(
        summary_cache,
        "entries",
        lambda **kwargs: computed.append(sorted(kwargs["metric_types"])) or entries(**kwargs),
    )
    url = "/api/v1/health-metrics/summary"
    assert auth_client.get(url).content == uncached()
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=user, metric_type="heart_rate", value=90, recorded_at=timezone.now()
        )
    assert auth_client.get(url).content == uncached()
    assert computed == [sorted(summary_cache.CODES), ["heart_rate"]]
    # Every type's piece is kept under its type's token (a type without data as nothing).
    client = readcache._redis()
    w = summary_cache.window(30, tz=calendar.zone_of(user))
    raw = client.get_client(write=True)
    token = raw.get(client.make_key(services.type_version_key(user.pk, "body_fat")))
    piece = raw.get(client.make_key(summary_cache.piece_key(user.pk, w, "body_fat")))
    assert token and piece == token
