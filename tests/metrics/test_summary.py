from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from metrics import averages, latest, services
from metrics.series import daily_series
from metrics.summary import summary
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def today_at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    now = timezone.now().astimezone(UTC)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0) - timedelta(days=days_ago)


@pytest.fixture
def data(user):
    for days_ago, total in [(0, 3000), (1, 9000), (2, 6000), (40, 99999)]:
        services.metric_create(
            user=user, metric_type="steps", value=total, recorded_at=today_at(days_ago, 0, 30)
        )
    for days_ago, bpm in [(0, 60), (0, 80), (1, 100)]:
        services.metric_create(
            user=user,
            metric_type="heart_rate",
            value=bpm,
            recorded_at=today_at(days_ago, 0, bpm % 50),
        )
    for days_ago, kg in [(2, 80), (1, 79.5)]:
        services.metric_create(
            user=user, metric_type="weight", value=kg, recorded_at=today_at(days_ago, 0, 5)
        )
    return user


def test_summary_per_type_from_the_rollups(auth_client, data):
    response = auth_client.get("/api/v1/health-metrics/summary", {"days": 30})
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 30
    steps = body["metrics"]["steps"]
    # Mean daily total of the finished days (the 40-day-old sample is outside; today's
    # 3,000 so far is in progress and never averaged or taken as a day's low).
    assert steps["average"] == 7500
    assert (steps["min"], steps["max"], steps["count"]) == (6000, 9000, 3)
    assert [(p["value"], p["in_progress"]) for p in steps["series"]] == [
        (6000, False),
        (9000, False),
        (3000, True),
    ]
    assert steps["today"] == {"date": body["end"], "value": 3000, "in_progress": True}
    assert steps["latest"]["value"] == 3000
    assert (steps["days_with_data"], steps["finished_days_with_data"]) == (3, 2)
    hr = body["metrics"]["heart_rate"]
    assert hr["average"] == 100  # yesterday's; today's 60 and 80 are so far
    assert (hr["min"], hr["max"], hr["count"]) == (100, 100, 3)
    weight = body["metrics"]["weight"]
    assert weight["latest"]["value"] == 79.5
    assert weight["unit"] == "kg" and weight["aggregation"] == "latest"
    assert set(body["metrics"]) == {"steps", "heart_rate", "weight"}


def test_summary_is_cached_and_a_write_shows_at_once(
    auth_client, data, django_capture_on_commit_callbacks, django_assert_num_queries
):
    first = auth_client.get("/api/v1/health-metrics/summary", {"days": 7})
    # This viewer's answer as rendered, under the person's summary version (readcache).
    with django_assert_num_queries(0):
        again = auth_client.get("/api/v1/health-metrics/summary", {"days": 7})
    assert again.content == first.content
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(
            "/api/v1/health-metrics/",
            {"metric_type": "steps", "value": 1, "recorded_at": today_at(0, 0, 1).isoformat()},
            format="json",
        )
    fresh = auth_client.get("/api/v1/health-metrics/summary", {"days": 7}).json()
    assert fresh["metrics"]["steps"]["count"] == 4


@pytest.mark.parametrize("days", [0, 366, "x"])
def test_summary_rejects_bad_days(auth_client, days):
    response = auth_client.get("/api/v1/health-metrics/summary", {"days": days})
    assert response.status_code == 400 and "days" in response.json()


def test_summary_of_another_user_is_404(auth_client, other_user, user):
    assert (
        auth_client.get("/api/v1/health-metrics/summary", {"user_id": other_user.pk}).status_code
        == 404
    )
    assert (
        auth_client.get("/api/v1/health-metrics/summary", {"user_id": user.pk}).status_code == 200
    )


