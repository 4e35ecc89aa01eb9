"""Every bad input: 400 naming the field, and nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from goals.models import HealthGoal
from tests.goals.factories import HealthGoalFactory, days_ago, measure, today

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-goals"
VALID = {"goal_type": "steps", "target_value": 8000}
TOMORROW = (today() + timedelta(days=1)).isoformat()
YESTERDAY = days_ago(1).isoformat()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_value": -1}, "target_value"),
        ({"target_value": 0}, "target_value"),
        ({"target_value": 100_001}, "target_value"),  # beyond the plausible steps range
        ({"target_value": "NaN"}, "target_value"),
        ({"target_value": "Infinity"}, "target_value"),
        ({"target_value": "-Infinity"}, "target_value"),
        ({"target_value": "lots"}, "target_value"),
        ({"target_value": True}, "target_value"),
        ({"target_value": None}, "target_value"),
        ({"baseline_value": -5}, "baseline_value"),
        ({"baseline_value": "NaN"}, "baseline_value"),
        ({"goal_type": "meditation"}, "goal_type"),
        ({"goal_type": None}, "goal_type"),
        ({"metric_type": "mood"}, "metric_type"),
        ({"metric_type": "weight"}, "metric_type"),  # does not fit a steps goal
        ({"unit": "km"}, "unit"),  # not a unit of steps
        ({"unit": 5}, "unit"),
        ({"direction": "sideways"}, "direction"),
        ({"priority": "urgent"}, "priority"),
        ({"status": "paused"}, "status"),
        ({"status": "completed"}, "status"),  # completion is computed
        ({"status": "abandoned"}, "status"),  # a new goal is active
        ({"period_days": 0}, "period_days"),
        ({"period_days": 366}, "period_days"),
        ({"period_days": 2.5}, "period_days"),
        ({"start_date": "31/12/2026"}, "start_date"),
        ({"start_date": "1999-12-31"}, "start_date"),
        ({"target_date": "tomorrow"}, "target_date"),
        ({"start_date": TOMORROW, "target_date": today().isoformat()}, "target_date"),
        ({"start_date": days_ago(10).isoformat(), "target_date": YESTERDAY}, "target_date"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 2001}, "description"),
    ],
)
def test_bad_input_is_refused_naming_the_field(auth_client, changes, field):
    response = auth_client.post(URL, {**VALID, **changes}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not HealthGoal.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"goal_type": "weight", "target_value": 600}, "target_value"),  # > 500 kg
        ({"goal_type": "weight", "target_value": 0.5}, "target_value"),  # < 1 kg
        ({"goal_type": "weight", "target_value": 1200, "unit": "lb"}, "target_value"),
        ({"goal_type": "weight", "target_value": 70, "unit": "stone"}, "unit"),
        ({"goal_type": "sleep", "target_value": 25, "unit": "h"}, "target_value"),  # > 24 h
        ({"goal_type": "water", "target_value": 20, "unit": "L"}, "target_value"),
        ({"goal_type": "water", "target_value": 2, "unit": "kg"}, "unit"),
        ({"goal_type": "heart_rate", "target_value": 300}, "target_value"),
        ({"goal_type": "calories", "target_value": 2000, "metric_type": "steps"}, "metric_type"),
        ({"goal_type": "custom", "target_value": 10}, "metric_type"),  # custom names its metric
        ({"goal_type": "weight", "target_value": 70}, "direction"),  # no weighing to compare
    ],
)
def test_targets_that_do_not_fit_the_metric_are_refused(auth_client, body, field):
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not HealthGoal.objects.exists()


def test_bare_nan_token_is_a_400_without_writing(auth_client):
    raw = '{"goal_type": "steps", "target_value": NaN}'
    response = auth_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert not HealthGoal.objects.exists()


def test_missing_required_fields_are_named(auth_client):
    response = auth_client.post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"goal_type", "target_value"} <= set(response.json())


def test_decrease_to_a_target_above_the_baseline_is_refused(auth_client, user):
    measure(user, "weight", 70.0, days_ago(1))
    body = {"goal_type": "weight", "target_value": 75, "direction": "decrease"}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "direction" in response.json()
    assert "70" not in str(response.json())  # health values are not echoed
    assert not HealthGoal.objects.exists()


def test_increase_to_a_target_below_a_given_baseline_is_refused(auth_client):
    body = {
        "goal_type": "exercise",
        "target_value": 20,
        "direction": "increase",
        "baseline_value": 30,
    }
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "direction" in response.json()


def test_keep_directions_accept_a_target_on_either_side(auth_client, user):
    measure(user, "weight", 70.0, days_ago(1))
    body = {"goal_type": "weight", "target_value": 75, "direction": "at_most"}
    assert auth_client.post(URL, body, format="json").status_code == 201


def test_error_messages_do_not_echo_the_value(auth_client):
    response = auth_client.post(URL, {**VALID, "target_value": 123456}, format="json")
    assert response.status_code == 400
    assert "123456" not in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_value": -1}, "target_value"),
        ({"status": "completed"}, "status"),
        ({"unit": "mi"}, "unit"),
        ({"target_date": (days_ago(30)).isoformat()}, "target_date"),
        ({"goal_type": "weight"}, "target_value"),  # a new metric needs a new target
        ({"metric_type": "sodium_mg"}, "metric_type"),
    ],
)
def test_bad_updates_change_nothing(auth_client, user, changes, field):
    goal = HealthGoalFactory(user=user)
    before = HealthGoal.objects.filter(pk=goal.pk).values().get()
    response = auth_client.patch(f"{URL}/{goal.pk}", changes, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert HealthGoal.objects.filter(pk=goal.pk).values().get() == before


def test_put_needs_the_required_fields(auth_client, user):
    goal = HealthGoalFactory(user=user)
    response = auth_client.put(f"{URL}/{goal.pk}", {"title": "x"}, format="json")
    assert response.status_code == 400
    assert {"goal_type", "target_value"} <= set(response.json())


def test_a_completed_goal_may_be_sent_back_as_completed(auth_client, user):
    goal = HealthGoalFactory(user=user, status="completed")
    response = auth_client.patch(
        f"{URL}/{goal.pk}", {"status": "completed", "title": "Done!"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_too_many_active_goals_are_refused(auth_client, user, monkeypatch):
    from goals import services

    monkeypatch.setattr(services, "MAX_ACTIVE_GOALS", 2)
    HealthGoalFactory.create_batch(2, user=user)
    response = auth_client.post(URL, VALID, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert HealthGoal.objects.count() == 2
