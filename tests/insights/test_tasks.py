from __future__ import annotations

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError as BrokerError

from healthtrack.core.models import OutboxTask
from insights import cache as rec_cache
from insights import engine, services, snapshot_builder, tasks
from insights.models import HealthInsight, RecommendationState
from metrics.services import metric_create
from nutrition.services import nutrition_log_create, nutrition_targets_set
from tests.accounts.factories import UserFactory
from tests.insights.helpers import at, daily, low_steps, measure, utc_today

pytestmark = pytest.mark.django_db


def current_rows(user) -> list[tuple]:
    return list(
        HealthInsight.objects.for_user(user.pk)
        .recommendations()
        .current()
        .order_by("rank")
        .values_list("id", "insight_type", "rank", "generation", "created_at")
    )


# --- compute_recommendations ----------------------------------------------------------------


def test_task_stores_the_ranked_recommendations(user):
    low_steps(user)
    daily(user, "sleep", [240] * 4)
    assert tasks.compute_recommendations.delay(user.pk).get() == 2
    # both high; steps 60 % below their bar, sleep 43 % below its 7 h: steps first
    assert [row[1:3] for row in current_rows(user)] == [
        ("low_steps", 1),
        ("insufficient_sleep", 2),
    ]


def test_task_run_twice_keeps_the_same_rows(user):
    low_steps(user)
    tasks.compute_recommendations.delay(user.pk)
    first = current_rows(user)
    tasks.compute_recommendations.delay(user.pk)
    assert current_rows(user) == first
    assert HealthInsight.objects.for_user(user.pk).count() == 1


def test_task_replaces_the_set_when_the_data_changed(user):
    low_steps(user)
    tasks.compute_recommendations.delay(user.pk)
    ((old_id, *_),) = current_rows(user)
    daily(user, "steps", [9000] * 5, end=1)  # same days, new readings: average above the bar
    tasks.compute_recommendations.delay(user.pk)
    assert current_rows(user) == []
    assert not HealthInsight.objects.filter(pk=old_id).exists()


def test_task_records_the_computation(user):
    low_steps(user)
    tasks.compute_recommendations.delay(user.pk)
    state = RecommendationState.objects.get(user=user)
    assert state.computed_for == utc_today()
    assert state.valid_until == utc_today() + timedelta(days=1)
    assert state.computed_at is not None


def test_task_ignores_unknown_and_inactive_users(user):
    assert tasks.compute_recommendations.delay(10**9).get() is None
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert tasks.compute_recommendations.delay(user.pk).get() is None
    assert not RecommendationState.objects.exists()


def test_task_retries_on_database_errors(user):
    low_steps(user)
    real = services.recommendations_compute
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("connection lost")
        return real(**kwargs)

    with mock.patch.object(services, "recommendations_compute", side_effect=flaky):
        result = tasks.compute_recommendations.apply(args=[user.pk], throw=False)
    assert len(calls) == 2
    assert result.successful()
    assert [row[1] for row in current_rows(user)] == ["low_steps"]


def test_task_declares_backoff_retries():
    task = tasks.compute_recommendations
    assert task.autoretry_for == (tasks.DatabaseError,)
    assert task.retry_backoff and task.max_retries == 5


def test_task_drops_the_cached_answer(user, auth_client):
    low_steps(user)
    auth_client.get(f"/api/v1/recommendations/{user.pk}")
    assert rec_cache.lookup(user.pk, 30).payload is not None
    tasks.compute_recommendations.delay(user.pk)
    assert rec_cache.lookup(user.pk, 30).payload is None


# --- triggers: on commit, debounced ---------------------------------------------------------


@pytest.fixture
def enqueued():
    with mock.patch.object(tasks.compute_recommendations, "apply_async") as apply_async:
        yield apply_async


def test_many_writes_schedule_one_recomputation(
    user, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.RECOMMENDATIONS_DEBOUNCE_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=True):
        for hour in range(5):
            measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=hour)
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_log_create(
            user=user,
            meal_type="lunch",
            logged_at=at(utc_today() - timedelta(days=1), 1),
            calories=500,
        )
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_targets_set(user=user, calories=1800)
    enqueued.assert_called_once_with(args=[user.pk], countdown=300)