def test_aggregates_daily_and_hourly(auth_client, data):
    end = timezone.now()
    response = auth_client.get(
        "/api/v1/health-metrics/aggregates",
        {
            "metric_type": "steps",
            "period": "day",
            "start": (end - timedelta(days=5)).isoformat(),
            "end": end.isoformat(),
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["unit"], body["aggregation"], body["period"]) == ("count", "sum", "day")
    assert [(r["value"], r["in_progress"]) for r in body["results"]] == [
        (6000, False),
        (9000, False),
        (3000, True),
    ]
    assert body["results"][0]["period_start"].endswith("T00:00:00Z")

    hourly = auth_client.get(
        "/api/v1/health-metrics/aggregates", {"metric_type": "heart_rate", "period": "hour"}
    ).json()
    assert [(r["value"], r["count"]) for r in hourly["results"]] == [(100, 1), (70, 2)]
    assert not any(r["in_progress"] for r in hourly["results"])  # 00:xx, not this hour


@pytest.mark.parametrize(
    "query, field",
    [
        ({}, "metric_type"),
        ({"metric_type": "mood"}, "metric_type"),
        ({"metric_type": "steps", "period": "year"}, "period"),
        (
            {
                "metric_type": "steps",
                "start": "2026-03-02T00:00:00Z",
                "end": "2026-03-01T00:00:00Z",
            },
            "end",
        ),
        (
            {
                "metric_type": "steps",
                "period": "hour",
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-03-01T00:00:00Z",
            },
            "start",
        ),
    ],
)
def test_aggregates_reject_bad_queries(auth_client, query, field):
    response = auth_client.get("/api/v1/health-metrics/aggregates", query)
    assert response.status_code == 400 and field in response.json()


def test_aggregates_of_another_user_are_404(auth_client, other_user):
    response = auth_client.get(
        "/api/v1/health-metrics/aggregates", {"metric_type": "steps", "user_id": other_user.pk}
    )
    assert response.status_code == 404


def test_series_latest_and_summary_contract(data):
    user = data
    today = timezone.now().astimezone(UTC).date()
    series = daily_series(
        user_id=user.pk, metric_type="steps", start=today - timedelta(days=2), end=today
    )
    assert series == {
        today - timedelta(days=2): 6000,
        today - timedelta(days=1): 9000,
        today: 3000,
    }
    assert all(isinstance(k, date) for k in series)
    at, value = latest.latest_value(user_id=user.pk, metric_type="weight")
    assert value == 79.5 and at.tzinfo is not None
    assert latest.latest_value(user_id=user.pk, metric_type="sleep") is None
    assert summary(user_id=user.pk, days=3)["metrics"]["steps"]["count"] == 3


def test_queryset_api(data):
    from metrics.models import HealthMetric

    user = data
    qs = HealthMetric.objects.for_user(user).of_type("steps").between(today_at(2, 0), None)
    assert qs.count() == 3
    assert HealthMetric.objects.for_user(user.pk).of_type("steps", "weight").count() == 6


def test_dedup_is_visible_in_the_summary(auth_client, user):
    watch = DeviceFactory(user=user, device_type="apple_watch")
    phone = DeviceFactory(user=user, device_type="iphone")
    start = today_at(0, 0, 0)
    for device, value in [(watch, 1000), (phone, 900)]:
        services.metric_create(
            user=user,
            metric_type="steps",
            value=value,
            recorded_at=start,
            end_at=start + timedelta(minutes=30),
            device=device,
        )
    steps = auth_client.get("/api/v1/health-metrics/summary", {"days": 1}).json()["metrics"][
        "steps"
    ]
    assert steps["today"]["value"] == 1000 and steps["count"] == 2
    assert steps["average"] is None  # today is in progress: no finished day yet


def test_summary_without_data_is_empty(auth_client):
    body = auth_client.get("/api/v1/health-metrics/summary").json()
    assert body["days"] == 30 and body["metrics"] == {}


def test_summary_average_is_the_7_day_average_of_finished_days_not_todays_partial_day(
    auth_client, user
):
    """Issue 16: a partial "today" (427 steps) was averaged as a full day. The summary's
    average is the one N-day average (`metrics.averages`): the 7 finished days before today."""
    daily = {days_ago: 8000 + 100 * days_ago for days_ago in range(1, 8)}
    for days_ago, total in {**daily, 0: 427}.items():
        services.metric_create(
            user=user, metric_type="steps", value=total, recorded_at=today_at(days_ago, 0, 30)
        )
    body = auth_client.get("/api/v1/health-metrics/summary", {"days": 7}).json()
    steps = body["metrics"]["steps"]
    today = timezone.now().astimezone(UTC).date()
    by_day = {today - timedelta(days=n): v for n, v in daily.items()}
    first, last = averages.finished_window(today=today, days=7)
    finished = {d: v for d, v in by_day.items() if first <= d <= last}
    assert steps["average"] == averages.average_of_days(finished) == 8400
    assert (steps["min"], steps["max"]) == (8100, 8700)  # 427 is no day's total yet
    assert steps["today"] == {"date": today.isoformat(), "value": 427, "in_progress": True}
    assert (body["finished_start"], body["finished_end"]) == (
        (today - timedelta(days=7)).isoformat(),
        (today - timedelta(days=1)).isoformat(),
    )
    assert [p["date"] for p in steps["series"] if p["in_progress"]] == [today.isoformat()]


def test_aggregates_mark_the_week_and_month_in_progress(auth_client, data):
    for period in ("week", "month"):
        body = auth_client.get(
            "/api/v1/health-metrics/aggregates", {"metric_type": "steps", "period": period}
        ).json()
        assert body["results"] and body["results"][-1]["in_progress"] is True
        assert not any(r["in_progress"] for r in body["results"][:-1])
