"""The API summary built from one rendered piece per metric type (`metrics.summary_cache`,
issue 15): the bytes an uncached computation renders, after every kind of write; a write of
one type computes that type again and reuses the others; a piece computed while a write
commits is not used after it; a piece never crosses the owner's midnight. With the embedded
cache here, on a real Redis in test_summary_cache_redis.py (and both when the suite runs with
REDIS_URL)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from accounts.api import readcache
from healthtrack.core import days as calendar
from metrics import services, summary_cache
from metrics.models import HealthMetric
from metrics.summary import payload, summary
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-metrics/summary"


def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    now = timezone.now().astimezone(UTC)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0) - timedelta(days=days_ago)


def uncached(user, days: int = 30) -> bytes:
    """What the answer is, computed now without any cache."""
    data = summary(user_id=user.pk, days=days, tz=calendar.zone_of(user))
    return readcache.render(payload(data))


def read(client, days: int = 30, **params) -> bytes:
    response = client.get(URL, {"days": days, **params})
    assert response.status_code == 200, response.content
    return response.content


@pytest.fixture
def data(user):
    for days_ago, total in [(0, 3000), (1, 9000), (2, 6000), (40, 99999)]:
        services.metric_create(
            user=user, metric_type="steps", value=total, recorded_at=at(days_ago, 0, 30)
        )
    for days_ago, bpm in [(0, 60), (0, 80), (1, 100)]:
        services.metric_create(
            user=user, metric_type="heart_rate", value=bpm, recorded_at=at(days_ago, 0, bpm % 50)
        )
    for days_ago, kg in [(2, 80), (1, 79.5)]:
        services.metric_create(
            user=user, metric_type="weight", value=kg, recorded_at=at(days_ago, 0, 5)
        )
    return user


@pytest.fixture
def computed(monkeypatch):
    """The types each rebuild computed (`summary_cache.entries`' `metric_types`)."""
    calls: list[list[str]] = []
    entries = summary_cache.entries

    def recording(**kwargs):
        calls.append(sorted(kwargs["metric_types"]))
        return entries(**kwargs)

    monkeypatch.setattr(summary_cache, "entries", recording)
    return calls


def test_the_assembled_answer_is_the_rendered_summary_byte_for_byte(auth_client, data):
    assert read(auth_client) == uncached(data)
    # A second viewer's first answer, assembled from the pieces the first one kept.
    assert read(auth_client, days=7) == uncached(data, days=7)
    assert read(auth_client, days=1) == uncached(data, days=1)


def test_a_person_without_data_has_an_empty_answer(auth_client, user):
    assert read(auth_client) == uncached(user)
    assert b'"metrics":{}' in read(auth_client)


def _reading(user):
    services.metric_create(user=user, metric_type="heart_rate", value=91, recorded_at=at(0, 1))


def _weight(user):
    services.metric_create(user=user, metric_type="weight", value=78.2, recorded_at=at(0, 2))


def _sync(user):
    device = DeviceFactory(user=user)
    samples = [
        {"metric_type": "heart_rate", "value": 70 + i, "recorded_at": at(1, 22, i).isoformat()}
        for i in range(5)
    ]
    services.device_sync(user=user, device=device, samples=samples, idempotency_key=None)


def _edit(user):
    metric = HealthMetric.objects.filter(user=user, metric_type="steps").latest("recorded_at")
    services.metric_update(metric=metric, value=4321)


def _delete(user):
    metric = HealthMetric.objects.filter(user=user, metric_type="weight").latest("recorded_at")
    services.metric_delete(metric=metric)


def _import(user):
    from healthtrack.portability.models import ImportJob
    from healthtrack.portability.services import import_job_execute

    header = "metric_type,value,unit,recorded_at,end_at,source"
    text = f"{header}\nsteps,1234,,{at(3, 8).isoformat()},,\n"
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.CSV_METRICS)
    import_job_execute(job=job, fileobj=io.BytesIO(text.encode()))


def _retention(user):
    from healthtrack.lifecycle.retention import apply_retention

    # Far enough ahead that every raw sample is past its "delete after": the rollups stay,
    # every type's latest sample goes.
    apply_retention(now=timezone.now() + timedelta(days=365 * 30))


