"""Happy paths of the health-goals API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from goals.dashboard_goals import invalidate_dashboard_cache
from goals.models import HealthGoal
from tests.goals.factories import HealthGoalFactory, days_ago, log_food, measure, today

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-goals"


def test_create_a_steps_goal_with_defaults_and_progress(auth_client, user):
    measure(user, "steps", 6000, days_ago(1))
    response = auth_client.post(URL, {"goal_type": "steps", "target_value": 8000}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"] == user.pk
    assert body["metric_type"] == "steps"
    assert body["unit"] == "count"
    assert body["direction"] == "at_least"
    assert body["period_days"] == 7
    assert body["reading"] == "daily_average"
    assert body["priority"] == "medium"
    assert body["status"] == "active"
    assert body["start_date"] == today().isoformat()
    assert body["target_date"] is None
    assert body["baseline_value"] == 6000
    assert body["current_value"] == 6000
    assert body["progress_percent"] == 75.0  # 6,000 of 8,000 a day
    assert body["on_track"] is False
    assert body["title"] == "Steps at least 8,000 a day"
    assert HealthGoal.objects.get(pk=body["id"]).user == user


def test_create_with_every_field(auth_client):
    body = {
        "goal_type": "weight",
        "title": "Reach 75 kg by June",
        "description": "Fewer biscuits",
        "metric_type": "weight",
        "target_value": 165.35,
        "unit": "lb",
        "direction": "decrease",
        "period_days": 14,
        "baseline_value": 180,
        "start_date": days_ago(10).isoformat(),
        "target_date": (today() + timedelta(days=60)).isoformat(),
        "priority": "high",
        "status": "active",
    }
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["unit"] == "kg"
    assert data["target_value"] == pytest.approx(75.0, abs=0.01)
    assert data["baseline_value"] == pytest.approx(81.65, abs=0.01)
    assert data["reading"] == "latest"
    assert (data["title"], data["description"], data["priority"]) == (
        "Reach 75 kg by June",
        "Fewer biscuits",
        "high",
    )
    assert data["current_value"] is None  # no weighing yet


def test_read_only_fields_in_a_request_are_refused_by_name(auth_client, user):
    body = {
        "goal_type": "steps",
        "target_value": 8000,
        "current_value": 9999,
        "progress_percent": 100,
        "on_track": True,
        "completed_at": "2026-01-01T00:00:00Z",
        "user": 12345,
        "id": 999,
    }
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    [message] = response.json()["unknown_field"]
    assert message.startswith(
        "Unknown fields: 'completed_at', 'current_value', 'id', 'on_track', "
        "'progress_percent', 'user'. Accepted: "
    )
    assert not HealthGoal.objects.exists()


def test_retrieve_own_goal(auth_client, user):
    goal = HealthGoalFactory(user=user)
    response = auth_client.get(f"{URL}/{goal.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == goal.pk
    assert response.json()["description"] == "Walk to work"


def test_trailing_slash_is_accepted(auth_client, user):
    goal = HealthGoalFactory(user=user)
    assert auth_client.get(f"{URL}/{goal.pk}/").status_code == 200
    assert auth_client.get(f"{URL}/").status_code == 200


def test_list_own_goals_newest_first_with_status_filter(auth_client, user):
    done = HealthGoalFactory(user=user, status="completed")
    active = HealthGoalFactory(user=user)
    HealthGoalFactory(user=user, status="abandoned")
    HealthGoalFactory()  # someone else's
    response = auth_client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    response = auth_client.get(URL, {"status_filter": "active"})
    assert [g["id"] for g in response.json()["results"]] == [active.pk]
    response = auth_client.get(f"{URL}/user/{user.pk}", {"status_filter": "completed"})
    assert [g["id"] for g in response.json()["results"]] == [done.pk]


def test_unknown_status_filter_is_400(auth_client):
    response = auth_client.get(URL, {"status_filter": "paused"})
    assert response.status_code == 400
    assert "status_filter" in response.json()


def test_put_replaces_and_resets_left_out_fields(auth_client, user):
    measure(user, "steps", 5000, days_ago(1))
    created = auth_client.post(
        URL,
        {
            "goal_type": "steps",
            "target_value": 8000,
            "priority": "high",
            "title": "Walk more",
            "description": "notes",
        },
        format="json",
    ).json()
    response = auth_client.put(
        f"{URL}/{created['id']}", {"goal_type": "steps", "target_value": 10_000}, format="json"
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["target_value"] == 10_000
    assert data["priority"] == "medium"
    assert data["description"] == ""
    assert data["title"] == "Steps at least 10,000 a day"
    assert data["start_date"] == created["start_date"]
    assert data["progress_percent"] == 50.0  # 5,000 of the new 10,000 a day


def test_patch_changes_only_the_given_fields_and_recomputes(auth_client, user):
    for n in (1, 2):
        log_food(user, days_ago(n), water_ml=1500)
    created = auth_client.post(
        URL,
        {"goal_type": "water", "target_value": 2000, "baseline_value": 1000, "title": "Water"},
        format="json",
    ).json()
    assert created["progress_percent"] == 75.0  # a keep goal: 1,500 of 2,000 ml, baseline or not
    response = auth_client.patch(
        f"{URL}/{created['id']}", {"target_value": 1.5, "unit": "L"}, format="json"
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["target_value"], data["title"], data["baseline_value"]) == (1500, "Water", 1000)
    assert data["progress_percent"] == 100


def test_patch_a_generated_title_follows_the_new_target(auth_client):
    created = auth_client.post(URL, {"goal_type": "sleep", "target_value": 420}, format="json")
    goal_id = created.json()["id"]
    assert created.json()["title"] == "Sleep at least 420 min a day"
    data = auth_client.patch(f"{URL}/{goal_id}", {"target_value": 8, "unit": "h"}, format="json")
    assert data.json()["title"] == "Sleep at least 480 min a day"


def test_abandon_and_reactivate_with_patch(auth_client, user):
    goal = HealthGoalFactory(user=user)
    response = auth_client.patch(f"{URL}/{goal.pk}", {"status": "abandoned"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "abandoned"
    response = auth_client.patch(f"{URL}/{goal.pk}", {"status": "active"}, format="json")
    assert response.json()["status"] == "active"


def test_delete_own_goal(auth_client, user):
    goal = HealthGoalFactory(user=user)
    assert auth_client.delete(f"{URL}/{goal.pk}").status_code == 204
    assert not HealthGoal.objects.exists()


def test_anonymous_is_401(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"goal_type": "steps", "target_value": 1}).status_code == 401


def test_list_takes_a_constant_number_of_queries(auth_client, user, django_assert_num_queries):
    for _ in range(3):
        HealthGoalFactory(user=user)
    with django_assert_num_queries(1):
        assert len(auth_client.get(URL).json()["results"]) == 3
    for _ in range(20):
        HealthGoalFactory(user=user)
    # The factory writes rows directly: drop the cached page as every goals.services write does.
    invalidate_dashboard_cache(user.pk)
    with django_assert_num_queries(1):
        assert len(auth_client.get(URL).json()["results"]) == 23


def test_user_route_list_takes_a_constant_number_of_queries(
    auth_client, user, django_assert_max_num_queries
):
    for _ in range(25):
        HealthGoalFactory(user=user)
    with django_assert_max_num_queries(2):
        assert len(auth_client.get(f"{URL}/user/{user.pk}").json()["results"]) == 25


def test_openapi_schema_documents_the_goal_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/health-goals"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/v1/health-goals/{id}"])
    params = schema["paths"]["/api/v1/health-goals/user/{user_id}"]["get"]["parameters"]
    assert "status_filter" in {p["name"] for p in params}
