"""Rollup replay: recompute the hourly and daily rollups of a date range from the raw samples
(after a fix to the rollup code), in chunks on the maintenance queue, rate-limited, with the
progress on a RetentionJob row.

A day whose raw samples are not in the hot table is left alone: a month in the archive (not
restored) or past the raw samples' "delete after" keeps the rollups it has (restore it first
to replay it). Chunks cover whole days, so their union is a recomputation from scratch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from healthtrack.core import days as calendar
from healthtrack.lifecycle.jobs import record_error
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from metrics import rollups
from metrics.models import DailyRollup, HealthMetric, HourlyRollup


@dataclass(frozen=True)
class Chunk:
    user_id: int
    metric_type: str
    first: date
    last: date


def _users_and_types(user_id: int | None, first: date, last: date) -> set[tuple[int, str]]:
    """(user, type) pairs with raw samples or rollups in the range (days are each owner's
    local days: the instants are widened by a day each side, enough for any zone)."""
    lo = rollups.day_start(first) - rollups.DAY
    hi = rollups.day_start(last) + 2 * rollups.DAY
    found: set[tuple[int, str]] = set()
    sources = [
        HealthMetric._base_manager.filter(recorded_at__gte=lo, recorded_at__lt=hi),
        DailyRollup.objects.filter(day__gte=first, day__lte=last),
        HourlyRollup.objects.filter(period_start__gte=lo, period_start__lt=hi),
    ]
    for qs in sources:
        if user_id is not None:
            qs = qs.filter(user_id=user_id)
        found.update(qs.values_list("user_id", "metric_type").distinct().order_by())
    return found


def _replayable_runs(user_id: int, metric_type: str, first: date, last: date) -> list[list[date]]:
    """Runs of consecutive days (the owner's local days) in first..last whose raw samples are
    hot: both archive months (UTC) a local day may straddle."""
    tz = calendar.zone_of(user_id)
    held = set(
        ArchivedMonth.objects.filter(
            user_id=user_id, data_type=metric_type, restored_at__isnull=True
        ).values_list("year", "month")
    )
    days = settings.DATA_LIFECYCLE["raw_samples"]["delete_after"]
    oldest = (timezone.now() - timedelta(days=days)).astimezone(UTC).date() if days else None
    runs: list[list[date]] = []
    day = first
    while day <= last:
        lo = calendar.day_start(day, tz)
        hi = calendar.day_start(day + timedelta(days=1), tz) - timedelta(microseconds=1)
        months = {(lo.year, lo.month), (hi.year, hi.month)}
        ok = not months & held and (oldest is None or day >= oldest)
        if ok:
            if runs and runs[-1][1] == day - timedelta(days=1):
                runs[-1][1] = day
            else:
                runs.append([day, day])
        day += timedelta(days=1)
    return runs


def plan(*, user_id: int | None, first: date, last: date) -> list[Chunk]:
    size = max(settings.LIFECYCLE_REPLAY_CHUNK_DAYS, 1)
    chunks = []
    for uid, code in sorted(_users_and_types(user_id, first, last)):
        for run_first, run_last in _replayable_runs(uid, code, first, last):
            start = run_first
            while start <= run_last:
                end = min(start + timedelta(days=size - 1), run_last)
                chunks.append(Chunk(uid, code, start, end))
                start = end + timedelta(days=1)
    return chunks


def replay_start(*, user_id: int | None, first: date, last: date) -> RetentionJob:
    """Plan the chunks, record the job, queue one task per chunk spaced by the rate limit."""
    from healthtrack.lifecycle import tasks

    if last < first:
        raise ValueError("--to is before --from.")
    chunks = plan(user_id=user_id, first=first, last=last)
    job = RetentionJob.objects.create(
        kind=RetentionJob.Kind.REPLAY,
        params={"user": user_id, "from": first.isoformat(), "to": last.isoformat()},
        chunks_total=len(chunks),
    )
    if not chunks:
        RetentionJob.objects.filter(pk=job.pk).update(
            status=RetentionJob.Status.DONE, finished_at=timezone.now()
        )
    per_minute = max(settings.LIFECYCLE_REPLAY_CHUNKS_PER_MINUTE, 1)

    def enqueue() -> None:
        for index, chunk in enumerate(chunks):
            tasks.replay_chunk.apply_async(
                args=[job.pk, chunk.user_id, chunk.metric_type, str(chunk.first), str(chunk.last)],
                countdown=index * 60.0 / per_minute,
            )

    transaction.on_commit(enqueue)
    job.refresh_from_db()
    return job


def replay_chunk_run(*, job_id: int, chunk: Chunk) -> None:
    """Recompute one chunk and count it done (the last one finishes the job)."""
    job = RetentionJob.objects.get(pk=job_id)
    try:
        with transaction.atomic():
            rollups.recompute_days(
                user_id=chunk.user_id,
                metric_type=chunk.metric_type,
                first=chunk.first,
                last=chunk.last,
            )
    except Exception as exc:  # recorded on the job; the chunk still counts as handled
        record_error(job, f"user {chunk.user_id} {chunk.metric_type} {chunk.first}", exc)
    RetentionJob.objects.filter(pk=job_id).update(chunks_done=F("chunks_done") + 1)
    RetentionJob.objects.filter(
        pk=job_id, chunks_done__gte=F("chunks_total"), finished_at__isnull=True
    ).update(finished_at=timezone.now())
    RetentionJob.objects.filter(
        pk=job_id, chunks_done__gte=F("chunks_total"), status=RetentionJob.Status.RUNNING
    ).update(status=RetentionJob.Status.DONE)
