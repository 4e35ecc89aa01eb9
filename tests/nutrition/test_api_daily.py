from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import time_machine
from rest_framework.renderers import JSONRenderer

from nutrition.api.serializers import DailyTotalsSerializer, daily_totals_data
from nutrition.models import NutritionLog, NutritionTargets, daily_totals_of
from nutrition.targets import calculate_targets
from nutrition.validation import AMOUNT_FIELDS
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


# --- The statement and the answer built directly (issue 15) ---------------------------------
# The view reads the totals with `daily_totals_of` (plain SQL) and builds the answer with
# `daily_totals_data`: both must give exactly what the QuerySet and the serializer give.


@pytest.mark.parametrize(
    "zone", ["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Kolkata"]
)
def test_the_totals_statement_gives_the_querysets_rows(user, other_user, zone):
    tz = zoneinfo.ZoneInfo(zone)
    start = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)  # the range spans the US clock change
    for hours in range(0, 24 * 6, 7):
        log(
            user,
            start + timedelta(hours=hours, minutes=hours % 50),
            calories=hours * 10.3,
            protein_g=1.1,
            sodium_mg=hours or None,
            water_ml=None if hours % 3 else 250,
        )
    log(other_user, start + timedelta(days=1), calories=999, water_ml=999)
    first, last = date(2026, 3, 7), date(2026, 3, 11)
    expected = list(NutritionLog.objects.for_user(user, tz=tz).on_days(first, last).daily_totals())
    got = daily_totals_of(user.pk, first, last, tz)
    assert list(got.values()) == expected
    assert list(got) == [row["day"] for row in expected]
    assert daily_totals_of(user.pk, date(2026, 4, 1), date(2026, 4, 2), tz) == {}


TARGETS = [
    calculate_targets(age=None, sex=None, height_cm=None, weight_kg=None, activity=1.4),
    calculate_targets(age=40, sex="female", height_cm=170.0, weight_kg=60.0, activity=1.4),
    calculate_targets(
        age=40,
        sex="male",
        height_cm=181.5,
        weight_kg=80.25,
        activity=1.55,
        calories_override=2100,
        protein_override=90,
        water_override=2500,
    ),
]


@pytest.mark.parametrize("targets", TARGETS)
def test_the_answer_is_what_the_serializer_renders(targets):
    body = {
        "user_id": 42,
        "start": date(2026, 3, 10),
        "end": date(2026, 3, 12),
        "targets": targets,
        "days": [
            {"date": date(2026, 3, 10), "entries": 3, **dict.fromkeys(AMOUNT_FIELDS, 0)},
            {"date": date(2026, 3, 11), "entries": 1, **dict.fromkeys(AMOUNT_FIELDS, 12.3)},
            {"date": date(2026, 3, 12), "entries": 2, **dict.fromkeys(AMOUNT_FIELDS, 1050)},
        ],
    }
    expected = JSONRenderer().render(DailyTotalsSerializer(body).data)
    assert JSONRenderer().render(daily_totals_data(body)) == expected


def test_the_default_range_ends_on_the_owners_today_even_ahead_of_utc(auth_client, user):
    user.time_zone = "Pacific/Kiritimati"  # UTC+14: at 21:00 UTC it is already tomorrow there
    user.save(update_fields=["time_zone"])
    with time_machine.travel(datetime(2026, 3, 10, 21, 0, tzinfo=UTC), tick=False):
        log(user, datetime(2026, 3, 10, 20, 0, tzinfo=UTC), water_ml=300)  # 10:00 on the 11th
        response = auth_client.get(URL, {"start": "2026-03-11"})
    assert response.status_code == 200  # the owner's today, not a start after "end"
    body = response.json()
    assert (body["start"], body["end"]) == ("2026-03-11", "2026-03-11")
    assert [(d["date"], d["water_ml"]) for d in body["days"]] == [("2026-03-11", 300.0)]


def test_an_empty_parameter_is_still_checked_and_others_are_ignored(auth_client):
    assert "start" in auth_client.get(URL, {"start": ""}).json()
    plain, other = auth_client.get(URL).json(), auth_client.get(URL, {"page": "2"}).json()
    assert plain == other and len(plain["days"]) == 7
