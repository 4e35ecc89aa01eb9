"""The goals app's contract as insights uses it: the active weight goal in the snapshot and
`goals_changed` invalidating the cached recommendations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from goals import services as goal_services
from insights import snapshot_builder
from tests.insights.helpers import measure, utc_today

pytestmark = pytest.mark.django_db


def weight_goal(user, target: float, direction: str = "decrease"):
    return goal_services.goal_create(
        user=user, goal_type="weight", target_value=target, direction=direction
    )


def test_the_snapshot_carries_the_active_weight_goal(user):
    measure(user, "weight", 80, utc_today() - timedelta(days=1))
    weight_goal(user, 70)
    goal = snapshot_builder.build_snapshot(user=user).weight_goal
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


def test_a_goal_change_marks_the_user_due_and_schedules_one_run(
    user, django_capture_on_commit_callbacks
):
    from unittest import mock

    from insights import tasks

    tasks.nightly_recommendations.delay()
    assert list(snapshot_builder.users_due_for_recommendations()) == []
    with (
        mock.patch.object(tasks.compute_recommendations, "apply_async") as enqueued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        goal = weight_goal(user, 60)
        goal_services.goal_update(goal=goal, target_value=62)
    enqueued.assert_called_once()
    assert list(snapshot_builder.users_due_for_recommendations()) == [user.pk]


def test_batch_snapshots_read_the_same_goals_as_single_snapshots(user, other_user):
    from tests.accounts.factories import UserFactory

    third = UserFactory()
    measure(user, "weight", 80, utc_today() - timedelta(days=1))
    measure(other_user, "weight", 50, utc_today() - timedelta(days=1))
    weight_goal(user, 70)
    goal_services.goal_create(
        user=user, goal_type="weight", target_value=65, direction="decrease", priority="high"
    )
    weight_goal(other_user, 55, direction="increase")
    batch = snapshot_builder.build_snapshots(users=[user, other_user, third])
    for person in (user, other_user, third):
        assert batch[person.pk] == snapshot_builder.build_snapshot(user=person)
    assert float(batch[user.pk].weight_goal["target_value"]) == 65  # the high-priority one
    assert batch[third.pk].weight_goal is None
