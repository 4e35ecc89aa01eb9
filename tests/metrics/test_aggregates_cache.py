"""The aggregates answer from their rendered bytes (issue 15), on a real Redis (the one-round-trip
path, Bearer JWTs) and on the local-memory cache: every write to the rollups is seen by the
very next read, another viewer is never served the owner's entry and their reads are audited
hit or miss, a revoked token is refused though the answer is cached, and no answer is kept past
the next boundary at which the clock alone changes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts import credentials
from accounts.models import AccessLog
from metrics import services
from metrics.api.views import _aggregates_entry, _seconds_to_boundary
from tests.accounts.care_factories import ShareGrantFactory
from tests.healthtrack.test_readcache import backend, bearer, poison  # noqa: F401
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

DAY = "/api/v1/health-metrics/aggregates?metric_type=steps&period=day"
HOUR = "/api/v1/health-metrics/aggregates?metric_type=heart_rate&period=hour"


def values(response) -> list[float]:
    assert response.status_code == 200, response.content
    return [row["value"] for row in response.json()["results"]]


def post(client, capture, metric_type: str, value: float, minutes_ago: int = 1) -> int:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    with capture(execute=True):
        response = client.post(
            "/api/v1/health-metrics",
            {"metric_type": metric_type, "value": value, "recorded_at": at.isoformat()},
            format="json",
        )
    assert response.status_code == 201, response.content
    return response.json()["id"]


class _Get:
    """A Django request's GET, as `_aggregates_entry` reads it."""

    def __init__(self, url: str):
        from django.http import QueryDict

        self.GET = QueryDict(url.split("?", 1)[1])


