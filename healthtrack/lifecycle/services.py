"""Restore, recorded as a RetentionJob (the command and the admin action call this)."""

from __future__ import annotations

from django.db.models import F

from healthtrack.lifecycle import archive
from healthtrack.lifecycle.jobs import record_job
from healthtrack.lifecycle.models import RetentionJob


def archive_restore(*, user_id: int, first: tuple[int, int], last: tuple[int, int]) -> RetentionJob:
    """Bring a user's archived months first..last (year, month) back into the hot table with
    their rollups recomputed. Restoring twice adds nothing."""
    if last < first:
        raise ValueError("--to is before --from.")
    params = {
        "user": user_id,
        "from": f"{first[0]:04d}-{first[1]:02d}",
        "to": f"{last[0]:04d}-{last[1]:02d}",
    }
    with record_job(RetentionJob.Kind.RESTORE, **params) as job:
        restored = archive.restore_months(user_id=user_id, first=first, last=last)
        RetentionJob.objects.filter(pk=job.pk).update(rows_restored=F("rows_restored") + restored)
    return job


def archive_keys_rotate() -> str:
    """Re-encrypt archived notes under the first key of FERNET_KEYS (a hook of
    `manage.py rotate_encryption_keys`); returns its line of output."""
    with record_job(RetentionJob.Kind.ROTATE) as job:
        rewritten, current = archive.rotate_archive_keys(job=job)
        RetentionJob.objects.filter(pk=job.pk).update(params={"files_rewritten": rewritten})
    return f"archive files: {rewritten} re-encrypted, {current} already current"
