from __future__ import annotations

import math

import pytest
from django.db.models import ProtectedError

from nutrition.catalogue import load_foods, read_foods
from nutrition.models import Food
from nutrition.validation import PER_100G_BOUNDS
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/foods"


def names(response) -> list[str]:
    return [food["name"] for food in response.json()["results"]]


def test_the_catalogue_is_loaded_by_the_migration():
    assert Food.objects.count() == len(read_foods()) >= 150


def test_every_catalogue_row_is_plausible():
    rows = read_foods()
    assert len({row["name"].lower() for row in rows}) == len(rows)
    categories = set(Food.Category.values)
    for row in rows:
        assert row["category"] in categories, row["name"]
        for field, bound in PER_100G_BOUNDS.items():
            assert math.isfinite(row[field]) and 0 <= row[field] <= bound, (row["name"], field)
        assert row["protein_g"] + row["carbs_g"] + row["fat_g"] <= 100.5, row["name"]
        # Energy from the macros (4/4/9 kcal per g) is near the stated energy, except drinks
        # with alcohol and foods whose figures use specific Atwater factors.
        estimate = 4 * row["protein_g"] + 4 * row["carbs_g"] + 9 * row["fat_g"]
        if row["calories"] >= 50 and row["category"] != "beverage":
            assert abs(estimate - row["calories"]) <= 0.25 * row["calories"], row["name"]


def test_search_is_case_insensitive(auth_client):
    lower = names(auth_client.get(URL, {"search": "banana"}))
    upper = names(auth_client.get(URL, {"search": "BaNaNa"}))
    assert lower == upper == ["Banana, raw"]


def test_search_needs_every_word(auth_client):
    found = names(auth_client.get(URL, {"search": "chicken roasted skinless"}))
    assert found == [
        "Chicken breast, skinless, roasted",
        "Chicken drumstick, skinless, roasted",
        "Chicken thigh, skinless, roasted",
    ]


def test_names_starting_with_the_word_come_first(auth_client):
    found = names(auth_client.get(URL, {"search": "rice"}))
    assert found[0].startswith("Rice")
    assert "Noodles, rice, cooked" in found
    assert found.index("Noodles, rice, cooked") > found.index("Rice, white, long-grain, cooked")


def test_search_returns_amounts_per_100g(auth_client):
    result = auth_client.get(URL, {"search": "olive oil"}).json()["results"][0]
    assert result["name"] == "Olive oil"
    assert result["category"] == "fat_condiment"
    assert result["per_100g"] == {
        "calories": 884.0,
        "protein_g": 0.0,
        "carbs_g": 0.0,
        "fat_g": 100.0,
        "fiber_g": 0.0,
        "sugar_g": 0.0,
        "sodium_mg": 2.0,
    }


def test_nothing_matches_gives_an_empty_page(auth_client):
    data = auth_client.get(URL, {"search": "unobtainium"}).json()
    assert data["count"] == 0 and data["results"] == []


def test_catalogue_is_paginated(auth_client):
    first = auth_client.get(URL).json()
    assert first["count"] == Food.objects.count()
    assert len(first["results"]) == 20
    second = auth_client.get(first["next"]).json()
    assert not set(names(auth_client.get(URL))) & {f["name"] for f in second["results"]}


def test_category_filter(auth_client):
    found = auth_client.get(URL, {"category": "fish", "page_size": 100}).json()
    assert found["count"] == Food.objects.filter(category="fish").count() > 0
    assert {f["category"] for f in found["results"]} == {"fish"}


def test_one_food(auth_client):
    food = Food.objects.get(name="Banana, raw")
    response = auth_client.get(f"{URL}/{food.pk}")
    assert response.status_code == 200
    assert response.json()["per_100g"]["calories"] == 89.0


def test_food_nutrients_for_a_portion():
    food = Food.objects.get(name="Almonds")  # 579 kcal, 21.15 g protein per 100 g
    assert food.nutrients_for(30)["calories"] == 173.7
    assert food.nutrients_for(30)["protein_g"] == 6.3
    assert food.nutrients_for(0)["calories"] == 0


def test_reloading_the_catalogue_changes_nothing():
    before = dict(Food.objects.values_list("name", "calories"))
    assert load_foods(Food) == len(before)
    assert dict(Food.objects.values_list("name", "calories")) == before


def test_a_food_in_use_cannot_be_deleted(user):
    food = Food.objects.get(name="Almonds")
    NutritionLogFactory(user=user, food=food, grams=30)
    with pytest.raises(ProtectedError):
        food.delete()
