"""Derived work is never dropped: a health-data write records its follow-up work (the outbox
rows) and its change-feed events inside its own transaction, whatever the cache's state, and
the outbox relay delivers what the after-commit fast path did not (issue 22, point 3)."""

from __future__ import annotations

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import caches
from django.db import transaction

from goals import services as goal_services
from goals.models import HealthGoal
from healthtrack.changes.models import ChangeEvent
from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from insights import tasks
from insights.models import HealthInsight, RecommendationState
from nutrition.services import nutrition_log_create
from tests.insights.helpers import at, daily, measure, utc_today

pytestmark = pytest.mark.django_db

RECOMMENDATIONS = "insights.compute_recommendations"


@pytest.fixture(autouse=True)
def _breaker_closed():
    outbox._set_breaker(open_=False)
    yield
    outbox._set_breaker(open_=False)


def recommendation_rows(user) -> list[OutboxTask]:
    return list(OutboxTask.objects.filter(dedupe_key=f"recommendations:{user.pk}"))


def computed_at(user):
    return (
        RecommendationState.objects.filter(user_id=user.pk)
        .values_list("computed_at", flat=True)
        .first()
    )


def current_types(user) -> list[str]:
    return list(
        HealthInsight.objects.for_user(user.pk)
        .recommendations()
        .current()
        .values_list("insight_type", flat=True)
    )


CACHE_METHODS = ("add", "get", "set", "delete", "get_many", "set_many", "delete_many", "incr")


