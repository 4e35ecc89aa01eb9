"""Another person's diary does not exist for you: 404 on every endpoint."""

from __future__ import annotations

import pytest

from nutrition.models import NutritionLog
from tests.nutrition.factories import NutritionLogFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/nutrition-logs"


@pytest.fixture
def theirs(other_user):
    return NutritionLogFactory(user=other_user, calories=700, description="private note")


def test_cannot_read_another_persons_entry(auth_client, theirs):
    response = auth_client.get(f"{URL}/{theirs.pk}")
    assert response.status_code == 404
    assert "private note" not in response.content.decode()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_cannot_change_another_persons_entry(auth_client, theirs, method):
    body = {"meal_type": "dinner", "calories": 1, "logged_at": "2026-03-10T12:00:00Z"}
    response = getattr(auth_client, method)(f"{URL}/{theirs.pk}", body, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.meal_type, theirs.calories) == ("lunch", 700)


def test_cannot_list_another_persons_diary(auth_client, theirs, other_user):
    assert auth_client.get(f"{URL}/user/{other_user.pk}").status_code == 404


def test_unknown_user_is_404_too(auth_client):
    assert auth_client.get(f"{URL}/user/999999").status_code == 404


def test_cannot_read_another_persons_daily_totals(auth_client, theirs, other_user):
    response = auth_client.get(f"{URL}/daily", {"user_id": other_user.pk})
    assert response.status_code == 404


def test_own_list_and_totals_leave_others_out(auth_client, theirs):
    assert auth_client.get(URL).json()["results"] == []
    days = auth_client.get(f"{URL}/daily", {"start": "2026-03-10", "end": "2026-03-10"}).json()
    assert days["days"][0]["calories"] == 0


def test_the_owner_still_sees_it(other_client, theirs, other_user):
    assert other_client.get(f"{URL}/{theirs.pk}").status_code == 200
    assert other_client.get(f"{URL}/user/{other_user.pk}").json()["results"][0]["id"] == theirs.pk
    daily = other_client.get(
        f"{URL}/daily", {"start": "2026-03-10", "end": "2026-03-10", "user_id": other_user.pk}
    )
    assert daily.json()["days"][0]["calories"] == 700


def test_posting_always_writes_to_your_own_diary(auth_client, user, other_user):
    body = {"meal_type": "lunch", "calories": 300, "logged_at": "2026-03-10T12:00:00Z"}
    # Naming another user is an unknown field, refused: nothing is written anywhere.
    response = auth_client.post(URL, {**body, "user": other_user.pk}, format="json")
    assert response.status_code == 400
    assert "Unknown field: 'user'." in response.json()["unknown_field"][0]
    assert not NutritionLog.objects.exists()
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201
    assert NutritionLog.objects.get(pk=response.json()["id"]).user == user
    assert not NutritionLog.objects.filter(user=other_user).exists()
