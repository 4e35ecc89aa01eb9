from __future__ import annotations

import pytest

from nutrition.models import NutritionTargets

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-targets"


def test_targets_start_calculated(auth_client):
    data = auth_client.get(URL).json()
    assert (data["calories"], data["protein_g"], data["water_ml"]) == (None, None, None)
    assert data["effective"]["water_ml"] == 2000


def test_put_sets_overrides_and_they_apply(auth_client, user):
    response = auth_client.put(URL, {"calories": 1800, "water_ml": 2500}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["calories"], data["protein_g"], data["water_ml"]) == (1800, None, 2500)
    assert data["effective"]["calories"] == 1800
    assert data["effective"]["sources"]["calories"] == "override"
    assert NutritionTargets.objects.get(user=user).calories == 1800


def test_patch_keeps_the_others_and_null_clears(auth_client, user):
    auth_client.put(URL, {"calories": 1800, "water_ml": 2500}, format="json")
    data = auth_client.patch(URL, {"calories": None}, format="json").json()
    assert (data["calories"], data["water_ml"]) == (None, 2500)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"calories": 100}, "calories"),
        ({"water_ml": 50_000}, "water_ml"),
        ({"protein_g": -1}, "protein_g"),
    ],
)
def test_implausible_targets_are_refused(auth_client, user, body, field):
    response = auth_client.put(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not NutritionTargets.objects.filter(user=user).exists()
