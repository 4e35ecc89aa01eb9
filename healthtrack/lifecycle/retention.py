"""The lifecycle jobs: the nightly archive and every "delete after" of DATA_LIFECYCLE, each
run recorded as a RetentionJob row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from auditlog.context import disable_auditlog
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import audit_prune
from accounts.models import ShareGrant
from healthtrack.lifecycle import archive
from healthtrack.lifecycle.jobs import finish, record_error, record_job
from healthtrack.lifecycle.models import RetentionJob
from insights.models import HealthInsight
from metrics.models import HealthMetric, HourlyRollup
from metrics.services import invalidate_summary_cache

BATCH = 5000
Kind = RetentionJob.Kind


def policy(data: str) -> dict[str, int | None]:
    return settings.DATA_LIFECYCLE[data]


def _cutoff(data: str, now: datetime) -> datetime | None:
    days = policy(data)["delete_after"]
    return None if days is None else now - timedelta(days=days)


def _delete_batched(queryset: QuerySet, *, owner_field: str | None = None) -> int:
    """Delete in batches of ids, one transaction each, without an audit entry per row. With
    `owner_field` (measurements), each owner's data version is replaced when a batch of theirs
    commits: the lists answer from pages kept under it."""
    model, total = queryset.model, 0
    while True:
        rows = list(queryset.values_list("pk", *([owner_field] if owner_field else []))[:BATCH])
        if not rows:
            return total
        with transaction.atomic(), disable_auditlog():
            total += model._base_manager.filter(pk__in=[row[0] for row in rows]).delete()[0]
            for owner_id in {row[1] for row in rows} if owner_field else ():
                transaction.on_commit(partial(invalidate_summary_cache, owner_id))


def run_archive(*, now: datetime | None = None) -> RetentionJob:
    """Archive every user-month of raw samples past the hot window."""
    now = now or timezone.now()
    with record_job(Kind.ARCHIVE, hot_days=policy("raw_samples")["hot"]) as job:
        archive.archive_due_months(job=job, now=now)
    return job


def delete_raw_samples(job: RetentionJob, now: datetime) -> None:
    cutoff = _cutoff("raw_samples", now)
    if cutoff is None:
        return
    # Archive files of months that ended before the cutoff's month (whole months only).
    files, rows = archive.delete_expired_archives(before=cutoff.date().replace(day=1))
    # Hot rows never archived (the archive job not run, or a month on hold). Daily rollups
    # are kept for ever and hourly ones by their own rule, so no rollup is recomputed.
    hot = _delete_batched(
        HealthMetric._base_manager.filter(recorded_at__lt=cutoff), owner_field="user_id"
    )
    job.rows_deleted = rows + hot
    job.params = {**job.params, "files_deleted": files}
    job.save(update_fields=["rows_deleted", "params"])


def delete_hourly_rollups(job: RetentionJob, now: datetime) -> None:
    cutoff = _cutoff("hourly_rollups", now)
    if cutoff is not None:
        job.rows_deleted = _delete_batched(HourlyRollup.objects.filter(period_start__lt=cutoff))
        job.save(update_fields=["rows_deleted"])


def delete_insights(job: RetentionJob, now: datetime) -> None:
    cutoff = _cutoff("insights", now)
    if cutoff is not None:
        job.rows_deleted = _delete_batched(HealthInsight.objects.filter(created_at__lt=cutoff))
        job.save(update_fields=["rows_deleted"])


def delete_share_grants(job: RetentionJob, now: datetime) -> None:
    """Grants that expired (or were revoked) more than `delete_after` days ago."""
    days = policy("share_grants")["delete_after"]
    if days is None:
        return
    cutoff = now - timedelta(days=days)
    old = ShareGrant.objects.filter(expires_at__lt=cutoff) | ShareGrant.objects.filter(
        revoked_at__lt=cutoff
    )
    job.rows_deleted = _delete_batched(old)
    job.save(update_fields=["rows_deleted"])


def delete_audit_logs(job: RetentionJob, now: datetime) -> None:
    """Through `accounts.audit.audit_prune`, the one path by which audit rows are deleted."""
    days = policy("audit_logs")["delete_after"]
    if days is not None:
        result = audit_prune(days=days)
        job.rows_deleted = result.log_entries + result.access_logs
        job.save(update_fields=["rows_deleted"])


DELETE_JOBS: dict[str, Callable[[RetentionJob, datetime], None]] = {
    Kind.DELETE_RAW: delete_raw_samples,
    Kind.DELETE_HOURLY: delete_hourly_rollups,
    Kind.DELETE_INSIGHTS: delete_insights,
    Kind.DELETE_SHARE_GRANTS: delete_share_grants,
    Kind.DELETE_AUDIT: delete_audit_logs,
}


def apply_retention(*, now: datetime | None = None) -> list[RetentionJob]:
    """Every "delete after" of the table, one RetentionJob each; one failing does not stop
    the others (it is recorded on its row)."""
    now = now or timezone.now()
    jobs = []
    for kind, delete in DELETE_JOBS.items():
        job = RetentionJob.objects.create(
            kind=kind, params={"now": now.astimezone(UTC).isoformat()}
        )
        try:
            delete(job, now)
        except Exception as exc:  # recorded on the job row; the next kind still runs
            record_error(job, kind, exc)
        finish(job)
        jobs.append(job)
    return jobs
