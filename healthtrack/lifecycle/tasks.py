"""Lifecycle tasks (routed to the maintenance queue). Each loads ids and calls one function;
each is safe to run twice (the archive and the deletes are idempotent)."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings

from healthtrack.lifecycle import replay, retention


@shared_task(name="lifecycle.archive_raw_samples")
def archive_raw_samples() -> int:
    """Nightly (beat): archive every user-month of raw samples past the hot window."""
    return retention.run_archive().pk


@shared_task(name="lifecycle.apply_retention")
def apply_retention() -> list[int]:
    """Nightly (beat): every "delete after" of DATA_LIFECYCLE."""
    return [job.pk for job in retention.apply_retention()]


@shared_task(
    name="lifecycle.replay_chunk",
    # Besides the countdown spacing of replay_start: a worker never runs more than this.
    rate_limit=f"{max(settings.LIFECYCLE_REPLAY_CHUNKS_PER_MINUTE, 1)}/m",
)
def replay_chunk(job_id: int, user_id: int, metric_type: str, first: str, last: str) -> None:
    replay.replay_chunk_run(
        job_id=job_id,
        chunk=replay.Chunk(
            user_id, metric_type, date.fromisoformat(first), date.fromisoformat(last)
        ),
    )
