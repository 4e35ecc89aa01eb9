"""Writes of the portability app: import jobs (create, run) and the account purge."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import AccessLog
from accounts.services import user_soft_delete
from healthtrack.core.outbox import enqueue_on_commit
from healthtrack.lifecycle import archive as lifecycle_archive
from healthtrack.portability import apple_health, csv_io, export
from healthtrack.portability.importing import (
    MAX_ERRORS,
    ZIP_MAGIC,
    ImportFailed,
    ImportReport,
    memory_limit,
)
from healthtrack.portability.models import ImportJob
from healthtrack.portability.validation import clean_import_kind, clean_kind_against_content
from metrics.models import DailyRollup, HealthMetric, HourlyRollup
from metrics.services import invalidate_summary_cache
from nutrition.models import MealPhoto
from nutrition.services import meal_photo_name_prefix

logger = logging.getLogger(__name__)

Kind = ImportJob.Kind
Status = ImportJob.Status

IMPORTERS: dict[str, Callable[..., None]] = {
    Kind.APPLE_HEALTH: apple_health.import_export,
    Kind.CSV_METRICS: csv_io.import_metrics_csv,
    Kind.CSV_NUTRITION: csv_io.import_nutrition_csv,
    Kind.JSON_EXPORT: export.import_json_export,
}
IMPORT_TASK = "portability.import_file"
# How much of an upload is read to tell its kind.
SNIFF_BYTES = 64 * 1024


# --- imports ---------------------------------------------------------------------------------


def detect_kind(head: bytes) -> str | None:
    """The kind of import a file's first bytes suggest, or None: our ZIP export (its first
    member `healthtrack-export.json`) or a JSON file with the export marker is a HealthTrack
    export, another ZIP or an XML file an Apple Health export, a CSV whose header names
    `metric_type` measurements and one naming `meal_type` diary entries."""
    data = head.removeprefix(b"\xef\xbb\xbf")
    if export.is_export_archive(data):
        return Kind.JSON_EXPORT
    if data.startswith(ZIP_MAGIC):
        return Kind.APPLE_HEALTH
    stripped = data.lstrip()
    if stripped.startswith(b"<"):
        return Kind.APPLE_HEALTH
    if stripped.startswith(b"{"):
        return Kind.JSON_EXPORT if f'"{export.EXPORT_FORMAT}"'.encode() in data else None
    first_line = data.split(b"\n", 1)[0]
    try:
        header = next(csv.reader([first_line.decode("utf-8").strip("\r")]), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    columns = {name.strip().lower() for name in header}
    if "metric_type" in columns:
        return Kind.CSV_METRICS
    if "meal_type" in columns:
        return Kind.CSV_NUTRITION
    return None


def import_job_create(*, user, upload: UploadedFile, kind: str | None = None) -> ImportJob:
    """Store the upload privately, create its job and run it after commit (Celery task
    `portability.import_file`, queue "imports", sent through the outbox). `kind` None: told
    from the content; a kind the content contradicts is refused (400)."""
    clean_import_kind(kind)
    upload.seek(0)
    detected = detect_kind(upload.read(SNIFF_BYTES))
    upload.seek(0)
    kind = clean_kind_against_content(kind, detected=detected)

    with transaction.atomic():
        job = ImportJob(
            user=user, kind=kind, original_name=(upload.name or "")[-255:], size=upload.size or 0
        )
        job.file.save(upload.name or "upload", upload, save=False)
        job.save()
        # Through the outbox: a broker outage leaves the job pending, not the upload failed.
        enqueue_on_commit(IMPORT_TASK, {"job_id": job.pk}, dedupe_key=f"import:{job.pk}")
    return job


def _raw_file(fileobj) -> IO[bytes]:
    """The binary file object under Django's File wrappers (CSV reading wraps it in text)."""
    while not isinstance(fileobj, io.IOBase) and hasattr(fileobj, "file"):
        fileobj = fileobj.file
    return fileobj


