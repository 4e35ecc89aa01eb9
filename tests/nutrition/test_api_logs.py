from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from nutrition.models import Food, NutritionLog
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def test_patient_logs_a_custom_meal(auth_client, user):
    body = {
        "meal_type": "lunch",
        "description": "Grandma's stew",
        "calories": 640,
        "protein_g": 32.5,
        "carbs_g": 55,
        "fat_g": 28,
        "fiber_g": 9,
        "sugar_g": 6,
        "sodium_mg": 900,
        "logged_at": "2026-03-10T12:30:00+01:00",
    }
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["user"] == user.pk
    assert data["calories"] == 640
    assert data["protein_g"] == 32.5
    assert data["water_ml"] is None
    assert data["food"] is None and data["grams"] is None
    assert data["logged_at"] == "2026-03-10T11:30:00Z"
    log = NutritionLog.objects.get(pk=data["id"])
    assert log.user == user and log.description == "Grandma's stew"


def test_water_alone_is_a_valid_entry(auth_client):
    body = {"meal_type": "drink", "water_ml": 500, "logged_at": "2026-03-10T09:00:00Z"}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["calories"] is None
    assert response.json()["water_ml"] == 500


def test_logging_a_food_by_grams_fills_in_every_nutrient(auth_client):
    banana = Food.objects.get(name="Banana, raw")
    body = {"meal_type": "snack", "food": banana.pk, "grams": 150, "logged_at": "2026-03-10T15:00Z"}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    # Banana per 100 g: 89 kcal, 1.09 protein, 22.84 carbs, 0.33 fat, 2.6 fiber, 12.23 sugar,
    # 1 mg sodium; x 1.5, rounded to 0.1.
    assert data["calories"] == 133.5
    assert data["protein_g"] == 1.6
    assert data["carbs_g"] == 34.3
    assert data["fat_g"] == 0.5
    assert data["fiber_g"] == 3.9
    assert data["sugar_g"] == 18.3
    assert data["sodium_mg"] == 1.5
    assert data["food_name"] == "Banana, raw"


def test_values_sent_with_a_food_are_replaced_by_the_catalogue_figures(auth_client):
    oil = Food.objects.get(name="Olive oil")
    body = {
        "meal_type": "dinner",
        "food": oil.pk,
        "grams": 10,
        "calories": 5,
        "water_ml": 200,
        "logged_at": "2026-03-10T19:00Z",
    }
    data = auth_client.post(URL, body, format="json").json()
    assert data["calories"] == 88.4
    assert data["fat_g"] == 10.0
    assert data["water_ml"] == 200  # not a catalogue figure: kept


def test_get_returns_own_entry(auth_client, user):
    log = NutritionLogFactory(user=user)
    response = auth_client.get(f"{URL}/{log.pk}")
    assert response.status_code == 200
    assert response.json()["description"] == "Soup and bread"


def test_trailing_slash_is_optional(auth_client, user):
    log = NutritionLogFactory(user=user)
    assert auth_client.get(f"{URL}/{log.pk}/").status_code == 200
    assert auth_client.get(f"{URL}/").status_code == 200


def test_put_replaces_the_entry(auth_client, user):
    log = NutritionLogFactory(user=user, calories=500, protein_g=20)
    body = {"meal_type": "dinner", "water_ml": 250, "logged_at": "2026-03-11T19:00:00Z"}
    response = auth_client.put(f"{URL}/{log.pk}", body, format="json")
    assert response.status_code == 200, response.json()
    log.refresh_from_db()
    assert (log.meal_type, log.calories, log.protein_g, log.water_ml) == ("dinner", None, None, 250)
    assert log.description == ""


def test_patch_changes_only_what_is_sent(auth_client, user):
    log = NutritionLogFactory(user=user, calories=500, protein_g=20)
    response = auth_client.patch(f"{URL}/{log.pk}", {"calories": 450}, format="json")
    assert response.status_code == 200, response.json()
    log.refresh_from_db()
    assert (log.calories, log.protein_g, log.meal_type) == (450, 20, "lunch")


