"""Goal progress after a measurement write, with a worker-backed Celery: the write's own
after-commit send recomputes it (in a transaction of its own) and deletes the outbox row, so
no message goes to the worker; when that fails, or the process dies before it, the row stays
pending and the relay hands it to the worker's task. Each write's send reads every write
committed before it (the goal rows are locked before the data is read)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goals import services as goal_services
from goals.models import HealthGoal
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from metrics import services
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

TASK = "goals.recompute_goal_progress"


@pytest.fixture
def weigher():
    user = UserFactory()
    goal_services.goal_create(user=user, goal_type="weight", target_value=70, direction="decrease")
    return user


def weigh(user, value: float, commit, *, hours_ago: int = 1):
    with commit(execute=True):
        return services.metric_create(
            user=user,
            metric_type="weight",
            value=value,
            recorded_at=timezone.now() - timedelta(hours=hours_ago),
        )


def progress_messages(send) -> list:
    return [c for c in send.call_args_list if c.args[0] == TASK]


def goal_rows(user):
    return OutboxTask.objects.filter(task_name=TASK, kwargs__user_id=user.pk)


def weight_goal(user) -> HealthGoal:
    return HealthGoal.objects.get(user=user, metric_type="weight")


def test_a_write_updates_its_goals_progress_itself_without_a_message(
    weigher, broker, django_capture_on_commit_callbacks
):
    weigh(weigher, 80, django_capture_on_commit_callbacks)
    assert weight_goal(weigher).current_value == 80
    assert progress_messages(broker) == []
    assert not goal_rows(weigher).exists()


def test_every_write_of_a_burst_is_counted_and_the_newest_reading_wins(
    weigher, broker, django_capture_on_commit_callbacks
):
    for hours_ago, value in ((3, 82), (1, 78), (2, 90)):
        weigh(weigher, value, django_capture_on_commit_callbacks, hours_ago=hours_ago)
    assert weight_goal(weigher).current_value == 78  # the newest by time, not the last sent
    assert progress_messages(broker) == []
    assert not goal_rows(weigher).exists()


def test_people_without_a_goal_on_the_type_get_no_recompute(
    weigher, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_create(
            user=weigher, metric_type="heart_rate", value=60, recorded_at=timezone.now()
        )
    assert not goal_rows(weigher).exists()
    assert progress_messages(broker) == []


def test_a_failing_recompute_leaves_the_row_to_the_relay_and_the_worker(
    weigher, broker, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(
            goal_services, "goal_progress_refresh", side_effect=RuntimeError("a bug")
        ),
        mock.patch.object(
            goal_services, "goal_progress_recompute", side_effect=RuntimeError("a bug")
        ),
    ):
        metric = weigh(weigher, 80, django_capture_on_commit_callbacks)
    assert metric.pk is not None  # the write itself stands
    (row,) = goal_rows(weigher)
    assert row.sent_at is None
    assert row.kwargs == {"user_id": weigher.pk, "metric_types": ["weight"]}
    assert weight_goal(weigher).current_value is None
    outbox._set_breaker(open_=False)
    with mock.patch.object(current_app, "send_task") as relay_send:
        outbox.outbox_relay()
    assert [c.args[0] for c in relay_send.call_args_list].count(TASK) == 1


def test_the_workers_task_computes_what_the_send_would_have(weigher, settings):
    # The relay's fallback: the task alone (eager here) reads the committed data.
    services.metric_create(
        user=weigher,
        metric_type="weight",
        value=76,
        recorded_at=timezone.now() - timedelta(hours=1),
    )
    HealthGoal.objects.filter(user=weigher).update(current_value=None)
    from goals.tasks import recompute_goal_progress

    assert recompute_goal_progress.run(user_id=weigher.pk, metric_types=["weight"]) == 1
    assert weight_goal(weigher).current_value == 76


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_send_takes_its_row_and_recomputes_in_one_short_transaction(
    weigher, broker, django_capture_on_commit_callbacks
):
    with CaptureQueriesContext(connection) as ctx:
        weigh(weigher, 80, django_capture_on_commit_callbacks)
    sqls = [q["sql"] for q in ctx.captured_queries]
    take = next(i for i, sql in enumerate(sqls) if sql.startswith("DELETE FROM accounts_outbox"))
    # Its own transaction (a savepoint here, inside the test's transaction).
    assert "RETURNING" in sqls[take]
    assert sqls[take - 1] == "BEGIN" or sqls[take - 1].startswith("SAVEPOINT")
    after = sqls[take + 1 :]
    end = next(i for i, sql in enumerate(after) if sql == "COMMIT" or sql.startswith("RELEASE"))
    # The goals, locked, and the newest weight: no zone (the write's), no window of days
    # (a latest measure's keep goal needs them only at its target date), no savepoint.
    assert '"goals_healthgoal"' in after[0] and "FOR UPDATE" in after[0]
    assert "metrics_healthmetric" in after[1] and "dailyrollup" not in " ".join(after[:end])
    assert not any("SAVEPOINT" in s or "time_zone" in s for s in after[:end])
    assert weight_goal(weigher).current_value == 80