@pytest.mark.parametrize("url", [DAY, HOUR])
def test_a_cached_answer_runs_no_sql_and_is_the_same_bytes(
    backend,  # noqa: F811
    user,
    url,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    client = bearer(user)
    post(client, django_capture_on_commit_callbacks, "steps", 100)
    post(client, django_capture_on_commit_callbacks, "heart_rate", 70)
    first = client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "application/json"
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.content == first.content


def test_every_write_to_the_rollups_is_seen_by_the_next_read(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
):
    client = bearer(user)
    capture = django_capture_on_commit_callbacks
    first = post(client, capture, "steps", 100, minutes_ago=2)
    assert values(client.get(DAY))[-1:] == [100]
    assert values(client.get(DAY))[-1:] == [100]  # cached now
    post(client, capture, "steps", 50)
    assert values(client.get(DAY))[-1:] == [150]
    with capture(execute=True):
        patched = client.patch(f"/api/v1/health-metrics/{first}", {"value": 7}, format="json")
    assert patched.status_code == 200
    assert values(client.get(DAY))[-1:] == [57]
    with capture(execute=True):
        assert client.delete(f"/api/v1/health-metrics/{first}").status_code == 204
    assert values(client.get(DAY))[-1:] == [50]
    watch = DeviceFactory(user=user)
    sample = {"metric_type": "steps", "value": 25, "recorded_at": timezone.now().isoformat()}
    with capture(execute=True):
        synced = client.post(f"/api/v1/devices/{watch.pk}/sync", {"samples": [sample]}, "json")
    assert synced.status_code == 200, synced.content
    assert values(client.get(DAY))[-1:] == [75]
    # A change of time zone cuts the days again: the next read sees the new cut.
    before = client.get(DAY).json()["results"][-1]["period_start"]
    user.time_zone = "Pacific/Kiritimati"  # UTC+14: every local day starts elsewhere
    user.save(update_fields=["time_zone"])
    with capture(execute=True):
        services.rollups_recut(user_id=user.pk)
    assert client.get(DAY).json()["results"][-1]["period_start"] != before


def test_a_clinician_is_never_served_the_patients_entry_and_every_read_is_audited(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    django_capture_on_commit_callbacks,
):
    patient = bearer(user)
    post(patient, django_capture_on_commit_callbacks, "steps", 100)
    assert patient.get(DAY).status_code == 200
    poison(_aggregates_entry(_Get(DAY), user.pk, user.pk), b'{"poisoned": true}')
    assert patient.get(DAY).json() == {"poisoned": True}  # the owner's own entry
    doctor = bearer(clinician)
    url = f"{DAY}&user_id={user.pk}"
    for _ in range(3):  # computed, then from the clinician's own entry
        response = doctor.get(url)
        assert values(response)[-1:] == [100]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 3
    assert not AccessLog.objects.filter(actor=user).exists()  # own reads are not logged
    care_team.ended_at = timezone.now()
    care_team.save(update_fields=["ended_at"])
    assert doctor.get(url).status_code == 404


def test_an_outsider_gets_404_though_the_owners_answer_is_cached(
    backend,  # noqa: F811
    user,
    other_user,
):
    assert bearer(user).get(DAY).status_code == 200
    assert bearer(other_user).get(f"{DAY}&user_id={user.pk}").status_code == 404


def test_a_revoked_token_gets_401_though_the_answer_is_cached(backend, user):  # noqa: F811
    client = bearer(user)
    for _ in range(2):
        assert client.get(DAY).status_code == 200
    credentials.token_revoke(
        user_id=user.pk,
        jti=client.token["jti"],
        expires_at=datetime.fromtimestamp(client.token.payload["exp"], tz=UTC),
    )
    assert client.get(DAY).status_code == 401


def test_an_answer_is_kept_until_the_clock_alone_could_change_it_at_most(user):
    user.time_zone = "Asia/Kolkata"  # UTC+5:30: local midnight is 18:30 UTC
    now = datetime(2026, 3, 2, 18, 20, 30, tzinfo=UTC)
    # An hour's row (and `in_progress`) turns on a quarter hour in every zone.
    assert _seconds_to_boundary("hour", user, now) == 9 * 60 + 30
    # Days, weeks and months are the owner's local dates.
    for period in ("day", "week", "month"):
        assert _seconds_to_boundary(period, user, now) == 9 * 60 + 30
    later = datetime(2026, 3, 2, 18, 40, tzinfo=UTC)
    assert _seconds_to_boundary("day", user, later) == 23 * 3600 + 50 * 60
    assert later.astimezone(ZoneInfo("Asia/Kolkata")).hour == 0


def test_a_share_grant_holder_is_never_served_a_kept_answer(
    backend,  # noqa: F811
    user,
    clinician,
    django_capture_on_commit_callbacks,
):
    post(bearer(user), django_capture_on_commit_callbacks, "steps", 100)
    ShareGrantFactory(owner=user, grantee=clinician, metric_types=["steps"])
    holder = bearer(clinician)
    url = f"{DAY}&user_id={user.pk}"
    poison(_aggregates_entry(_Get(url), clinician.pk, user.pk), b'{"poisoned": true}')
    for _ in range(2):
        assert values(holder.get(url))[-1:] == [100]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2


def test_an_answer_outlives_writes_of_other_types_and_no_write_of_its_own(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """The aggregates of a type are guarded by that type's version: a heart-rate reading
    leaves the steps days servable and a steps reading the heart-rate hours; each type's own
    write, and a writer that names no types, is seen by the next read."""
    client = bearer(user)
    capture = django_capture_on_commit_callbacks
    post(client, capture, "steps", 100, minutes_ago=3)
    post(client, capture, "heart_rate", 70, minutes_ago=3)
    day, hour = client.get(DAY), client.get(HOUR)
    post(client, capture, "heart_rate", 90, minutes_ago=2)
    with django_assert_num_queries(0):
        assert client.get(DAY).content == day.content
    assert values(client.get(HOUR))[-1:] == [80]
    hour = client.get(HOUR)
    post(client, capture, "steps", 50, minutes_ago=1)
    with django_assert_num_queries(0):
        assert client.get(HOUR).content == hour.content
    assert values(client.get(DAY))[-1:] == [150]
    from metrics.models import DailyRollup

    DailyRollup.objects.filter(user=user, metric_type="steps").update(value=1)  # unnamed ...
    services.invalidate_summary_cache(user.pk)  # ... every type's answers dropped
    assert values(client.get(DAY))[-1:] == [1]
