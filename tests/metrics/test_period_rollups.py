"""Week (ISO, Monday first) and month rollups in the owner's time zone, stored and kept in step
with the daily rollups; and `end` as a whole day for hourly aggregates."""

from __future__ import annotations

import random
import zoneinfo
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from metrics import period_rollups, services
from metrics.models import HealthMetric, PeriodRollup
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-metrics/aggregates"


def add(user, code, when, value):
    return services.metric_create(user=user, metric_type=code, value=value, recorded_at=when)


def stored(user, code, period) -> dict[date, tuple]:
    rows = PeriodRollup.objects.filter(user=user, metric_type=code, period=period)
    return {r.start: (round(r.value, 6), r.min_value, r.max_value, r.count) for r in rows}


def from_scratch(user, code, period) -> dict[date, tuple]:
    """A naive computation from the raw samples (no overlaps, so no de-duplication)."""
    tz = zoneinfo.ZoneInfo(user.time_zone)
    groups: dict[date, list[HealthMetric]] = defaultdict(list)
    for m in HealthMetric.objects.filter(user=user, metric_type=code):
        local = m.recorded_at.astimezone(tz).date()
        start = (
            local - timedelta(days=local.weekday()) if period == "week" else local.replace(day=1)
        )
        groups[start].append(m)
    out = {}
    for start, ms in groups.items():
        values = [m.value for m in ms]
        if code == "steps":
            value = sum(values)
        elif code == "heart_rate":
            value = sum(values) / len(values)
        else:
            value = max(ms, key=lambda m: (m.recorded_at, m.pk)).value
        out[start] = (round(value, 6), min(values), max(values), len(values))
    return out


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_stored_weeks_and_months_equal_a_computation_from_scratch(zone):
    user = UserFactory(time_zone=zone)
    rng = random.Random(18)
    base = datetime(2025, 11, 20, tzinfo=UTC)
    made = []
    for _ in range(60):
        when = base + timedelta(minutes=rng.randrange(0, 70 * 24 * 60))
        code = rng.choice(["steps", "heart_rate", "weight"])
        value = {"steps": rng.randrange(1, 900), "heart_rate": rng.randrange(50, 120)}.get(
            code, rng.randrange(60, 90)
        )
        made.append(add(user, code, when, value))
    # Updates and deletes keep them in step too.
    for metric in made[:10]:
        services.metric_update(metric=metric, value=metric.value + 1)
    for metric in made[10:20]:
        services.metric_delete(metric=metric)
    for code in ("steps", "heart_rate", "weight"):
        for period in ("week", "month"):
            assert stored(user, code, period) == from_scratch(user, code, period), (code, period)


def test_a_write_updates_the_stored_week_without_a_read():
    user = UserFactory()
    add(user, "steps", datetime(2026, 3, 3, 10, tzinfo=UTC), 100)
    assert stored(user, "steps", "week") == {date(2026, 3, 2): (100, 100, 100, 1)}
    metric = add(user, "steps", datetime(2026, 3, 8, 23, 30, tzinfo=UTC), 50)  # Sunday
    assert stored(user, "steps", "week") == {date(2026, 3, 2): (150, 50, 100, 2)}
    services.metric_delete(metric=metric)
    assert stored(user, "steps", "week") == {date(2026, 3, 2): (100, 100, 100, 1)}
    assert stored(user, "steps", "month") == {date(2026, 3, 1): (100, 100, 100, 1)}


def test_periods_are_cut_in_the_owners_time_zone():
    # Monday 2026-03-02 03:00 UTC is still Sunday evening in New York, and 1 March there.
    when = datetime(2026, 3, 2, 3, tzinfo=UTC)
    utc_user, ny_user = UserFactory(time_zone="UTC"), UserFactory(time_zone="America/New_York")
    add(utc_user, "steps", when, 10)
    add(ny_user, "steps", when, 10)
    assert list(stored(utc_user, "steps", "week")) == [date(2026, 3, 2)]
    assert list(stored(ny_user, "steps", "week")) == [date(2026, 2, 23)]
    # 2026-03-01 04:00 UTC is still February in New York.
    add(ny_user, "steps", datetime(2026, 3, 1, 4, tzinfo=UTC), 5)
    assert stored(ny_user, "steps", "month") == {
        date(2026, 2, 1): (5, 5, 5, 1),
        date(2026, 3, 1): (10, 10, 10, 1),
    }


def test_iso_week_spans_the_year_boundary():
    user = UserFactory()
    add(user, "steps", datetime(2025, 12, 29, 9, tzinfo=UTC), 1)  # Monday, ISO 2026-W01
    add(user, "steps", datetime(2026, 1, 4, 20, tzinfo=UTC), 2)  # Sunday, same ISO week
    add(user, "steps", datetime(2026, 1, 5, 8, tzinfo=UTC), 4)  # next week
    assert date(2025, 12, 29).isocalendar()[:2] == (2026, 1)
    assert stored(user, "steps", "week") == {
        date(2025, 12, 29): (3, 1, 2, 2),
        date(2026, 1, 5): (4, 4, 4, 1),
    }
    assert stored(user, "steps", "month") == {
        date(2025, 12, 1): (1, 1, 1, 1),
        date(2026, 1, 1): (6, 2, 4, 2),
    }


