from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from django.utils import timezone as dj_timezone

from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.insights.helpers import at, measure, utc_today

pytestmark = pytest.mark.django_db

WATER, GYM, FOOD = "/api/v1/advice/water", "/api/v1/advice/gym", "/api/v1/advice/food"


def post(client, path, body):
    return client.post(path, body, format="json")


@pytest.fixture
def two_pm():
    """Now is 14:00 UTC today."""
    moment = at(utc_today(), 14)
    with mock.patch.object(dj_timezone, "now", return_value=moment):
        yield moment


# --- water ----------------------------------------------------------------------------------


def test_water_is_logged_and_advised(auth_client, user, two_pm):
    post(auth_client, WATER, {"amount_liters": 0.7})
    response = post(auth_client, WATER, {"amount_liters": 0.5})
    assert response.status_code == 201, response.json()
    assert response.json()["message"] == (
        "1.2 L so far; 0.8 L to go today — four more glasses by 6 pm."
    )
    log = NutritionLog.objects.get(pk=response.json()["entry"]["id"])
    assert (log.user, log.meal_type, log.water_ml, log.logged_at) == (user, "drink", 500, two_pm)


def test_water_clock_times_follow_the_offset_of_time(auth_client, two_pm):
    plus_two = two_pm.astimezone(timezone(timedelta(hours=2)))  # 16:00 local
    response = post(auth_client, WATER, {"amount_liters": 1.2, "time": plus_two.isoformat()})
    assert response.json()["message"].endswith("four more glasses by 8 pm.")


def test_water_uses_the_users_own_target(auth_client, user, two_pm):
    auth_client.put("/api/v1/nutrition-targets", {"water_ml": 3000}, format="json")
    response = post(auth_client, WATER, {"amount_liters": 2.5})
    assert response.json()["message"].startswith("2.5 L so far; 0.5 L to go today")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "amount_liters"),
        ({"amount_liters": 0}, "amount_liters"),
        ({"amount_liters": 10.5}, "amount_liters"),
        ({"amount_liters": "lots"}, "amount_liters"),
        ({"amount_liters": 1, "time": "yesterday"}, "time"),
        ({"amount_liters": 1, "time": "2026-03-01T10:00:00"}, "time"),
        ({"amount_liters": 1, "time": "2000-03-01T10:00:00Z"}, "time"),
    ],
)
def test_water_bad_input_is_400_and_logs_nothing(auth_client, body, field):
    response = post(auth_client, WATER, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not NutritionLog.objects.exists()


def test_water_in_the_future_is_400(auth_client):
    later = dj_timezone.now() + timedelta(hours=2)
    response = post(auth_client, WATER, {"amount_liters": 1, "time": later.isoformat()})
    assert response.status_code == 400 and "time" in response.json()


# --- gym ------------------------------------------------------------------------------------


def test_gym_logs_an_exercise_measurement_and_advises(auth_client, user, two_pm):
    measure(user, "exercise", 30, utc_today() - timedelta(days=3))
    measure(user, "exercise", 20, utc_today() - timedelta(days=8))  # not in the last 7 days
    response = post(auth_client, GYM, {"activity": "Running", "duration_minutes": 45})
    assert response.status_code == 201, response.json()
    assert response.json()["message"] == (
        "45 min of running logged; 75 of 150 min in 7 days. 75 min to go — about two more like "
        "this."
    )
    metric = HealthMetric.objects.get(pk=response.json()["entry"]["id"])
    assert metric.user == user and metric.metric_type == "exercise" and metric.value == 45
    assert metric.end_at == two_pm and metric.recorded_at == two_pm - timedelta(minutes=45)
    assert metric.metadata == {"activity": "running"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"activity": "running"}, "duration_minutes"),
        ({"activity": "running", "duration_minutes": 0}, "duration_minutes"),
        ({"activity": "running", "duration_minutes": 1441}, "duration_minutes"),
        ({"activity": "", "duration_minutes": 30}, "activity"),
        ({"activity": "<script>", "duration_minutes": 30}, "activity"),
        ({"activity": "x" * 41, "duration_minutes": 30}, "activity"),
    ],
)
def test_gym_bad_input_is_400(auth_client, body, field):
    response = post(auth_client, GYM, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not HealthMetric.objects.exists()


# --- food -----------------------------------------------------------------------------------


def test_food_matched_to_the_catalogue(auth_client, user, two_pm):
    response = post(auth_client, FOOD, {"meal": "breakfast", "food": "oatmeal with berries"})
    assert response.status_code == 201, response.json()
    entry = response.json()["entry"]
    assert entry["food"] == "Oatmeal, cooked with water" and entry["grams"] == 100
    log = NutritionLog.objects.get(pk=entry["id"])
    assert log.description == "oatmeal with berries" and log.meal_type == "breakfast"
    assert log.calories == entry["calories"] > 0
    # the factory user has no weight: no calorie target, and the message says what is missing
    assert response.json()["message"] == (
        f"{round(log.calories)} kcal logged; {round(log.calories)} kcal today. Add a weight to "
        f"get a daily calorie target."
    )


def test_food_with_grams_and_a_known_target(auth_client, user, two_pm):
    measure(user, "weight", 70, utc_today() - timedelta(days=2))
    response = post(auth_client, FOOD, {"meal": "lunch", "food": "brown rice", "grams": 200})
    assert response.status_code == 201, response.json()
    entry = response.json()["entry"]
    assert entry["food"].startswith("Rice, brown") and entry["grams"] == 200
    assert " of " in response.json()["message"] and "kcal today" in response.json()["message"]


def test_food_with_calories_is_a_custom_entry(auth_client, user, two_pm):
    response = post(
        auth_client, FOOD, {"meal": "dinner", "food": "grandma's lasagne", "calories": 650}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["entry"]["food"] is None
    log = NutritionLog.objects.get(pk=response.json()["entry"]["id"])
    assert log.food is None and log.calories == 650


def test_unmatched_food_without_calories_is_400_and_logs_nothing(auth_client):
    response = post(auth_client, FOOD, {"meal": "lunch", "food": "chicken salad"})
    assert response.status_code == 400
    assert "calories" in response.json()
    assert not NutritionLog.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"food": "apple"}, "meal"),
        ({"meal": "brunch", "food": "apple"}, "meal"),
        ({"meal": "lunch"}, "food"),
        ({"meal": "lunch", "food": "apple", "grams": 0}, "grams"),
        ({"meal": "lunch", "food": "apple", "calories": -5}, "calories"),
        ({"meal": "lunch", "food": "x" * 201}, "food"),
    ],
)
def test_food_bad_input_is_400(auth_client, body, field):
    response = post(auth_client, FOOD, body)
    assert response.status_code == 400
    assert field in response.json()


