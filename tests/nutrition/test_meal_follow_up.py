"""A diary write's derived work (goal progress, care-program adherence, the recommendations'
refresh) is enqueued by the write's own after-commit send (`nutrition_committed`, sent by the
announce row's fast path), with a worker-backed Celery: no message to the worker whose task
would only send the signal. When that send fails, the row stays pending and the relay hands it
to the worker's task (`nutrition.announce_committed`), as before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goals import services as goal_services
from goals.care_programs import programs
from goals.care_programs.receivers import ADHERENCE_TASK
from healthtrack.core import days as calendar
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from nutrition import services
from nutrition.signals import nutrition_committed

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
GOALS_TASK = "goals.recompute_goal_progress"
RECOMMENDATIONS_TASK = "insights.compute_recommendations"


@pytest.fixture
def committed():
    calls = []

    def receiver(sender, facts=None, **kwargs):
        # `facts`: what the change feed's statement answered for the follow-up (PostgreSQL;
        # tests/nutrition/test_meal_follow_up.py checks its use).
        calls.append(kwargs)

    nutrition_committed.connect(receiver)
    yield calls
    nutrition_committed.disconnect(receiver)


def log_meal(user, commit):
    with commit(execute=True):
        return services.nutrition_log_create(
            user=user, meal_type="lunch", logged_at=NOON, calories=500
        )


def messages(send, name: str) -> list:
    return [c for c in send.call_args_list if c.args[0] == name]


def test_a_meals_derived_work_is_enqueued_by_its_own_send_without_a_message(
    user, broker, committed, django_capture_on_commit_callbacks
):
    log_meal(user, django_capture_on_commit_callbacks)

    assert committed == [
        {
            "signal": nutrition_committed,
            "user_id": user.pk,
            "days": {date(2026, 3, 10)},
            "tz": calendar.zone_of(user),  # the write's: a statement less for the receivers
        }
    ]
    assert messages(broker, services.ANNOUNCE_TASK) == []
    assert not OutboxTask.objects.filter(task_name=services.ANNOUNCE_TASK).exists()
    # The recommendations' refresh, scheduled (debounced) as the worker's task scheduled it.
    (refresh,) = messages(broker, RECOMMENDATIONS_TASK)
    assert refresh.args[1] == [user.pk] and refresh.kwargs["countdown"] > 0
    assert not OutboxTask.objects.pending().exists()


def test_a_nutrient_goal_gets_its_progress_recomputed_by_the_follow_ups_send(
    user, broker, django_capture_on_commit_callbacks
):
    goal_services.goal_create(user=user, goal_type="calories", target_value=2000)
    broker.reset_mock()
    recomputed = []
    real = goal_services.goal_progress_refresh

    def spy(**kwargs):
        recomputed.append(kwargs)
        return real(**kwargs)

    with mock.patch.object(goal_services, "goal_progress_refresh", spy):
        log_meal(user, django_capture_on_commit_callbacks)

    (run,) = recomputed or [None]
    assert run is not None and run["user_id"] == user.pk
    assert "calories" in run["metric_types"]
    assert messages(broker, GOALS_TASK) == []
    assert not OutboxTask.objects.pending().exists()


def test_a_failing_receiver_leaves_the_row_to_the_relay_and_the_worker(
    user, broker, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("a receiver's bug")

    nutrition_committed.connect(broken)
    try:
        log = log_meal(user, django_capture_on_commit_callbacks)
    finally:
        nutrition_committed.disconnect(broken)

    assert log.pk is not None  # the write stands
    (row,) = OutboxTask.objects.pending().filter(task_name=services.ANNOUNCE_TASK)
    if connection.vendor == "postgresql":
        # Taken alone (deleted in the follow-up's transaction): the error rolled that back.
        assert row.attempts == 0
    else:  # claimed by `outbox.send`, which records the error on the row
        assert row.attempts == 1 and row.last_error == "RuntimeError"
    assert messages(broker, services.ANNOUNCE_TASK) == []

    outbox.outbox_relay()  # beat's relay: the worker's task sends the signal and retries

    (task,) = messages(broker, services.ANNOUNCE_TASK)
    assert task.kwargs["kwargs"] == {"user_id": user.pk, "days": ["2026-03-10"]}
    assert not OutboxTask.objects.pending().filter(task_name=services.ANNOUNCE_TASK).exists()


def test_the_workers_task_still_sends_the_signal(user, committed):
    from nutrition.tasks import announce_committed

    announce_committed(user.pk, ["2026-03-10"])

    assert committed == [
        {"signal": nutrition_committed, "user_id": user.pk, "days": {date(2026, 3, 10)}}
    ]


def test_a_meal_of_a_person_in_a_care_program_enqueues_the_days_adherence(
    user, broker, django_capture_on_commit_callbacks
):
    today = calendar.today(user)
    program = programs.program_create(
        user=user,
        created_by=user,
        title="Walk",
        config={"activity": {"steps": {"min": 8000}}},
        start_date=today - timedelta(days=5),
    )
    broker.reset_mock()
    yesterday = today - timedelta(days=1)
    noon = datetime.combine(yesterday, datetime.min.time(), calendar.zone_of(user)) + timedelta(
        hours=12
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_create(user=user, meal_type="lunch", logged_at=noon, calories=500)

    (run,) = messages(broker, ADHERENCE_TASK)
    assert run.kwargs["kwargs"] == {"program_id": program.pk, "days": [yesterday.isoformat()]}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the feed's statement asks there")
def test_a_meals_follow_up_asks_nothing_the_change_feeds_statement_answered(
    user, broker, django_capture_on_commit_callbacks
):
    with CaptureQueriesContext(connection) as queries:
        log_meal(user, django_capture_on_commit_callbacks)

    # No goal, no care program: the follow-up enqueues neither, and reads neither table (nor
    # the owner's zone) in a statement of its own.
    asked = [
        q["sql"]
        for q in queries
        if "changes_change" not in q["sql"]
        and any(t in q["sql"] for t in ("goals_careprogram", "goals_healthgoal", "time_zone"))
    ]
    assert asked == []
    assert messages(broker, ADHERENCE_TASK) == [] and messages(broker, GOALS_TASK) == []
    assert not OutboxTask.objects.pending().exists()


def test_a_meal_of_an_earlier_day_marks_the_recommendations_changed_in_the_follow_up(
    user, broker, django_capture_on_commit_callbacks
):
    from insights.models import RecommendationState

    log_meal(user, django_capture_on_commit_callbacks)  # 10 March 2026: an earlier day

    state = RecommendationState.objects.get(user=user)
    assert state.data_changed_at is not None and state.computed_at is None
    (refresh,) = messages(broker, RECOMMENDATIONS_TASK)
    assert refresh.args[1] == [user.pk]
    assert not OutboxTask.objects.pending().exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a row is taken alone there")
def test_a_meals_announce_row_is_taken_by_deleting_it_in_the_follow_ups_transaction(
    user, broker, django_capture_on_commit_callbacks
):
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.nutrition_log_create(  # of today: the follow-up enqueues no row
            user=user, meal_type="lunch", logged_at=timezone.now(), calories=500
        )

    outbox_sql = [q["sql"].lstrip() for q in queries if "accounts_outboxtask" in q["sql"]]
    # Its insert in the write, then one DELETE ... RETURNING: no claim, no delete after it.
    assert len(outbox_sql) == 2, outbox_sql
    assert outbox_sql[0].startswith("INSERT") and "RETURNING" in outbox_sql[1]
    assert outbox_sql[1].startswith("DELETE")
    assert not OutboxTask.objects.filter(task_name=services.ANNOUNCE_TASK).exists()