@pytest.fixture
def cache_down(monkeypatch):
    """Every call on the cache raises ConnectionError (Redis unreachable, errors not ignored)."""

    def refuse(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    backend = caches["default"]
    for name in CACHE_METHODS:
        monkeypatch.setattr(type(backend), name, refuse)
    if type(backend).__module__.startswith("django_redis"):
        # Code that must see Redis errors talks to django-redis's client, which raises
        # ConnectionInterrupted (insights.cache.claim_debounce): it is down too.
        from django_redis.exceptions import ConnectionInterrupted

        def interrupted(*args, **kwargs):
            raise ConnectionInterrupted(connection=None)

        for name in CACHE_METHODS:
            monkeypatch.setattr(type(backend.client), name, interrupted)
    return monkeypatch


def test_a_rolled_back_write_leaves_no_outbox_row_and_no_feed_event(
    user, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        measure(user, "steps", 2000, utc_today() - timedelta(days=1))
        measure(user, "oxygen_saturation", 85, utc_today(), hour=0)  # an alert type
        raise RuntimeError("a later step of the same write failed")
    assert not OutboxTask.objects.exists()
    assert not ChangeEvent.objects.filter(user_id=user.pk).exists()
    assert computed_at(user) is None


def test_the_outbox_row_commits_with_the_write_and_the_relay_delivers_it_after_a_crash(
    user, django_capture_on_commit_callbacks
):
    daily(user, "steps", [2000] * 4)
    OutboxTask.objects.all().delete()  # the history's rows: only the last write's matter here
    # The process dies right after the commit: no after-commit callback ever runs.
    with django_capture_on_commit_callbacks(execute=False):
        metric = measure(user, "steps", 2000, utc_today() - timedelta(days=5))
    (row,) = recommendation_rows(user)
    assert row.task_name == RECOMMENDATIONS and row.kwargs == {"user_id": user.pk}
    assert row.sent_at is None
    # Its change-feed event was written in the same transaction.
    assert ChangeEvent.objects.filter(user_id=user.pk, object_id=metric.pk).exists()
    before = computed_at(user)

    assert outbox.outbox_relay()["pending"] == 0  # beat's relay, in another process
    row.refresh_from_db()
    assert row.sent_at is not None
    assert computed_at(user) is not None and (before is None or computed_at(user) > before)
    assert current_types(user) == ["low_steps"]


def test_repeated_writes_while_the_cache_is_down_coalesce_into_one_pending_row(
    user, cache_down, django_capture_on_commit_callbacks
):
    for hour in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=hour)
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_log_create(
            user=user,
            meal_type="lunch",
            logged_at=at(utc_today() - timedelta(days=1)),
            calories=600,
        )
    (row,) = recommendation_rows(user)  # one pending row per person, however many writes
    # Each write's fast path found the cache down and left the row to the relay: on Redis it
    # sees the client's ConnectionInterrupted and declines; on the local cache the error is
    # raised through the fast path and counted as a failed attempt.
    assert row.sent_at is None and row.attempts in (0, 5)
    assert computed_at(user) is None

    cache_down.undo()  # Redis is back
    assert outbox.outbox_relay() == {"sent": 1, "pending": 0}
    assert computed_at(user) is not None


def test_a_refresh_left_pending_by_an_outage_runs_at_once_with_the_next_write(
    user, cache_down, settings, django_capture_on_commit_callbacks
):
    settings.RECOMMENDATIONS_DEBOUNCE_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=0)
    (row,) = recommendation_rows(user)
    cache_down.undo()  # Redis is back; the relay has not run yet, the person writes again
    OutboxTask.objects.filter(pk=row.pk).update(created_at=row.created_at - timedelta(minutes=6))
    with (
        mock.patch.object(tasks.compute_recommendations, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=1)
    # The write joined the old row, whose window is spent: run now, not 300 s from now.
    publish.assert_called_once_with(args=[user.pk])
    (joined,) = recommendation_rows(user)
    assert joined.pk == row.pk and joined.sent_at is not None


def test_with_the_cache_raising_connection_error_every_write_still_records_its_row(
    user, cache_down, django_capture_on_commit_callbacks
):
    goal_services.goal_create(user=user, goal_type="steps", target_value=8000)
    OutboxTask.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        metric = measure(user, "oxygen_saturation", 85, utc_today(), hour=0)
        measure(user, "steps", 9000, utc_today() - timedelta(days=1))
        rows = {row.task_name: row for row in OutboxTask.objects.all()}
    assert metric.pk is not None  # the write itself succeeded
    assert set(rows) == {
        RECOMMENDATIONS,
        "insights.check_alerts",
        "goals.recompute_goal_progress",
    }
    # Each row existed before the commit (captured here, as the callbacks had not run yet).
    assert rows[RECOMMENDATIONS].sent_at is None  # no debounce lock without the cache: pending
    # Work that needs no cache went ahead after commit: the goal's progress was recomputed
    # and the alert check ran, both inline (their rows then deleted).
    assert not OutboxTask.objects.filter(task_name="goals.recompute_goal_progress").exists()
    assert HealthGoal.objects.get(user=user).current_value == 9000
    assert not OutboxTask.objects.filter(task_name="insights.check_alerts").exists()
    assert HealthInsight.objects.alerts().filter(user=user).exists()
    assert list(OutboxTask.objects.pending()) == [rows[RECOMMENDATIONS]]


def test_with_the_cache_up_the_fast_path_schedules_once_and_leaves_nothing_pending(
    user, settings, django_capture_on_commit_callbacks
):
    settings.RECOMMENDATIONS_DEBOUNCE_SECONDS = 300
    for hour in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            measure(user, "steps", 100, utc_today() - timedelta(days=1), hour=hour)
    # Each write had its row before commit; the first scheduled the run (its row is marked
    # sent), the others were covered by it (the debounce lock; their rows are dropped, so the
    # table does not grow by a row per write): none is left for the relay.
    (row,) = recommendation_rows(user)
    assert row.sent_at is not None
    assert not OutboxTask.objects.pending().exists()


@pytest.mark.django_db
def test_a_time_zone_recut_queues_a_recommendations_refresh(
    user, caplog, django_capture_on_commit_callbacks
):
    from insights import receivers
    from metrics import services as metric_services

    with (
        mock.patch.object(receivers, "data_changed", wraps=receivers.data_changed) as changed,
        caplog.at_level(logging.ERROR),
        django_capture_on_commit_callbacks(execute=True),
    ):
        metric_services.rollups_recut(user_id=user.pk)
    changed.assert_called_once_with(user.pk)
    assert not [r for r in caplog.records if "rollups_recut receiver" in r.getMessage()]
