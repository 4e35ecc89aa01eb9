"""Rollup replay: queued in chunks, rate-limited, progress on the job, and the result equals a
recomputation from scratch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from healthtrack.celery import app as celery_app
from healthtrack.lifecycle import replay, retention, tasks
from healthtrack.lifecycle.models import RetentionJob
from metrics import rollups
from metrics import services as metric_services
from metrics.models import DailyRollup, HourlyRollup
from tests.lifecycle.data import month_of_samples, months_ago, rollup_snapshot
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def _overlapping_steps(user, start: datetime, days: int) -> None:
    """Two devices counting the same walks: the de-duplication spans chunk borders."""
    watch = DeviceFactory(user=user, device_type="apple_watch", priority=100)
    phone = DeviceFactory(user=user, device_type="iphone", priority=80)
    for day in range(days):
        moment = start + timedelta(days=day, hours=22)
        for device, value in ((watch, 1000), (phone, 1200)):
            metric_services.metric_create(
                user=user,
                metric_type="steps",
                value=value + day,
                unit="count",
                recorded_at=moment,
                end_at=moment + timedelta(hours=3),  # into the next day
                device=device,
            )
        metric_services.metric_create(
            user=user, metric_type="weight", value=70 + day / 10, unit="kg", recorded_at=moment
        )


def _from_scratch(*users) -> dict:
    HourlyRollup.objects.all().delete()
    DailyRollup.objects.all().delete()
    for u in users:
        rollups.recompute_all(user_id=u.pk)
    return {u.pk: rollup_snapshot(u) for u in users}


def _corrupt(user) -> None:
    DailyRollup.objects.filter(user=user).update(value=0, count=99)
    HourlyRollup.objects.filter(user=user, period_start__hour=22).delete()
    DailyRollup.objects.create(
        user=user,
        metric_type="heart_rate",
        day=date.today() - timedelta(days=40),
        value=5,
        min_value=5,
        max_value=5,
        count=1,
    )


def test_replay_in_chunks_equals_a_recomputation_from_scratch(
    settings, user, other_user, django_capture_on_commit_callbacks
):
    settings.LIFECYCLE_REPLAY_CHUNK_DAYS = 4
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=45
    )
    _overlapping_steps(user, start, 20)
    _overlapping_steps(other_user, start, 5)
    expected = _from_scratch(user, other_user)
    _corrupt(user)
    _corrupt(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "replay_rollups",
            all=True,
            first=str((start - timedelta(days=10)).date()),
            last=str(date.today()),
        )

    assert {u.pk: rollup_snapshot(u) for u in (user, other_user)} == expected
    job = RetentionJob.objects.get(kind="replay")
    assert job.status == "done" and job.finished_at is not None
    assert job.chunks_total > 4 and job.chunks_done == job.chunks_total and job.progress


def test_replay_for_one_user_leaves_the_others_alone(
    user, other_user, django_capture_on_commit_callbacks
):
    start = datetime.now(UTC) - timedelta(days=10)
    _overlapping_steps(user, start, 3)
    _overlapping_steps(other_user, start, 3)
    expected = _from_scratch(user, other_user)
    _corrupt(user)
    _corrupt(other_user)
    broken = rollup_snapshot(other_user)
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "replay_rollups", user=user.username, first="2000-01-01", last=str(date.today())
        )
    assert rollup_snapshot(user) == expected[user.pk]
    assert rollup_snapshot(other_user) == broken


def test_replay_leaves_archived_months_and_their_rollups_alone(
    user, django_capture_on_commit_callbacks
):
    year, month = months_ago(6)
    month_of_samples(user, year, month)
    retention.run_archive()
    before = rollup_snapshot(user)
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "replay_rollups",
            user=str(user.pk),
            first=f"{year}-{month:02d}-01",
            last=str(date.today()),
        )
    assert rollup_snapshot(user) == before and before[1]
    chunks = replay.plan(user_id=user.pk, first=date(year, month, 1), last=date.today())
    assert chunks and all((c.first.year, c.first.month) != (year, month) for c in chunks)
    assert all((c.last.year, c.last.month) != (year, month) for c in chunks)


def test_replay_chunks_go_to_the_maintenance_queue_spaced_by_the_rate(
    settings, user, monkeypatch, django_capture_on_commit_callbacks
):
    settings.LIFECYCLE_REPLAY_CHUNK_DAYS = 2
    settings.LIFECYCLE_REPLAY_CHUNKS_PER_MINUTE = 30
    _overlapping_steps(user, datetime.now(UTC) - timedelta(days=8), 6)
    route = celery_app.amqp.router.route({}, "lifecycle.replay_chunk")
    assert route["queue"].name == "maintenance"
    queued = []
    monkeypatch.setattr(
        tasks.replay_chunk, "apply_async", lambda args, countdown: queued.append(countdown)
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = replay.replay_start(
            user_id=user.pk, first=date.today() - timedelta(days=9), last=date.today()
        )
    assert len(queued) == job.chunks_total > 2
    assert queued == [i * 2.0 for i in range(len(queued))]


def test_replay_command_explains_bad_arguments(user):
    with pytest.raises(CommandError, match="not a date"):
        call_command("replay_rollups", all=True, first="yesterday", last="2025-01-01")
    with pytest.raises(CommandError, match="before"):
        call_command("replay_rollups", all=True, first="2025-02-01", last="2025-01-01")
    with pytest.raises(CommandError):
        call_command("replay_rollups", first="2025-01-01", last="2025-01-02")
