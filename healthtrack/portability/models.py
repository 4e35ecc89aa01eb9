"""Import jobs: one uploaded file (Apple Health export, CSV, HealthTrack JSON export) being
read into a user's data by a Celery task, with its progress and row-level errors."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone

# Stored uploads keep only a known extension; the name is random (never the user's).
STORED_EXTENSIONS = {".zip", ".xml", ".csv", ".json"}


def import_upload_to(job: ImportJob, filename: str) -> str:
    """A private path under the default storage (MEDIA_ROOT is not served by any URL)."""
    ext = PurePosixPath(filename).suffix.lower()
    if ext not in STORED_EXTENSIONS:
        ext = ""
    return f"private/imports/{job.user_id}/{uuid.uuid4().hex}{ext}"


class ImportJobQuerySet(models.QuerySet):
    def for_user(self, user) -> ImportJobQuerySet:
        return self.filter(user_id=getattr(user, "pk", user))


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        APPLE_HEALTH = "apple_health", "Apple Health export (export.zip or export.xml)"
        CSV_METRICS = "csv_metrics", "CSV of measurements"
        CSV_NUTRITION = "csv_nutrition", "CSV of nutrition diary entries"
        JSON_EXPORT = "json_export", "HealthTrack JSON export"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Records (Apple Health) or data rows (CSV, JSON) in the file, and how many were read.
    total = models.PositiveBigIntegerField(default=0)
    processed = models.PositiveBigIntegerField(default=0)
    # The first errors (capped, see portability.importing.MAX_ERRORS): {line, field, message};
    # messages name the field and the rule, never the value.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    # Counts: created, updated, duplicates, skipped by reason, unknown record types.
    summary = models.JSONField(default=dict, blank=True)
    # The upload, deleted once the job is finished (it holds health data).
    file = models.FileField(upload_to=import_upload_to, max_length=255, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # How many times a worker has started the job (portability.services.import_job_start).
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="import_job_user_newest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