def test_writes_of_different_users_are_debounced_apart(
    user, other_user, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
        measure(other_user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
        measure(other_user, "steps", 100, utc_today() - timedelta(days=1), hour=1)
    assert sorted(c.kwargs["args"][0] for c in enqueued.call_args_list) == sorted(
        [user.pk, other_user.pk]
    )


def test_a_write_after_the_window_schedules_again(
    user, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
    rec_cache.release_debounce(user.pk)  # the window has passed (the lock expired)
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=1)
    assert enqueued.call_count == 2


def test_nothing_is_scheduled_before_the_write_commits(user, enqueued):
    measure(
        user, "steps", 100, utc_today() - timedelta(days=1), hour=0
    )  # the test's transaction never commits
    enqueued.assert_not_called()


def test_a_broker_outage_does_not_fail_the_write(
    user, enqueued, caplog, django_capture_on_commit_callbacks
):
    enqueued.side_effect = BrokerError("broker down")
    with (
        caplog.at_level(logging.ERROR, logger="insights.receivers"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        metric = metric_create(
            user=user,
            metric_type="steps",
            value=4321,
            unit="count",
            recorded_at=at(utc_today() - timedelta(days=1), 0),
        )
    assert metric.pk is not None
    logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("insights"))
    assert "could not enqueue" in logged and "4321" not in logged
    # the outbox holds it for its relay (its eager publish met the same broken broker)
    row = OutboxTask.objects.get(dedupe_key=f"recommendations:{user.pk}")
    assert row.task_name == "insights.compute_recommendations"
    assert row.kwargs == {"user_id": user.pk} and row.sent_at is None
    # The lock was released, so the next write tries again.
    enqueued.side_effect = None
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=1)
    debounced = [c for c in enqueued.call_args_list if "countdown" in c.kwargs]
    assert len(debounced) == 2


def test_a_write_marks_the_users_data_changed(user, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
    state = RecommendationState.objects.get(user=user)
    assert state.data_changed_at is not None and state.computed_at is None


def test_eager_trigger_computes_the_recommendations(user, django_capture_on_commit_callbacks):
    daily(user, "steps", [2000] * 4)
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 2000, utc_today() - timedelta(days=5))
    assert [row[1] for row in current_rows(user)] == ["low_steps"]


# --- nightly ----------------------------------------------------------------------------------


def test_nightly_fans_out_in_chunks_and_computes_everyone(settings):
    settings.RECOMMENDATIONS_NIGHTLY_CHUNK = 2
    users = UserFactory.create_batch(5)
    low_steps(users[0])
    with mock.patch.object(
        tasks.compute_recommendations_chunk,
        "apply_async",
        side_effect=lambda args: tasks.compute_recommendations_chunk.apply(args=args),
    ) as fan:
        result = tasks.nightly_recommendations.delay().get()
    assert result == {"users": 5, "chunks": 3}
    assert [len(c.kwargs["args"][0]) for c in fan.call_args_list] == [2, 2, 1]
    assert RecommendationState.objects.filter(computed_at__isnull=False).count() == 5
    assert [row[1] for row in current_rows(users[0])] == ["low_steps"]


def test_nightly_skips_users_whose_data_did_not_change(user, other_user):
    low_steps(user)
    tasks.nightly_recommendations.delay()
    with mock.patch.object(services, "recommendations_compute") as compute:
        assert tasks.nightly_recommendations.delay().get() == {"users": 0, "chunks": 0}
    compute.assert_not_called()


def test_nightly_recomputes_a_user_after_a_write(
    user, other_user, django_capture_on_commit_callbacks
):
    tasks.nightly_recommendations.delay()
    with (
        mock.patch.object(tasks.compute_recommendations, "apply_async"),  # no debounced run
        django_capture_on_commit_callbacks(execute=True),
    ):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
    assert list(snapshot_builder.users_due_for_recommendations()) == [user.pk]


def test_nightly_recomputes_when_a_window_slides_over_the_data(user, other_user):
    low_steps(user)
    tasks.nightly_recommendations.delay()
    tomorrow = utc_today() + timedelta(days=1)
    # user's windows move over their data tomorrow; other_user has no data: never due again
    assert list(snapshot_builder.users_due_for_recommendations(today=tomorrow)) == [user.pk]
    far = utc_today() + timedelta(days=400)
    assert list(snapshot_builder.users_due_for_recommendations(today=far)) == [user.pk]


def test_nightly_leaves_out_inactive_and_deleted_users(user, other_user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    other_user.deleted_at = other_user.date_joined
    other_user.save(update_fields=["deleted_at"])
    assert list(snapshot_builder.users_due_for_recommendations()) == []


def chunk_queries(users) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert tasks.compute_recommendations_chunk.delay([u.pk for u in users]).get() == len(users)
    return len(queries.captured_queries)


def test_a_chunk_costs_the_same_queries_for_two_users_or_six():
    users = UserFactory.create_batch(8)
    for user in users:
        low_steps(user, days=3)
    # users, rollups, nutrition, older weights, weight goals; one transaction: locks, current
    # sets, inserts, states (+ transaction statements)
    assert chunk_queries(users[:2]) == chunk_queries(users[2:]) <= 13
    for user in users:
        assert [row[1] for row in current_rows(user)] == ["low_steps"]
    computed = RecommendationState.objects.filter(computed_at__isnull=False)
    assert computed.count() == 8


def test_a_chunk_rerun_writes_nothing_new(user, other_user):
    low_steps(user)
    tasks.compute_recommendations_chunk.delay([user.pk, other_user.pk])
    first = current_rows(user)
    tasks.compute_recommendations_chunk.delay([user.pk, other_user.pk])
    assert current_rows(user) == first


def test_one_persons_failure_does_not_hold_up_the_chunk(user, other_user):
    low_steps(user)
    low_steps(other_user)
    real = engine.recommend

    def trip_on_user(snapshot, **kwargs):
        if snapshot.user_id == user.pk:
            raise ZeroDivisionError
        return real(snapshot, **kwargs)

    with mock.patch.object(engine, "recommend", side_effect=trip_on_user):
        done = tasks.compute_recommendations_chunk.delay([user.pk, other_user.pk]).get()
    assert done == 1
    assert [row[1] for row in current_rows(other_user)] == ["low_steps"]
    assert current_rows(user) == []


def test_a_chunk_retries_on_database_errors(user):
    low_steps(user)
    real = services.recommendations_compute_many
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    with mock.patch.object(services, "recommendations_compute_many", side_effect=flaky):
        result = tasks.compute_recommendations_chunk.apply(args=[[user.pk]], throw=False)
    assert result.successful() and len(calls) == 2
    assert [row[1] for row in current_rows(user)] == ["low_steps"]


def test_batch_and_single_computations_agree(user, other_user):
    low_steps(user)
    daily(other_user, "sleep", [300] * 5)
    batch = snapshot_builder.build_snapshots(users=[user, other_user])
    assert batch[user.pk] == snapshot_builder.build_snapshot(user=user)
    assert batch[other_user.pk] == snapshot_builder.build_snapshot(user=other_user)


def test_the_nightly_run_is_in_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["insights-nightly-recommendations"]
    assert entry["task"] == tasks.nightly_recommendations.name