def import_job_execute(
    *,
    job: ImportJob,
    fileobj: IO[bytes],
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportJob:
    """Read `fileobj` into the job's user's data with the job kind's importer. The job shows
    progress while it runs and ends `done` (rows with errors are listed, valid rows stored)
    or `failed` (the file could not be read at all). Running it again is safe: every
    importer skips what is already stored."""
    job.status, job.started_at = Status.RUNNING, timezone.now()
    job.total = job.processed = job.error_count = 0
    job.errors, job.summary = [], {}
    job.save(
        update_fields=[
            "status",
            "started_at",
            "total",
            "processed",
            "error_count",
            "errors",
            "summary",
        ]
    )

    def progress(report: ImportReport) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            total=report.total,
            processed=report.processed,
            errors=list(report.errors),
            error_count=report.error_count,
        )
        if on_progress is not None:
            on_progress(report)

    report = ImportReport(on_progress=progress)
    status = Status.DONE
    try:
        IMPORTERS[job.kind](
            user=job.user, fileobj=fileobj, report=report, key_prefix=f"import:{job.pk}"
        )
    except ImportFailed as exc:
        status = Status.FAILED
        report.error(line=None, field="file", message=str(exc))
    except MemoryError:
        status = Status.FAILED
        report.error(
            line=None,
            field="file",
            message="The import ran out of memory (IMPORT_MEMORY_LIMIT_MB); the rows before "
            "it are stored.",
        )
    except Exception as exc:
        # The exception's text may quote database rows: only its type is logged.
        logger.error("import %s stopped: %s", job.pk, type(exc).__name__)
        status = Status.FAILED
        report.error(
            line=None,
            field="file",
            message="The import stopped on an internal error; the rows before it are stored.",
        )
    report.report()
    job.status, job.finished_at = status, timezone.now()
    job.total, job.processed = report.total, report.processed
    job.errors, job.error_count, job.summary = (
        list(report.errors),
        report.error_count,
        report.summary(),
    )
    job.save(
        update_fields=[
            "status",
            "finished_at",
            "total",
            "processed",
            "errors",
            "error_count",
            "summary",
        ]
    )
    return job


def import_job_start(*, job_id: int) -> ImportJob | None:
    """Claim one attempt at a pending (or interrupted) job: the job row counts how often a
    worker has started it, so a job whose worker died under it (killed, out of memory; late
    acks then deliver it again) is started at most IMPORT_MAX_ATTEMPTS times, then marked
    failed with the reason and its upload deleted. None: there is nothing to run (no such
    job, or it is finished)."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[Status.PENDING, Status.RUNNING]
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return None
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    if job.attempts <= settings.IMPORT_MAX_ATTEMPTS:
        return job
    died = job.attempts - 1
    logger.error("import %s given up after %d interrupted attempts", job.pk, died)
    job.status, job.finished_at = Status.FAILED, timezone.now()
    job.errors = [
        *(job.errors or [])[: MAX_ERRORS - 1],
        {
            "line": None,
            "field": "file",
            "message": f"The import stopped its worker {died} times (out of memory, killed or "
            "timed out) and was not started again; the rows stored before are kept.",
        },
    ]
    job.error_count += 1
    job.save(update_fields=["status", "finished_at", "errors", "error_count"])
    import_job_file_delete(job=job)
    return None


def import_job_run(*, job_id: int) -> ImportJob | None:
    """The task's body: run a pending (or interrupted) job on its stored upload within the
    memory limit (IMPORT_MEMORY_LIMIT_MB), then delete the upload. A finished or vanished
    job is left alone; one started too often is failed (`import_job_start`)."""
    job = import_job_start(job_id=job_id)
    if job is None:
        return ImportJob.objects.filter(pk=job_id).first()
    if not job.file:
        job.status, job.finished_at = Status.FAILED, timezone.now()
        job.errors = [{"line": None, "field": "file", "message": "The upload is gone."}]
        job.error_count = 1
        job.save(update_fields=["status", "finished_at", "errors", "error_count"])
        return job
    with job.file.open("rb") as stored, memory_limit(settings.IMPORT_MEMORY_LIMIT_MB):
        import_job_execute(job=job, fileobj=_raw_file(stored))
    import_job_file_delete(job=job)
    return job


def import_job_file_delete(*, job: ImportJob) -> None:
    """Delete a job's stored upload (it holds health data) and forget its name."""
    if job.file:
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")