def test_changing_time_zone_recuts_the_periods_on_the_next_read(auth_client, user):
    add(user, "steps", datetime(2026, 3, 2, 3, tzinfo=UTC), 10)
    assert list(stored(user, "steps", "week")) == [date(2026, 3, 2)]
    user.time_zone = "America/New_York"
    user.save(update_fields=["time_zone"])
    body = auth_client.get(
        URL, {"metric_type": "steps", "period": "week", "start": "2026-02-20", "end": "2026-03-10"}
    ).json()
    assert body["time_zone"] == "America/New_York"
    assert [r["period_start"] for r in body["results"]] == ["2026-02-23T00:00:00-05:00"]
    assert stored(user, "steps", "week") == from_scratch(user, "steps", "week")


def test_rows_written_before_the_table_existed_are_built_on_first_read(auth_client, user):
    add(user, "steps", datetime(2026, 3, 3, 10, tzinfo=UTC), 100)
    PeriodRollup.objects.all().delete()
    body = auth_client.get(
        URL, {"metric_type": "steps", "period": "month", "start": "2026-03-01", "end": "2026-03-31"}
    ).json()
    assert [(r["period_start"], r["value"]) for r in body["results"]] == [
        ("2026-03-01T00:00:00+00:00", 100)
    ]


def test_week_api_returns_stored_rows_in_the_owners_zone(auth_client, user):
    user.time_zone = "Europe/Paris"
    user.save(update_fields=["time_zone"])
    add(user, "heart_rate", datetime(2026, 1, 6, 10, tzinfo=UTC), 60)
    add(user, "heart_rate", datetime(2026, 1, 7, 10, tzinfo=UTC), 80)
    add(user, "heart_rate", datetime(2026, 1, 20, 10, tzinfo=UTC), 70)
    body = auth_client.get(
        URL,
        {"metric_type": "heart_rate", "period": "week", "start": "2026-01-07", "end": "2026-01-31"},
    ).json()
    assert body["period"] == "week" and body["time_zone"] == "Europe/Paris"
    assert body["results"] == [
        {
            "period_start": "2026-01-05T00:00:00+01:00",
            "value": 70.0,
            "min_value": 60.0,
            "max_value": 80.0,
            "count": 2,
            "in_progress": False,
        },
        {
            "period_start": "2026-01-19T00:00:00+01:00",
            "value": 70.0,
            "min_value": 70.0,
            "max_value": 70.0,
            "count": 1,
            "in_progress": False,
        },
    ]


def test_week_rollups_follow_the_access_rules(
    auth_client, user, other_client, clinician_client, care_team
):
    add(user, "steps", datetime(2026, 3, 3, 10, tzinfo=UTC), 100)
    query = {"metric_type": "steps", "period": "week", "start": "2026-03-01", "user_id": user.pk}
    assert auth_client.get(URL, query).status_code == 200
    response = clinician_client.get(URL, query)
    assert response.status_code == 200
    assert [r["value"] for r in response.json()["results"]] == [100]
    assert other_client.get(URL, query).status_code == 404


def test_month_span_is_bounded(auth_client):
    response = auth_client.get(
        URL, {"metric_type": "steps", "period": "month", "start": "2010-01-01", "end": "2026-01-01"}
    )
    assert response.status_code == 400 and "start" in response.json()


def test_end_as_a_bare_date_is_the_whole_day_for_hours(auth_client, user):
    for hh in (0, 9, 23):
        add(user, "steps", datetime(2026, 3, 2, hh, 30, tzinfo=UTC), hh + 1)
    add(user, "steps", datetime(2026, 3, 3, 0, 10, tzinfo=UTC), 99)  # the next day
    body = auth_client.get(
        URL, {"metric_type": "steps", "period": "hour", "start": "2026-03-02", "end": "2026-03-02"}
    ).json()
    assert [(r["period_start"], r["value"]) for r in body["results"]] == [
        ("2026-03-02T00:00:00Z", 1),
        ("2026-03-02T09:00:00Z", 10),
        ("2026-03-02T23:00:00Z", 24),
    ]
    # An instant as end still bounds the hours exactly.
    body = auth_client.get(
        URL,
        {
            "metric_type": "steps",
            "period": "hour",
            "start": "2026-03-02",
            "end": "2026-03-02T10:00:00Z",
        },
    ).json()
    assert [r["value"] for r in body["results"]] == [1, 10]


def test_rebuild_equals_what_the_writes_maintained():
    user = UserFactory(time_zone="Australia/Sydney")
    for day in range(40):
        add(user, "steps", datetime(2026, 1, 1, 13, tzinfo=UTC) + timedelta(days=day), day + 1)
    before = stored(user, "steps", "week"), stored(user, "steps", "month")
    period_rollups.rebuild(user_id=user.pk, metric_type="steps")
    assert (stored(user, "steps", "week"), stored(user, "steps", "month")) == before


