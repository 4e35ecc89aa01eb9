from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nutrition.models import NutritionTargets
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs/daily"
EMPTY = {
    "calories": None,
    "protein_g": None,
    "carbs_g": None,
    "fat_g": None,
    "fiber_g": None,
    "sugar_g": None,
    "sodium_mg": None,
    "water_ml": None,
}


def log(user, when: datetime, **amounts):
    return NutritionLogFactory(user=user, logged_at=when, **{**EMPTY, **amounts})


@pytest.fixture
def diary(user, other_user):
    utc = UTC
    log(user, datetime(2026, 3, 10, 8, 0, tzinfo=utc), calories=400, protein_g=20, carbs_g=50,
        fat_g=10, fiber_g=5, sugar_g=12, sodium_mg=300)  # fmt: skip
    log(user, datetime(2026, 3, 10, 12, 30, tzinfo=utc), calories=650.5, protein_g=30.2,
        carbs_g=70, fat_g=25, fiber_g=8, sugar_g=6, sodium_mg=900)  # fmt: skip
    log(user, datetime(2026, 3, 10, 15, 0, tzinfo=utc), water_ml=500)
    log(user, datetime(2026, 3, 10, 23, 59, 59, tzinfo=utc), calories=100)
    # 01:30 at UTC+2 is 23:30 UTC the day before: days are UTC days.
    log(user, datetime(2026, 3, 11, 1, 30, tzinfo=timezone(timedelta(hours=2))), calories=50)
    log(user, datetime(2026, 3, 11, 0, 0, tzinfo=utc), calories=0, water_ml=250)
    log(user, datetime(2026, 3, 9, 23, 59, tzinfo=utc), calories=999)  # before the range
    log(user, datetime(2026, 3, 13, 0, 0, tzinfo=utc), calories=999)  # after the range
    log(other_user, datetime(2026, 3, 10, 12, 0, tzinfo=utc), calories=777, water_ml=777)


def test_daily_totals_match_hand_computed_sums(auth_client, diary):
    response = auth_client.get(URL, {"start": "2026-03-10", "end": "2026-03-12"})
    assert response.status_code == 200, response.json()
    days = response.json()["days"]
    assert days == [
        {
            "date": "2026-03-10",
            "entries": 5,
            "calories": 1200.5,  # 400 + 650.5 + 100 + 50
            "protein_g": 50.2,  # 20 + 30.2
            "carbs_g": 120.0,
            "fat_g": 35.0,
            "fiber_g": 13.0,
            "sugar_g": 18.0,
            "sodium_mg": 1200.0,
            "water_ml": 500.0,
        },
        {
            "date": "2026-03-11",
            "entries": 1,
            "calories": 0.0,
            "protein_g": 0.0,
            "carbs_g": 0.0,
            "fat_g": 0.0,
            "fiber_g": 0.0,
            "sugar_g": 0.0,
            "sodium_mg": 0.0,
            "water_ml": 250.0,
        },
        {
            "date": "2026-03-12",
            "entries": 0,
            "calories": 0.0,
            "protein_g": 0.0,
            "carbs_g": 0.0,
            "fat_g": 0.0,
            "fiber_g": 0.0,
            "sugar_g": 0.0,
            "sodium_mg": 0.0,
            "water_ml": 0.0,
        },
    ]


def test_daily_totals_come_with_the_targets(auth_client, user, diary):
    data = auth_client.get(URL, {"start": "2026-03-10", "end": "2026-03-12"}).json()
    assert data["user_id"] == user.pk
    assert (data["start"], data["end"]) == ("2026-03-10", "2026-03-12")
    # No weight recorded (the metrics app has no HealthMetric yet): no calorie or protein target.
    assert data["targets"]["calories"] is None
    assert data["targets"]["protein_g"] is None
    assert data["targets"]["water_ml"] == 2000
    assert data["targets"]["basis"]["missing"] == ["weight_kg"]


def test_daily_targets_use_the_latest_weight_and_overrides(auth_client, user, monkeypatch):
    monkeypatch.setattr("nutrition.api.views.latest_weight_kg", lambda owner: 60.0)
    NutritionTargets.objects.create(user=user, water_ml=2500)
    data = auth_client.get(URL, {"start": "2026-03-10", "end": "2026-03-12"}).json()
    # Factory user: female, 170 cm, born 1985-03-14, so 40 on 2026-03-12.
    # BMR = 10*60 + 6.25*170 - 5*40 - 161 = 1301.5; x 1.4 = 1822.1.
    assert data["targets"]["calories"] == 1822
    assert data["targets"]["protein_g"] == 48.0
    assert data["targets"]["water_ml"] == 2500
    assert data["targets"]["sources"] == {
        "calories": "mifflin_st_jeor",
        "protein_g": "0.8_g_per_kg",
        "water_ml": "override",
    }


def test_default_range_is_the_last_seven_days(auth_client):
    data = auth_client.get(URL).json()
    assert len(data["days"]) == 7
    assert data["days"][-1]["date"] == data["end"]


def test_a_whole_leap_year_is_allowed(auth_client):
    response = auth_client.get(URL, {"start": "2024-01-01", "end": "2024-12-31"})
    assert response.status_code == 200
    assert len(response.json()["days"]) == 366


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-30", "end": "2026-03-05"}, "start"),
        ({"start": "2026-03-01", "end": "March"}, "end"),
        ({"start": "2026-03-10", "end": "2026-03-09"}, "start"),
        ({"start": "2024-01-01", "end": "2025-01-01"}, "end"),  # 367 days
        ({"user_id": "me"}, "user_id"),
    ],
)
def test_bad_ranges_are_refused(auth_client, params, field):
    response = auth_client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_daily_query_count_is_small(auth_client, diary, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the totals and the user's own targets
        assert auth_client.get(URL, {"start": "2026-01-01", "end": "2026-12-31"}).status_code == 200