# --- erasure ---------------------------------------------------------------------------------

# Kept when an account is purged: the audit trails (scrubbed of health values, see below).
KEPT_MODELS = {LogEntry, AccessLog}
# Large tables deleted in batches before the account itself.
BATCHED_MODELS = [HealthMetric, HourlyRollup, DailyRollup]
PURGE_BATCH = 5000


@dataclass(frozen=True)
class PurgeResult:
    user_id: int
    deleted: dict[str, int]
    scrubbed_log_entries: int


def purge_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.ACCOUNT_PURGE_AFTER_DAYS)


def purge_date(user) -> datetime | None:
    """When a deleted account's data will be purged."""
    if user.deleted_at is None:
        return None
    return user.deleted_at + timedelta(days=settings.ACCOUNT_PURGE_AFTER_DAYS)


def _user_relations() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every (model, foreign key) pointing at the user model, proxies left out."""
    user_model = get_user_model()
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is user_model:
                found.append((model, field))
    return found


def _cascading_rows(user) -> list[tuple[type[models.Model], models.QuerySet]]:
    """(model, rows) of every table whose rows go when the user is deleted: rows with a
    CASCADE foreign key to the user and, further down, rows cascading from those (a diary
    entry's photo), the kept audit trails left out."""
    found: list[tuple[type[models.Model], models.QuerySet]] = []
    parents = [
        (model, model._base_manager.filter(**{field.name: user}))
        for model, field in _user_relations()
        if field.remote_field.on_delete is models.CASCADE and model not in KEPT_MODELS
    ]
    seen = {model for model, _ in parents} | {get_user_model()}
    while parents:
        found += parents
        children = []
        for model in apps.get_models():
            if model._meta.proxy or model in seen or model in KEPT_MODELS:
                continue
            for field in model._meta.concrete_fields:
                if not field.is_relation or field.remote_field.on_delete is not models.CASCADE:
                    continue
                for parent, rows in parents:
                    if field.related_model is parent:
                        children.append(
                            (model, model._base_manager.filter(**{f"{field.name}__in": rows}))
                        )
                        seen.add(model)
        parents = children
    return found


def _removed_row_entries(user) -> list[tuple[type[models.Model], models.QuerySet]]:
    """Audit entries of rows the user owned that were deleted before the purge (a reading or a
    diary entry they deleted themselves): no row is left to find them by, but each entry's
    changes name the owner's id on its foreign key to the user ("user": ["5", null])."""
    owner_id = str(user.pk)
    found = []
    for model, field in _user_relations():
        if field.remote_field.on_delete is not models.CASCADE or model in KEPT_MODELS:
            continue
        if not auditlog.contains(model):
            continue
        names = models.Q(**{f"changes__{field.name}__0": owner_id}) | models.Q(
            **{f"changes__{field.name}__1": owner_id}
        )
        content_type = ContentType.objects.get_for_model(model)
        found.append((model, LogEntry.objects.filter(names, content_type=content_type)))
    return found


def _removed_photo_entries(user) -> models.QuerySet:
    """Audit entries of the user's meal photos replaced or removed before the purge: no row is
    left to find them by, but every stored name of theirs starts with the user's id."""
    prefix = meal_photo_name_prefix(user.pk)
    names = models.Q()
    for field in ("image_name", "thumbnail_name"):
        for side in (0, 1):  # [old, new]
            names |= models.Q(**{f"changes__{field}__{side}__startswith": prefix})
    return LogEntry.objects.filter(names, content_type=ContentType.objects.get_for_model(MealPhoto))


def _scrub_audit(user) -> int:
    """Remove personal and health values from the change history of the user's account and
    of every row it owns (rows deleted with it, down to a diary entry's photo, and rows and
    photos it deleted before): the entries stay (what happened, when, by whom), their field
    values and the object's text go. Entries the user wrote about others' rows keep their
    content, with the actor reduced to an id-free label."""
    scrubbed = 0
    placeholder = f"purged user {user.pk}"
    targets = [(get_user_model(), get_user_model()._base_manager.filter(pk=user.pk))]
    targets += [(m, rows) for m, rows in _cascading_rows(user) if auditlog.contains(m)]
    entries = [
        (
            model,
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=rows.values("pk"),
            ),
        )
        for model, rows in targets
    ]
    entries += _removed_row_entries(user)
    entries.append((MealPhoto, _removed_photo_entries(user)))
    for model, about in entries:
        scrubbed += about.update(
            changes=None,
            changes_text="",
            serialized_data=None,
            additional_data=None,
            object_repr=f"{model._meta.verbose_name} (purged)",
            remote_addr=None,
        )
    LogEntry.objects.filter(actor=user).update(actor_email=placeholder, remote_addr=None)
    return scrubbed


