"""Progress follows the data: metric and diary writes record a recompute in the outbox, in
their own transaction, run by their send after the commit; it sends `goals_changed` when something
changed."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction

from goals import services, tasks
from goals.models import HealthGoal
from goals.signals import goals_changed
from healthtrack.core.models import OutboxTask
from metrics import services as metric_services
from nutrition import services as nutrition_services
from tests.goals.factories import at, days_ago, log_food, measure, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls: list[dict] = []

    def handler(sender, **kwargs):
        calls.append(kwargs)

    goals_changed.connect(handler, dispatch_uid="test-goals-changed")
    yield calls
    goals_changed.disconnect(dispatch_uid="test-goals-changed")


def test_a_metric_write_through_the_service_recomputes_the_goal(
    user, django_capture_on_commit_callbacks
):
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert goal.current_value is None
    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_create(
            user=user,
            metric_type="steps",
            value=8500,
            recorded_at=at(days_ago(1)),
            source_app="tests",
        )
    goal.refresh_from_db()
    assert (goal.current_value, goal.progress_percent, goal.on_track) == (8500, 100, True)


def test_a_metric_update_and_delete_recompute_too(user, django_capture_on_commit_callbacks):
    measure(user, "weight", 80, days_ago(5))
    goal = services.goal_create(user=user, goal_type="weight", target_value=70)
    with django_capture_on_commit_callbacks(execute=True):
        latest = measure(user, "weight", 75, days_ago(1))
    goal.refresh_from_db()
    assert goal.progress_percent == 50
    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_update(metric=latest, value=78)
    goal.refresh_from_db()
    assert goal.current_value == 78
    with django_capture_on_commit_callbacks(execute=True):
        metric_services.metric_delete(metric=latest)
    goal.refresh_from_db()
    assert (goal.current_value, goal.progress_percent) == (80, 0)


def test_a_diary_write_through_the_service_recomputes_water_goals(
    user, django_capture_on_commit_callbacks
):
    goal = services.goal_create(user=user, goal_type="water", target_value=2000)
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_services.nutrition_log_create(
            user=user, meal_type="drink", logged_at=at(days_ago(1)), water_ml=2100
        )
    goal.refresh_from_db()
    assert (goal.current_value, goal.progress_percent) == (2100, 100)


def test_a_diary_delete_recomputes_calorie_goals(user, django_capture_on_commit_callbacks):
    log_food(user, days_ago(1), calories=1800)
    log = log_food(user, days_ago(2), calories=3000)
    goal = services.goal_create(user=user, goal_type="calories", target_value=2000)
    assert goal.current_value == 2400
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_services.nutrition_log_delete(log=log)
    goal.refresh_from_db()
    assert goal.current_value == 1800


def recompute_rows():
    return OutboxTask.objects.filter(task_name="goals.recompute_goal_progress")


def test_the_write_records_the_recompute_and_its_send_runs_it_after_the_commit(
    user, django_capture_on_commit_callbacks
):
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    with mock.patch.object(tasks.recompute_goal_progress, "apply_async") as publish:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            measure(user, "steps", 6000, days_ago(1))
        (row,) = recompute_rows()  # nothing run before the commit, but the row is written
        assert row.kwargs == {"user_id": user.pk, "metric_types": ["steps"]}
        assert row.sent_at is None
        goal.refresh_from_db()
        assert goal.current_value is None
        for callback in callbacks:
            callback()
    publish.assert_not_called()  # recomputed by the send itself, no message
    goal.refresh_from_db()
    assert goal.current_value == 6000
    assert not recompute_rows().exists()


def test_no_task_for_data_no_active_goal_measures(user, django_capture_on_commit_callbacks):
    services.goal_create(user=user, goal_type="steps", target_value=8000)
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "heart_rate", 70, days_ago(1))
        log_food(user, days_ago(1), water_ml=300)
    assert not recompute_rows().exists()


def test_no_task_for_someone_without_goals(other_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        measure(other_user, "steps", 100, days_ago(1))
    assert not recompute_rows().exists()


def test_recompute_touches_only_that_persons_goals_of_those_types(user, other_user):
    steps = services.goal_create(user=user, goal_type="steps", target_value=8000)
    sleep = services.goal_create(user=user, goal_type="sleep", target_value=420)
    theirs = services.goal_create(user=other_user, goal_type="steps", target_value=8000)
    measure(user, "steps", 9000, days_ago(1))
    measure(user, "sleep", 430, days_ago(1))
    measure(other_user, "steps", 9000, days_ago(1))
    assert tasks.recompute_goal_progress(user.pk, ["steps"]) == 1
    for goal in (steps, sleep, theirs):
        goal.refresh_from_db()
    assert steps.current_value == 9000
    assert sleep.current_value is None
    assert theirs.current_value is None


def test_the_task_is_idempotent(user):
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    measure(user, "steps", 9000, days_ago(1))
    assert tasks.recompute_goal_progress(user.pk, ["steps"]) == 1
    goal.refresh_from_db()
    stamp = goal.progress_updated_at
    assert tasks.recompute_goal_progress(user.pk, ["steps"]) == 0
    goal.refresh_from_db()
    assert goal.progress_updated_at == stamp


def test_goals_changed_is_sent_by_each_write_that_changes_something(
    user, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert received == [{"signal": goals_changed, "user_id": user.pk, "goal_ids": {goal.pk}}]
    with django_capture_on_commit_callbacks(execute=True):
        services.goal_update(goal=goal, title="Walk")
        services.goal_update(goal=goal, title="Walk")  # no change: no signal
        services.goal_delete(goal=goal)
    assert [r["user_id"] for r in received] == [user.pk] * 3


def test_goals_changed_is_sent_after_progress_changes_only(
    user, received, django_capture_on_commit_callbacks
):
    services.goal_create(user=user, goal_type="steps", target_value=8000)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 9000, days_ago(1))
    assert len(received) == 1
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 9000, days_ago(30))  # outside the window: nothing changes
    assert len(received) == 1


def test_a_rolled_back_goal_write_leaves_no_follow_up_work(user, received):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.goal_create(user=user, goal_type="steps", target_value=8000)
        raise RuntimeError
    # The signal was sent inside the transaction; what its receivers wrote went with it.
    assert len(received) == 1
    assert not HealthGoal.objects.exists()
    assert not OutboxTask.objects.exists()


def test_the_daily_recompute_slides_the_window(user):
    measure(user, "steps", 9000, days_ago(1))
    goal = services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert goal.current_value == 9000
    later = today() + timedelta(days=8)
    assert services.goal_progress_recompute_all(today=later) == 1
    goal.refresh_from_db()
    assert (goal.current_value, goal.on_track) == (None, None)


def test_the_daily_task_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["goals-recompute-all-goal-progress"]
    assert entry["task"] == tasks.recompute_all_goal_progress.name


def test_a_failing_recompute_does_not_fail_the_diary_write(
    user, django_capture_on_commit_callbacks
):
    services.goal_create(user=user, goal_type="water", target_value=2000)
    failing = mock.Mock(side_effect=RuntimeError("a bug"))
    with (
        mock.patch.object(services, "goal_progress_recompute", failing),
        mock.patch.object(services, "goal_progress_refresh", failing),
        django_capture_on_commit_callbacks(execute=True),
    ):
        log = log_food(user, days_ago(1), water_ml=500)
    failing.assert_called_once()
    assert log.pk is not None
    # The recompute waits in the outbox for the relay (and the worker's task).
    (row,) = recompute_rows()
    assert row.sent_at is None and row.attempts == 1
