"""`?member=<id>` on the API endpoints that had no member yet: nutrition targets, the
insights list, the quick-log advice endpoints, export and the report. A manager reads and
writes for a dependent, a read-only member reads only, a stranger gets 404."""

from __future__ import annotations

from datetime import date

import pytest

from accounts import family
from nutrition.models import NutritionLog, NutritionTargets
from tests.accounts.factories import UserFactory, client_for
from tests.accounts.family_factories import make_dependent
from tests.insights.factories import HealthInsightFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def child(user):
    return make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))


@pytest.fixture
def reader(user, child):
    doctor = UserFactory()
    family.family_access_grant(
        granted_by=user, email=doctor.email, role="read_only", member=child, relation="doctor"
    )
    return client_for(doctor)


def test_manager_sets_a_dependents_nutrition_targets(auth_client, user, child, reader):
    url = f"/api/v1/nutrition-targets?member={child.pk}"
    response = auth_client.put(
        url, {"calories": 1500, "protein_g": 40, "water_ml": 1200}, format="json"
    )
    assert response.status_code == 200
    assert NutritionTargets.objects.get(user=child).calories == 1500
    assert not NutritionTargets.objects.filter(user=user).exists()
    assert reader.get(url).json()["calories"] == 1500
    assert reader.patch(url, {"calories": 9}, format="json").status_code == 404


def test_insights_list_takes_the_member(auth_client, child, reader, other_client):
    insight = HealthInsightFactory(user=child)
    url = f"/api/v1/health-insights?member={child.pk}"
    for client in (auth_client, reader):
        ids = [row["id"] for row in client.get(url).json()["results"]]
        assert ids == [insight.pk]
    assert other_client.get(url).status_code == 404


def test_quick_log_advice_logs_for_the_member(auth_client, user, child, reader):
    url = f"/api/v1/advice/water?member={child.pk}"
    assert auth_client.post(url, {"amount_liters": 0.3}, format="json").status_code == 201
    assert NutritionLog.objects.filter(user=child, water_ml=300).exists()
    assert not NutritionLog.objects.filter(user=user).exists()
    assert reader.post(url, {"amount_liters": 0.3}, format="json").status_code == 404


def test_export_and_report_take_the_member(auth_client, child, reader, other_client):
    response = auth_client.get(f"/api/v1/export?format=json&member={child.pk}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "Ada" in body
    assert reader.get(f"/api/v1/export?member={child.pk}").status_code == 404
    assert other_client.get(f"/api/v1/export?member={child.pk}").status_code == 404
    assert auth_client.get(f"/api/v1/export?user_id={child.pk}").status_code == 200
    assert reader.get(f"/api/v1/export/report?member={child.pk}").status_code == 200
    assert other_client.get(f"/api/v1/export/report?member={child.pk}").status_code == 404