def _delete_in_batches(queryset: models.QuerySet, batch: int = PURGE_BATCH) -> int:
    model, total = queryset.model, 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic(), disable_auditlog():
            total += model._base_manager.filter(pk__in=ids).delete()[0]


def account_purge(*, user, actor=None) -> PurgeResult:
    """Delete the account and every row of its data now (measurements, devices, diary,
    goals, insights, share grants, care teams, imports and their files, tokens), keeping
    the audit trails: auditlog entries about the user's rows lose their values (see
    `_scrub_audit`) and one entry records the purge (row counts only); AccessLog rows stay.
    Interrupted, it can simply be run again."""
    user_id = user.pk
    deleted: Counter = Counter()
    for job in ImportJob.objects.filter(user=user).exclude(file=""):
        import_job_file_delete(job=job)
    # Archived months (Parquet files in the archive storage) and their records.
    deleted["lifecycle.archive_files"] += lifecycle_archive.user_archive_delete(user_id=user_id)
    with transaction.atomic():
        scrubbed = _scrub_audit(user)
    for model in BATCHED_MODELS:
        deleted[model._meta.label] += _delete_in_batches(model._base_manager.filter(user=user))
    invalidate_summary_cache(user_id)  # no cached summary or list page outlives the rows
    with transaction.atomic(), disable_auditlog():
        scrubbed += _scrub_audit(user)
        deleted.update(OutstandingToken.objects.filter(user=user).delete()[1])
        deleted.update(user.delete()[1])
        LogEntry.objects.create(
            content_type=ContentType.objects.get_for_model(get_user_model()),
            object_pk=str(user_id),
            object_id=user_id,
            object_repr=f"user {user_id} (purged)",
            action=LogEntry.Action.DELETE,
            changes={"purged": ["", json.dumps(dict(sorted(deleted.items())))]},
            actor=actor,
        )
    return PurgeResult(user_id=user_id, deleted=dict(deleted), scrubbed_log_entries=scrubbed)


def account_delete_and_purge(*, user, actor=None) -> PurgeResult:
    """An administrator's purge on request: deactivate and revoke tokens (if not done
    already), then purge at once."""
    if user.deleted_at is None:
        user_soft_delete(user=user)
    return account_purge(user=user, actor=actor)


def deleted_accounts_purge(*, now: datetime | None = None) -> int:
    """Purge every account deleted more than ACCOUNT_PURGE_AFTER_DAYS ago; returns how many.
    The beat job `portability.purge_deleted_accounts` runs it daily."""
    cutoff = purge_cutoff(now)
    user_model = get_user_model()
    due = list(
        user_model.objects.filter(deleted_at__isnull=False, deleted_at__lte=cutoff).values_list(
            "pk", flat=True
        )
    )
    purged = 0
    for user_id in due:
        user = user_model.objects.filter(pk=user_id, deleted_at__lte=cutoff).first()
        if user is None:
            continue
        account_purge(user=user)
        purged += 1
    logger.info("purged %d deleted account(s)", purged)
    return purged
