"""Goal progress after a burst of writes: one run per person and measures per window
(GOAL_PROGRESS_COALESCE_SECONDS), due at the window's end, with nothing left for the relay;
none of it is ever dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from celery import current_app
from django.core.cache import cache, caches

from healthtrack.core import outbox
from healthtrack.core.models import OutboxTask
from metrics import services
from tests.accounts.factories import UserFactory
from tests.goals.factories import HealthGoalFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)
TASK = "goals.recompute_goal_progress"


@pytest.fixture
def weigher():
    user = UserFactory()
    HealthGoalFactory(user=user, metric_type="weight", goal_type="weight")
    return user


def weigh(user, minutes: int, commit) -> None:
    with commit(execute=True):
        services.metric_create(
            user=user, metric_type="weight", value=80, recorded_at=AT + timedelta(minutes=minutes)
        )


def progress_runs(send) -> list:
    return [c for c in send.call_args_list if c.args[0] == TASK]


def goal_rows(user):
    return OutboxTask.objects.filter(task_name=TASK, kwargs__user_id=user.pk)


def test_a_burst_of_writes_makes_one_run_due_at_the_windows_end(
    weigher, broker, settings, django_capture_on_commit_callbacks
):
    settings.GOAL_PROGRESS_COALESCE_SECONDS = 5
    for minute in range(4):
        weigh(weigher, minute, django_capture_on_commit_callbacks)
    (run,) = progress_runs(broker)
    assert run.kwargs["kwargs"] == {"user_id": weigher.pk, "metric_types": ["weight"]}
    assert run.kwargs["countdown"] == 6  # the window's 5 s and a second, after its claim expired
    # The first write's row is sent; the covered ones were deleted; nothing for the relay.
    (row,) = goal_rows(weigher)
    assert row.sent_at is not None
    assert not OutboxTask.objects.pending().filter(task_name=TASK).exists()


def test_the_next_write_after_the_window_schedules_the_next_run(
    weigher, broker, settings, django_capture_on_commit_callbacks
):
    settings.GOAL_PROGRESS_COALESCE_SECONDS = 5
    weigh(weigher, 0, django_capture_on_commit_callbacks)
    (row,) = goal_rows(weigher)
    cache.delete(outbox._window_key(row.dedupe_key))  # the claim expired: the window is over
    weigh(weigher, 1, django_capture_on_commit_callbacks)
    assert len(progress_runs(broker)) == 2


def test_people_and_measures_are_coalesced_apart(
    weigher, broker, settings, django_capture_on_commit_callbacks
):
    settings.GOAL_PROGRESS_COALESCE_SECONDS = 5
    other = UserFactory()
    HealthGoalFactory(user=other, metric_type="weight", goal_type="weight")
    weigh(weigher, 0, django_capture_on_commit_callbacks)
    weigh(other, 0, django_capture_on_commit_callbacks)
    assert sorted(c.kwargs["kwargs"]["user_id"] for c in progress_runs(broker)) == sorted(
        [weigher.pk, other.pk]
    )


def test_without_a_window_every_write_runs_at_once(
    weigher, broker, settings, django_capture_on_commit_callbacks
):
    settings.GOAL_PROGRESS_COALESCE_SECONDS = 0
    for minute in range(2):
        weigh(weigher, minute, django_capture_on_commit_callbacks)
    runs = progress_runs(broker)
    assert len(runs) == 2
    assert all("countdown" not in run.kwargs for run in runs)


def test_a_row_the_claim_could_not_be_made_for_stays_pending_for_the_relay(
    weigher, broker, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.GOAL_PROGRESS_COALESCE_SECONDS = 5

    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    backend = caches["default"]
    with monkeypatch.context() as patched:
        patched.setattr(type(backend), "add", down)
        if type(backend).__module__.startswith("django_redis"):
            from django_redis.exceptions import ConnectionInterrupted

            def interrupted(*args, **kwargs):
                raise ConnectionInterrupted(connection=None)

            patched.setattr(type(backend.client), "add", interrupted)
        weigh(weigher, 0, django_capture_on_commit_callbacks)
    assert not progress_runs(broker)
    (row,) = goal_rows(weigher)
    assert row.sent_at is None
    outbox._set_breaker(open_=False)
    with mock.patch.object(current_app, "send_task") as relay_send:
        outbox.outbox_relay()
    assert [c.args[0] for c in relay_send.call_args_list].count(TASK) == 1
