"""A measurement write's other receivers (goals, webhooks) get their answers about the person
from the change feed's statement on PostgreSQL, and still decide as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goals.models import HealthGoal
from healthtrack.core.models import OutboxTask
from metrics import services
from tests.accounts.factories import UserFactory
from tests.goals.factories import HealthGoalFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)
GOAL_TASK = "goals.recompute_goal_progress"


def weigh(user, minutes: int = 0):
    return services.metric_create(
        user=user, metric_type="weight", value=80, recorded_at=AT + timedelta(minutes=minutes)
    )


def goal_rows(user) -> int:
    """Goal-progress rows pending for the user (the tests' writes commit nothing)."""
    rows = OutboxTask.objects.pending().filter(task_name=GOAL_TASK, kwargs__user_id=user.pk)
    return rows.count()


def test_a_write_queues_goal_progress_only_for_an_active_goal_on_its_type():
    user = UserFactory()
    HealthGoalFactory(user=user, metric_type="steps")
    weigh(user)
    assert goal_rows(user) == 0
    goal = HealthGoalFactory(user=user, metric_type="weight", goal_type="weight")
    weigh(user, 1)
    assert goal_rows(user) == 1
    OutboxTask.objects.update(sent_at=AT)  # sent, as after the commit
    goal.status = HealthGoal.Status.COMPLETED
    goal.save(update_fields=["status"])
    weigh(user, 2)
    assert goal_rows(user) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_the_goals_and_webhooks_questions_are_answered_in_the_feeds_statement():
    user = UserFactory()
    HealthGoalFactory(user=user, metric_type="weight", goal_type="weight")
    weigh(user)
    OutboxTask.objects.update(sent_at=AT)
    with CaptureQueriesContext(connection) as queries:
        weigh(user, 1)
    asking = [
        q["sql"]
        for q in queries
        if "goals_healthgoal" in q["sql"] or "webhooks_webhooksubscription" in q["sql"]
    ]
    assert len(asking) == 1 and "changes_changeevent" in asking[0]
    assert goal_rows(user) == 1