def _zone(user):
    user.time_zone = "Pacific/Kiritimati"  # UTC+14: other days, other rollups
    user.save(update_fields=["time_zone"])
    services.rollups_recut(user_id=user.pk)


def _meal(user):
    from nutrition import services as nutrition_services

    nutrition_services.nutrition_log_create(
        user=user, meal_type="lunch", description="Soup", calories=300, logged_at=at(0, 12)
    )


WRITES = [_reading, _weight, _sync, _edit, _delete, _import, _retention, _zone, _meal]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.strip("_") for w in WRITES])
def test_after_every_kind_of_write_the_answer_is_the_uncached_one(
    auth_client, data, write, django_capture_on_commit_callbacks
):
    before = read(auth_client)
    assert read(auth_client) == before == uncached(data)  # kept, then served
    with django_capture_on_commit_callbacks(execute=True):
        write(data)
    data.refresh_from_db()
    assert read(auth_client) == uncached(data)
    assert read(auth_client, days=7) == uncached(data, days=7)


def test_a_write_of_one_type_computes_that_type_only(
    auth_client, data, computed, django_capture_on_commit_callbacks
):
    read(auth_client)
    assert computed == [sorted(summary_cache.CODES)]  # the first answer: every type
    with django_capture_on_commit_callbacks(execute=True):
        _reading(data)
    assert read(auth_client) == uncached(data)
    assert computed[1:] == [["heart_rate"]]
    read(auth_client)  # the answer as a whole, served under the person's summary version
    assert len(computed) == 2


def test_a_writer_that_names_no_type_computes_every_type_again(auth_client, data, computed):
    read(auth_client)
    services.invalidate_summary_cache(data.pk)  # a lifecycle job's, an import's
    assert read(auth_client) == uncached(data)
    assert computed[1] == sorted(summary_cache.CODES)


def test_a_clinicians_first_answer_reuses_the_owners_pieces(
    auth_client, clinician_client, care_team, data, computed
):
    own = read(auth_client)
    assert read(clinician_client, user_id=data.pk) == own
    assert len(computed) == 1


def test_a_piece_computed_while_a_write_commits_is_not_used_after_it(
    auth_client, data, monkeypatch
):
    entries = summary_cache.entries
    raced = []

    def computed_while_a_write_commits(**kwargs):
        answer = entries(**kwargs)
        if not raced:  # the write's after-commit invalidation, while this answer is computed
            raced.append(True)
            with transaction.atomic():
                services.metric_create(
                    user=data, metric_type="steps", value=5, recorded_at=at(0, 3)
                )
            services.invalidate_summary_cache(data.pk, {"steps"})
        return answer

    monkeypatch.setattr(summary_cache, "entries", computed_while_a_write_commits)
    stale = read(auth_client)
    assert stale != uncached(data)  # computed before the write: without its steps
    assert read(auth_client) == uncached(data)


def test_a_piece_is_not_used_on_the_next_day(auth_client, data):
    evening = timezone.now().astimezone(UTC).replace(hour=23, minute=59, second=0, microsecond=0)
    with time_machine.travel(evening, tick=False):
        read(auth_client)
    # The answer as a whole dropped (its time to live ends at midnight, on the server's clock,
    # which this test does not move): assembled again, from no piece of yesterday.
    services.invalidate_summary_cache(data.pk, metric_types=[])
    with time_machine.travel(evening + timedelta(minutes=2), tick=False):
        assert read(auth_client) == uncached(data)


def test_the_answer_is_kept_until_the_owners_midnight_at_most(auth_client, data, monkeypatch):
    kept = []
    monkeypatch.setattr(readcache, "store", lambda found, body: kept.append(found.entry.ttl))
    evening = timezone.now().astimezone(UTC).replace(hour=23, minute=58, second=30, microsecond=0)
    with time_machine.travel(evening, tick=False):
        read(auth_client)
    data.time_zone = "Asia/Tokyo"  # 08:58:30 on the next day there
    data.save(update_fields=["time_zone"])
    with time_machine.travel(evening, tick=False):
        read(auth_client)
    assert kept == [90, services.SUMMARY_CACHE_TTL]