# --- everyone logs only for themselves ------------------------------------------------------


@pytest.mark.parametrize("path", [WATER, GYM, FOOD])
def test_advice_needs_authentication(api_client, path):
    assert post(api_client, path, {}).status_code == 401


def test_advice_writes_only_the_callers_data(auth_client, user, other_user, two_pm):
    refused = post(
        auth_client, WATER, {"amount_liters": 1, "user_id": other_user.pk, "user": other_user.pk}
    )
    assert refused.status_code == 400
    assert "Unknown fields: 'user', 'user_id'." in refused.json()["unknown_field"][0]
    assert not NutritionLog.objects.exists()
    post(auth_client, WATER, {"amount_liters": 1})
    assert NutritionLog.objects.get().user == user


def test_todays_totals_are_the_callers_only(auth_client, other_client, two_pm):
    post(other_client, WATER, {"amount_liters": 1.5})
    response = post(auth_client, WATER, {"amount_liters": 0.5})
    assert response.json()["message"].startswith("0.5 L so far")


def test_the_schema_describes_the_new_endpoints(auth_client):
    paths = auth_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (WATER, GYM, FOOD):
        assert "post" in paths[path]
    assert "get" in paths["/api/v1/recommendations/{user_id}"]
    assert "get" in paths["/api/v1/recommendations/cache-stats"]
    params = {p["name"] for p in paths["/api/v1/recommendations/{user_id}"]["get"]["parameters"]}
    assert {"days", "use_cache"} <= params


def test_utc_fixture_sanity(two_pm):
    assert two_pm.tzinfo == UTC and datetime.now(UTC) >= two_pm - timedelta(days=1)
