"""The goals app's contract as insights uses it: the active weight goal in the snapshot and
`goals_changed` invalidating the cached recommendations. Skipped while the goals app does not
provide `goals.services` (it is built on another branch)."""

from __future__ import annotations

from datetime import timedelta

import pytest

goal_services = pytest.importorskip("goals.services")

from insights import selectors  # noqa: E402
from tests.insights.helpers import measure, utc_today  # noqa: E402

pytestmark = pytest.mark.django_db


def weight_goal(user, target: float, direction: str = "decrease"):
    return goal_services.goal_create(
        user=user, goal_type="weight", target_value=target, direction=direction
    )


def test_the_snapshot_carries_the_active_weight_goal(user):
    measure(user, "weight", 80, utc_today() - timedelta(days=1))
    weight_goal(user, 70)
    goal = selectors.build_snapshot(user=user).weight_goal
    assert float(goal["target_value"]) == 70
    assert goal["direction"] == "decrease"
    assert {"start_date", "target_date"} <= set(goal)


def test_weight_moving_away_from_the_goal_is_recommended(auth_client, user):
    for back, kg in ((10, 80.0), (6, 81.0), (2, 82.0)):
        measure(user, "weight", kg, utc_today() - timedelta(days=back))
    user.height_cm = 190  # BMI 22.7: only the trend can speak
    user.save(update_fields=["height_cm"])
    weight_goal(user, 75)
    body = auth_client.get(f"/api/v1/recommendations/{user.pk}").json()
    (rec,) = [r for r in body["recommendations"] if r["type"] == "weight_management"]
    assert rec["data"]["goal_target_kg"] == 75


def test_a_goal_change_invalidates_the_cache(auth_client, user, django_capture_on_commit_callbacks):
    url = f"/api/v1/recommendations/{user.pk}"
    auth_client.get(url)
    assert auth_client.get(url).json()["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):
        weight_goal(user, 60)
    assert auth_client.get(url).json()["cached"] is False
