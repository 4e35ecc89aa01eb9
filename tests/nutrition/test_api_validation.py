"""Every bad input: 400 naming the field, and nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from nutrition.models import Food, NutritionLog
from nutrition.validation import AMOUNT_BOUNDS
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs"
VALID = {"meal_type": "lunch", "calories": 500, "logged_at": "2026-03-10T12:00:00Z"}


def post_raw(client, raw: str):
    return client.post(URL, raw, content_type="application/json")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"calories": -1}, "calories"),
        ({"protein_g": -0.1}, "protein_g"),
        ({"carbs_g": -5}, "carbs_g"),
        ({"fat_g": -5}, "fat_g"),
        ({"fiber_g": -1}, "fiber_g"),
        ({"sugar_g": -1}, "sugar_g"),
        ({"sodium_mg": -1}, "sodium_mg"),
        ({"water_ml": -250}, "water_ml"),
        ({"calories": 10_000.1}, "calories"),
        ({"water_ml": 10_001}, "water_ml"),
        ({"protein_g": AMOUNT_BOUNDS["protein_g"] + 1}, "protein_g"),
        ({"carbs_g": AMOUNT_BOUNDS["carbs_g"] + 1}, "carbs_g"),
        ({"fat_g": AMOUNT_BOUNDS["fat_g"] + 1}, "fat_g"),
        ({"fiber_g": AMOUNT_BOUNDS["fiber_g"] + 1}, "fiber_g"),
        ({"sugar_g": AMOUNT_BOUNDS["sugar_g"] + 1}, "sugar_g"),
        ({"sodium_mg": AMOUNT_BOUNDS["sodium_mg"] + 1}, "sodium_mg"),
        ({"calories": "NaN"}, "calories"),
        ({"calories": "Infinity"}, "calories"),
        ({"water_ml": "-Infinity"}, "water_ml"),
        ({"calories": "lots"}, "calories"),
        ({"calories": True}, "calories"),
        ({"calories": None}, "calories"),
        ({"meal_type": "brunch"}, "meal_type"),
        ({"meal_type": None}, "meal_type"),
        ({"food": 999_999, "grams": 100}, "food"),
        ({"food": "rice"}, "food"),
        ({"grams": 100}, "food"),
        ({"logged_at": "2026-03-10T12:00:00"}, "logged_at"),
        ({"logged_at": "10/03/2026"}, "logged_at"),
        ({"logged_at": "1999-12-31T12:00:00Z"}, "logged_at"),
        ({"description": "x" * 1001}, "description"),
    ],
)
def test_bad_input_is_refused_naming_the_field(auth_client, changes, field):
    body = {**VALID, **changes}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not NutritionLog.objects.exists()


def test_neither_calories_nor_water_is_refused(auth_client):
    body = {"meal_type": "lunch", "protein_g": 30, "logged_at": "2026-03-10T12:00:00Z"}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"calories", "water_ml"}
    assert not NutritionLog.objects.exists()


def test_missing_required_fields_are_named(auth_client):
    response = auth_client.post(URL, {"calories": 100}, format="json")
    assert response.status_code == 400
    assert {"meal_type", "logged_at"} <= set(response.json())


def test_a_food_without_grams_is_refused(auth_client):
    rice = Food.objects.get(name="Rice, white, long-grain, cooked")
    body = {**VALID, "food": rice.pk}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "grams" in response.json()
    assert not NutritionLog.objects.exists()


@pytest.mark.parametrize("grams", [-10, 5_001, "NaN"])
def test_bad_grams_are_refused(auth_client, grams):
    rice = Food.objects.get(name="Rice, white, long-grain, cooked")
    body = {**VALID, "food": rice.pk, "grams": grams}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "grams" in response.json()
    assert not NutritionLog.objects.exists()


def test_a_portion_over_the_calorie_bound_is_refused(auth_client):
    oil = Food.objects.get(name="Olive oil")  # 884 kcal per 100 g: 2 kg is 17,680 kcal
    body = {**VALID, "food": oil.pk, "grams": 2_000}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "grams" in response.json()
    assert "17680" not in response.content.decode()  # no health values in error messages
    assert not NutritionLog.objects.exists()


def test_a_time_in_the_future_is_refused(auth_client):
    later = (timezone.now() + timedelta(hours=3)).isoformat()
    response = auth_client.post(URL, {**VALID, "logged_at": later}, format="json")
    assert response.status_code == 400
    assert "logged_at" in response.json()


@pytest.mark.parametrize(
    "raw", ['{"meal_type": "lunch", "calories": 1e999, "logged_at": "2026-03-10T12:00:00Z"}']
)
def test_a_json_number_overflowing_to_infinity_is_refused(auth_client, raw):
    response = post_raw(auth_client, raw)
    assert response.status_code == 400
    assert "calories" in response.json()
    assert not NutritionLog.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        # Bare NaN / Infinity are not JSON: the parser refuses the body before any field.
        '{"meal_type": "lunch", "calories": NaN, "logged_at": "2026-03-10T12:00:00Z"}',
        '{"meal_type": "lunch", "calories": Infinity, "logged_at": "2026-03-10T12:00:00Z"}',
        '{"meal_type": "lunch", "calories": 500,',
        "not json",
    ],
)
def test_malformed_json_is_refused(auth_client, raw):
    response = post_raw(auth_client, raw)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not NutritionLog.objects.exists()


def test_an_empty_body_names_the_required_fields(auth_client):
    response = post_raw(auth_client, "")
    assert response.status_code == 400
    assert {"meal_type", "logged_at"} <= set(response.json())
    assert not NutritionLog.objects.exists()


def test_a_json_list_body_is_refused(auth_client):
    response = post_raw(auth_client, "[1, 2]")
    assert response.status_code == 400
    assert not NutritionLog.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"calories": -1}, "calories"),
        ({"calories": None}, "calories"),
        ({"water_ml": 20_000}, "water_ml"),
        ({"logged_at": "2026-03-10T12:00:00"}, "logged_at"),
        ({"grams": 100}, "food"),
        ({"food": 999_999}, "food"),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(auth_client, user, changes, field):
    log = NutritionLogFactory(user=user, calories=500)
    response = auth_client.patch(f"{URL}/{log.pk}", changes, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    log.refresh_from_db()
    assert log.calories == 500 and log.food is None and log.water_ml is None


def test_bad_put_is_refused_and_changes_nothing(auth_client, user):
    log = NutritionLogFactory(user=user, calories=500)
    body = {"meal_type": "dinner", "logged_at": "2026-03-11T12:00:00Z"}  # neither kcal nor water
    response = auth_client.put(f"{URL}/{log.pk}", body, format="json")
    assert response.status_code == 400
    assert "calories" in response.json()
    log.refresh_from_db()
    assert (log.meal_type, log.calories) == ("lunch", 500)
