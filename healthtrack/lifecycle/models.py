"""The data lifecycle's records: one row per job run, one per archived user-month file."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RetentionJob(models.Model):
    """One run of a lifecycle job: what it did and what went wrong (no health data)."""

    class Kind(models.TextChoices):
        ARCHIVE = "archive", "Archive raw samples"
        DELETE_RAW = "delete_raw_samples", "Delete raw samples"
        DELETE_HOURLY = "delete_hourly_rollups", "Delete hourly rollups"
        DELETE_INSIGHTS = "delete_insights", "Delete insights"
        DELETE_SHARE_GRANTS = "delete_share_grants", "Delete share grants"
        DELETE_AUDIT = "delete_audit_logs", "Delete audit logs"
        RESTORE = "restore", "Restore archived months"
        REPLAY = "replay", "Replay rollups"
        ROTATE = "rotate_archive_keys", "Re-encrypt archives"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    # What it was asked to do: user, months, dates (ids and dates only).
    params = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_archived = models.PositiveBigIntegerField(default=0)
    rows_deleted = models.PositiveBigIntegerField(default=0)
    rows_restored = models.PositiveBigIntegerField(default=0)
    bytes_written = models.PositiveBigIntegerField(default=0)
    # Replay: chunks queued and chunks done.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # [{"at", "where", "error"}]: the exception's type and a message without health data.
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="retention_job_kind_newest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def progress(self) -> str:
        if not self.chunks_total:
            return ""
        return f"{self.chunks_done}/{self.chunks_total}"


class ArchivedMonthQuerySet(models.QuerySet):
    def for_user(self, user) -> ArchivedMonthQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))

    def not_restored(self) -> ArchivedMonthQuerySet:
        return self.filter(restored_at__isnull=True)

    def between_months(
        self, first: tuple[int, int], last: tuple[int, int]
    ) -> ArchivedMonthQuerySet:
        qs = self.filter(models.Q(year__gt=first[0]) | models.Q(year=first[0], month__gte=first[1]))
        return qs.filter(models.Q(year__lt=last[0]) | models.Q(year=last[0], month__lte=last[1]))


class ArchivedMonth(models.Model):
    """One verified Parquet file in the archive storage: a user's raw samples of one type for
    one calendar month (UTC), `<user id>/<year>/<month>/<type>.parquet`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archived_months"
    )
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    data_type = models.CharField(max_length=32)
    key = models.CharField(max_length=255, help_text="Name in the archive storage.")
    rows = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    archived_at = models.DateTimeField(default=timezone.now)
    # Set while the month is back in the hot table (restore); the archive job leaves it there
    # for LIFECYCLE_RESTORE_HOLD_DAYS, then archives it again.
    restored_at = models.DateTimeField(null=True, blank=True)

    objects = ArchivedMonthQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "year", "month", "data_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "year", "month", "data_type"], name="archived_month_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.data_type} {self.year}-{self.month:02d}"