def test_patching_grams_recomputes_the_nutrients(auth_client, user):
    rice = Food.objects.get(name="Rice, white, long-grain, cooked")
    created = auth_client.post(
        URL,
        {"meal_type": "dinner", "food": rice.pk, "grams": 100, "logged_at": "2026-03-10T19:00Z"},
        format="json",
    ).json()
    assert created["calories"] == 130
    response = auth_client.patch(f"{URL}/{created['id']}", {"grams": 250}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["calories"] == 325
    assert response.json()["carbs_g"] == 70.4


def test_a_food_entry_can_become_a_custom_entry(auth_client, user):
    rice = Food.objects.get(name="Rice, white, long-grain, cooked")
    created = auth_client.post(
        URL,
        {"meal_type": "dinner", "food": rice.pk, "grams": 100, "logged_at": "2026-03-10T19:00Z"},
        format="json",
    ).json()
    response = auth_client.patch(
        f"{URL}/{created['id']}", {"food": None, "grams": None, "calories": 150}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["food"] is None
    assert response.json()["calories"] == 150


def test_delete_removes_the_entry(auth_client, user):
    log = NutritionLogFactory(user=user)
    assert auth_client.delete(f"{URL}/{log.pk}").status_code == 204
    assert not NutritionLog.objects.filter(pk=log.pk).exists()


def test_list_is_own_entries_newest_first(auth_client, user, other_user):
    old = NutritionLogFactory(user=user, logged_at=at(1))
    new = NutritionLogFactory(user=user, logged_at=at(3))
    middle = NutritionLogFactory(user=user, logged_at=at(2))
    NutritionLogFactory(user=other_user, logged_at=at(2))
    response = auth_client.get(URL)
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [new.pk, middle.pk, old.pk]


def test_list_pages_with_a_cursor(auth_client, user):
    logs = [NutritionLogFactory(user=user, logged_at=at(day)) for day in range(1, 6)]
    expected = [log.pk for log in reversed(logs)]
    first = auth_client.get(URL, {"page_size": 2}).json()
    second = auth_client.get(first["next"]).json()
    third = auth_client.get(second["next"]).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert seen == expected
    assert third["next"] is None


def test_list_filters_by_day_range_and_meal_type(auth_client, user):
    NutritionLogFactory(user=user, logged_at=at(1, 23), meal_type="dinner")
    lunch = NutritionLogFactory(user=user, logged_at=at(2, 0), meal_type="lunch")
    dinner = NutritionLogFactory(user=user, logged_at=at(3, 23), meal_type="dinner")
    NutritionLogFactory(user=user, logged_at=at(4, 0), meal_type="dinner")

    in_range = auth_client.get(URL, {"start": "2026-03-02", "end": "2026-03-03"}).json()
    assert [r["id"] for r in in_range["results"]] == [dinner.pk, lunch.pk]
    dinners = auth_client.get(
        URL, {"start": "2026-03-02", "end": "2026-03-03", "meal_type": "dinner"}
    ).json()
    assert [r["id"] for r in dinners["results"]] == [dinner.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"meal_type": "brunch"}, "meal_type"),
    ],
)
def test_list_refuses_bad_filters(auth_client, params, field):
    response = auth_client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_user_route_lists_own_diary(auth_client, user):
    log = NutritionLogFactory(user=user)
    response = auth_client.get(f"{URL}/user/{user.pk}")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [log.pk]


def test_anonymous_is_refused(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.get(f"{URL}/daily").status_code == 401
    assert api_client.get("/api/v1/foods").status_code == 401


def test_list_query_count_does_not_grow_with_rows(auth_client, user):
    rice = Food.objects.get(name="Rice, white, long-grain, cooked")
    NutritionLogFactory.create_batch(3, user=user, food=rice, grams=100)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert auth_client.get(URL).status_code == 200
        return len(queries)

    few = count()
    NutritionLogFactory.create_batch(30, user=user, food=rice, grams=100)
    assert count() == few
    assert few == 1  # one SELECT joining the food; cursor pagination needs no COUNT


def test_schema_describes_every_nutrition_endpoint(auth_client):
    response = auth_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/nutrition-logs"]) == {"get", "post"}
    assert set(paths["/api/v1/nutrition-logs/{id}"]) == {"get", "put", "patch", "delete"}
    for path in (
        "/api/v1/nutrition-logs/user/{user_id}",
        "/api/v1/nutrition-logs/daily",
        "/api/v1/foods",
        "/api/v1/nutrition-targets",
    ):
        assert "get" in paths[path]
    user_list = paths["/api/v1/nutrition-logs/user/{user_id}"]["get"]
    assert {"start", "end", "meal_type", "cursor"} <= {p["name"] for p in user_list["parameters"]}