def test_a_summed_sample_spanning_two_hours_is_split_in_proportion(auth_client, user):
    # 10:45-11:15 UTC, 600 steps: half in each hour; counted (count 1) in the hour it starts.
    services.metric_create(
        user=user,
        metric_type="steps",
        value=600,
        recorded_at=datetime(2026, 3, 2, 10, 45, tzinfo=UTC),
        end_at=datetime(2026, 3, 2, 11, 15, tzinfo=UTC),
    )
    body = auth_client.get(
        URL, {"metric_type": "steps", "period": "hour", "start": "2026-03-02", "end": "2026-03-02"}
    ).json()
    assert [(r["period_start"], r["value"], r["count"]) for r in body["results"]] == [
        ("2026-03-02T10:00:00Z", 300, 1),
        ("2026-03-02T11:00:00Z", 300, 0),
    ]


def test_a_sample_spanning_midnight_is_split_across_the_days(
    auth_client, user, django_capture_on_commit_callbacks
):
    services.metric_create(
        user=user,
        metric_type="sleep",
        value=480,
        recorded_at=datetime(2026, 3, 1, 22, 0, tzinfo=UTC),
        end_at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
    )
    body = auth_client.get(
        URL, {"metric_type": "sleep", "period": "day", "start": "2026-03-01", "end": "2026-03-02"}
    ).json()
    assert [r["value"] for r in body["results"]] == [120, 360]
    # Deleting it clears both days (once committed: the cached answer is dropped then).
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_delete(metric=HealthMetric.objects.get(user=user))
    body = auth_client.get(
        URL, {"metric_type": "sleep", "period": "day", "start": "2026-03-01", "end": "2026-03-02"}
    ).json()
    assert body["results"] == []


def test_averaged_samples_are_never_split(auth_client, user):
    services.metric_create(
        user=user,
        metric_type="heart_rate",
        value=70,
        recorded_at=datetime(2026, 3, 2, 10, 45, tzinfo=UTC),
        end_at=datetime(2026, 3, 2, 11, 15, tzinfo=UTC),
    )
    body = auth_client.get(
        URL,
        {"metric_type": "heart_rate", "period": "hour", "start": "2026-03-02", "end": "2026-03-02"},
    ).json()
    assert [(r["period_start"], r["value"]) for r in body["results"]] == [
        ("2026-03-02T10:00:00Z", 70)
    ]


def test_owner_sets_a_time_zone_and_a_bad_one_is_refused(auth_client, user):
    url = f"/api/v1/users/{user.pk}"
    response = auth_client.patch(url, {"time_zone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400 and "time_zone" in response.json()
    response = auth_client.patch(url, {"time_zone": "Asia/Tokyo"}, format="json")
    assert response.status_code == 200 and response.json()["time_zone"] == "Asia/Tokyo"
    user.refresh_from_db()
    assert user.time_zone == "Asia/Tokyo"


def test_a_share_grant_holder_cannot_read_weeks(user):
    from tests.accounts.care_factories import ShareGrantFactory
    from tests.accounts.factories import ClinicianFactory, client_for

    add(user, "steps", datetime(2026, 3, 3, 10, tzinfo=UTC), 100)
    holder = ClinicianFactory()
    ShareGrantFactory(
        owner=user,
        grantee=holder,
        metric_types=["steps"],
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
    )
    query = {"metric_type": "steps", "period": "week", "user_id": user.pk, "start": "2026-03-01"}
    response = client_for(holder).get(URL, {**query, "end": "2026-03-31"})
    assert response.status_code == 400 and "period" in response.json()
    day = client_for(holder).get(URL, {**query, "period": "day", "end": "2026-03-31"})
    assert day.status_code == 200 and [r["value"] for r in day.json()["results"]] == [100]


def test_hourly_span_limit_counts_a_bare_end_as_its_whole_day(auth_client):
    query = {"metric_type": "steps", "period": "hour", "start": "2026-01-01"}
    assert auth_client.get(URL, {**query, "end": "2026-01-31"}).status_code == 200
    response = auth_client.get(URL, {**query, "end": "2026-02-01"})
    assert response.status_code == 400 and "start" in response.json()


def test_reading_weeks_reads_the_stored_rows_and_recomputes_nothing(auth_client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for day in range(20):
        add(user, "steps", datetime(2026, 2, 1, 12, tzinfo=UTC) + timedelta(days=day), 10)
    query = {"metric_type": "steps", "period": "week", "start": "2026-02-01", "end": "2026-02-28"}
    with CaptureQueriesContext(connection) as queries:
        body = auth_client.get(URL, query).json()
    assert sum(r["value"] for r in body["results"]) == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert 'INSERT INTO "metrics_periodrollup"' not in sql
    assert 'DELETE FROM "metrics_periodrollup"' not in sql
    assert len(queries.captured_queries) <= 10
