"""Concurrent writers on PostgreSQL (SQLite serialises every write transaction anyway): an
edit and a recompute of the same goal serialise on its row, so progress always matches the
goal's final target (no lost update)."""

from __future__ import annotations

import pytest
from django.db import connection

from goals import services
from goals.models import HealthGoal
from tests.goals.factories import days_ago, measure
from tests.healthtrack.concurrency import together

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


@pytest.mark.parametrize("attempt", range(3))
def test_an_edit_and_a_recompute_never_leave_stale_progress(user, attempt):
    measure(user, "steps", 5000, days_ago(2))
    goal = services.goal_create(user=user, goal_type="steps", target_value=10_000)
    measure(user, "steps", 9000, days_ago(1))  # average 7000
    errors = together(
        lambda: services.goal_update(goal=goal, target_value=7000),
        lambda: services.goal_progress_recompute(user_id=user.pk),
        lambda: services.goal_progress_recompute(user_id=user.pk),
    )
    assert errors == []
    goal = HealthGoal.objects.get(pk=goal.pk)
    assert (goal.target_value, goal.current_value, goal.progress_percent) == (7000, 7000, 100)
    assert goal.on_track is True
