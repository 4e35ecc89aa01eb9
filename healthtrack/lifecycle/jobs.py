"""Recording lifecycle runs as RetentionJob rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from healthtrack.lifecycle.models import RetentionJob

logger = logging.getLogger(__name__)
# A run that fails on every month keeps its first errors only.
MAX_ERRORS = 50


def _error_text(exc: BaseException) -> str:
    # Our own messages name keys, months and counts; a foreign exception's text could quote
    # anything, so only its type is kept.
    from healthtrack.lifecycle.archive import ArchiveVerificationError

    if isinstance(exc, ArchiveVerificationError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def record_error(job: RetentionJob, where: str, exc: BaseException) -> None:
    """Append an error to the job (row-locked, so concurrent chunks do not lose one)."""
    logger.warning("lifecycle job %s: %s failed: %s", job.pk, where, type(exc).__name__)
    with transaction.atomic():
        locked = RetentionJob.objects.select_for_update().get(pk=job.pk)
        if len(locked.errors) < MAX_ERRORS:
            locked.errors.append(
                {"at": timezone.now().isoformat(), "where": where, "error": _error_text(exc)}
            )
        locked.status = RetentionJob.Status.FAILED
        locked.save(update_fields=["errors", "status"])


@contextmanager
def record_job(kind: str, **params: Any) -> Iterator[RetentionJob]:
    """A RetentionJob row for the run inside the block: done at the end, failed if the block
    raised (the exception goes on) or an error was recorded on the way."""
    job = RetentionJob.objects.create(kind=kind, params=params)
    try:
        yield job
    except BaseException as exc:
        record_error(job, "run", exc)
        RetentionJob.objects.filter(pk=job.pk).update(finished_at=timezone.now())
        raise
    finish(job)


def finish(job: RetentionJob) -> None:
    RetentionJob.objects.filter(pk=job.pk, status=RetentionJob.Status.RUNNING).update(
        status=RetentionJob.Status.DONE
    )
    RetentionJob.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    job.refresh_from_db()
