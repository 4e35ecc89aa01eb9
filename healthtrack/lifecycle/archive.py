"""The Parquet archive of raw samples: one file per user, UTC month and metric type.

Writing a month (`archive_user_month`):
1. a month with an earlier file gets that file's rows back into the hot table first (they
   are all hot again, so nothing is lost whatever happens next);
2. the month's hot rows are written to `<user>/<year>/<month>/<type>.parquet` (Snappy), then
   read back from the storage: the SHA-256 of the bytes and the row ids must match;
3. one transaction records the file (`ArchivedMonth`) and deletes exactly the rows written.
A crash anywhere before 3 leaves every row hot and the next run writes the file again; 3 is
all or nothing. Rollups are not touched: daily rollups are kept for ever, hourly ones by their
own "delete after".

Notes stay encrypted: the archive holds the column's Fernet token as stored, never the text.
`rotate_archive_keys` re-encrypts archived tokens under the first key of FERNET_KEYS (the
key rotation command runs it), so an old key can be dropped once it has run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditlog.context import disable_auditlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import BinaryField, ExpressionWrapper, F
from django.db.models.functions import TruncMonth
from django.utils import timezone

from healthtrack.core import days as calendar
from healthtrack.lifecycle.jobs import record_error
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from metrics import rollups
from metrics import services as metric_services
from metrics.models import Device, HealthMetric

STORAGE_ALIAS = "lifecycle_archive"
COLUMNS = [
    "id",
    "metric_type",
    "value",
    "unit",
    "recorded_at",
    "end_at",
    "device_id",
    "source_app",
    "external_id",
    "metadata",
    "notes_token",
    "created_at",
]


def _arrow():
    """pyarrow, imported when an archive is written or read: it costs every process that
    loads this module ~60 MB of memory otherwise (web and import workers never need it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


@functools.cache
def _schema():
    pa, _ = _arrow()
    return pa.schema(
        [
            ("id", pa.int64()),
            ("metric_type", pa.string()),
            ("value", pa.float64()),
            ("unit", pa.string()),
            ("recorded_at", pa.timestamp("us", tz="UTC")),
            ("end_at", pa.timestamp("us", tz="UTC")),
            ("device_id", pa.int64()),
            ("source_app", pa.string()),
            ("external_id", pa.string()),
            ("metadata", pa.string()),  # JSON text
            ("notes_token", pa.binary()),  # the Fernet token as stored, or null
            ("created_at", pa.timestamp("us", tz="UTC")),
        ]
    )


class ArchiveVerificationError(Exception):
    """A file read back from the storage is not the one written."""


def archive_storage():
    return storages[STORAGE_ALIAS]


def month_key(user_id: int, year: int, month: int, data_type: str) -> str:
    return f"{user_id}/{year}/{month:02d}/{data_type}.parquet"


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def hot_cutoff(now: datetime | None = None) -> datetime:
    """Samples recorded before this are past the hot window."""
    days = settings.DATA_LIFECYCLE["raw_samples"]["hot"]
    return (now or timezone.now()) - timedelta(days=days)


# --- reading and writing files -----------------------------------------------------------------


def _hot_rows(user_id: int, data_type: str, start: datetime, end: datetime) -> list[dict]:
    rows = (
        HealthMetric._base_manager.filter(
            user_id=user_id, metric_type=data_type, recorded_at__gte=start, recorded_at__lt=end
        )
        # The stored token, not the decrypted note.
        .annotate(notes_token=ExpressionWrapper(F("notes"), output_field=BinaryField()))
        .order_by("recorded_at", "id")
        .values(*COLUMNS)
    )
    out = []
    for row in rows:
        row["metadata"] = json.dumps(row["metadata"], separators=(",", ":"), sort_keys=True)
        if row["notes_token"] is not None:
            row["notes_token"] = bytes(row["notes_token"])
        out.append(row)
    return out


def _to_parquet(rows: list[dict]) -> bytes:
    pa, pq = _arrow()
    table = pa.Table.from_pylist(rows, schema=_schema())
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def _read_bytes(key: str) -> bytes:
    with archive_storage().open(key, "rb") as handle:
        return handle.read()


def read_month(archived: ArchivedMonth) -> list[dict]:
    """The rows of an archived month, checked against the checksum and row count recorded."""
    data = _read_bytes(archived.key)
    if hashlib.sha256(data).hexdigest() != archived.sha256:
        raise ArchiveVerificationError(f"{archived.key}: checksum differs from the record")
    rows = _arrow()[1].read_table(io.BytesIO(data)).to_pylist()
    if len(rows) != archived.rows:
        raise ArchiveVerificationError(f"{archived.key}: row count differs from the record")
    return rows


def _write_verified(key: str, rows: list[dict]) -> tuple[str, int]:
    """Write, read back, compare; returns (sha256, size)."""
    data = _to_parquet(rows)
    digest = hashlib.sha256(data).hexdigest()
    # Replaces a file a crashed run left, or the one being rewritten, in one step (S3 PUT,
    # ArchiveFileSystemStorage's rename): the old copy stays whole until the new one is there.
    saved = archive_storage().save(key, ContentFile(data))
    if saved != key:
        raise ArchiveVerificationError(f"{key}: stored under another name ({saved})")
    back = _read_bytes(key)
    if hashlib.sha256(back).hexdigest() != digest:
        raise ArchiveVerificationError(f"{key}: checksum read back differs")
    table = _arrow()[1].read_table(io.BytesIO(back))
    if table.num_rows != len(rows):
        raise ArchiveVerificationError(
            f"{key}: {table.num_rows} rows read back, {len(rows)} written"
        )
    if table.column("id").to_pylist() != [row["id"] for row in rows]:
        raise ArchiveVerificationError(f"{key}: row ids read back differ")
    return digest, len(data)


# --- archive -------------------------------------------------------------------------------------


def _notes_fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in settings.FERNET_KEYS])


def _into_hot_table(user_id: int, rows: list[dict]) -> int:
    """Insert archived rows that are not in the hot table (by id); returns how many went in.
    A device deleted since is dropped from the row (the source app stays)."""
    if not rows:
        return 0
    ids = [row["id"] for row in rows]
    present = set(HealthMetric._base_manager.filter(pk__in=ids).values_list("pk", flat=True))
    devices = set(Device.objects.filter(user_id=user_id).values_list("pk", flat=True))
    fernet = _notes_fernet()
    objects = []
    for row in rows:
        if row["id"] in present:
            continue
        token = row["notes_token"]
        objects.append(
            HealthMetric(
                id=row["id"],
                user_id=user_id,
                metric_type=row["metric_type"],
                value=row["value"],
                unit=row["unit"],
                recorded_at=row["recorded_at"],
                end_at=row["end_at"],
                device_id=row["device_id"] if row["device_id"] in devices else None,
                source_app=row["source_app"],
                external_id=row["external_id"],
                metadata=json.loads(row["metadata"]),
                notes=fernet.decrypt(token).decode() if token else "",
            )
        )
    if not objects:
        return 0
    # The lists answer from pages kept under the owner's data version: rows back, new version.
    transaction.on_commit(functools.partial(metric_services.invalidate_summary_cache, user_id))
    before = HealthMetric._base_manager.filter(pk__in=ids).count()
    HealthMetric._base_manager.bulk_create(objects, batch_size=1000, ignore_conflicts=True)
    created = {row["id"]: row["created_at"] for row in rows}
    inserted = list(HealthMetric._base_manager.filter(pk__in=[o.pk for o in objects]))
    for obj in inserted:  # bulk_create stamps "now" on an auto_now_add field
        obj.created_at = created[obj.pk]
    HealthMetric._base_manager.bulk_update(inserted, ["created_at"], batch_size=1000)
    return HealthMetric._base_manager.filter(pk__in=ids).count() - before


def _delete_hot_rows(ids: list[int]) -> int:
    """Remove archived rows from the hot table (no rollup change, no audit entry per row: the
    RetentionJob row records the run)."""
    deleted = 0
    with disable_auditlog():
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            deleted += HealthMetric._base_manager.filter(pk__in=chunk).delete()[0]
    return deleted


@dataclass
class MonthResult:
    rows: int = 0
    bytes: int = 0


def archive_user_month(*, user_id: int, year: int, month: int, data_type: str) -> MonthResult:
    """Move one user-month of one type to the archive (see the module docstring)."""
    start, end = month_bounds(year, month)
    existing = ArchivedMonth.objects.filter(
        user_id=user_id, year=year, month=month, data_type=data_type
    ).first()
    if existing is not None:
        # Every row of the month hot again and no record: a failure from here on leaves a
        # plain hot month (its old file is replaced by the next run, or by erasure). A
        # restored month is all hot already, and a row deleted since the restore stays deleted.
        with transaction.atomic():
            if existing.restored_at is None:
                _into_hot_table(user_id, read_month(existing))
            existing.delete()
    rows = _hot_rows(user_id, data_type, start, end)
    if not rows:
        return MonthResult()
    key = month_key(user_id, year, month, data_type)
    digest, size = _write_verified(key, rows)
    with transaction.atomic():
        # The user's measurement writes hold this lock for their transaction: once it is ours,
        # a row changed since it was read shows below, and the month stays hot for next time.
        metric_services._lock_owner(user_id)
        if _hot_rows(user_id, data_type, start, end) != rows:
            raise ArchiveVerificationError(
                f"{key}: rows changed while the file was written; left hot for the next run"
            )
        ArchivedMonth.objects.update_or_create(
            user_id=user_id,
            year=year,
            month=month,
            data_type=data_type,
            defaults={
                "key": key,
                "rows": len(rows),
                "sha256": digest,
                "size_bytes": size,
                "archived_at": timezone.now(),
                "restored_at": None,
            },
        )
        _delete_hot_rows([row["id"] for row in rows])
        # Rows gone from the hot table are gone from the lists: a new data version.
        transaction.on_commit(functools.partial(metric_services.invalidate_summary_cache, user_id))
    return MonthResult(rows=len(rows), bytes=size)


def months_due(*, now: datetime | None = None) -> list[tuple[int, str, int, int]]:
    """(user id, type, year, month) of every month wholly past the hot window with hot rows,
    months restored less than LIFECYCLE_RESTORE_HOLD_DAYS ago left out."""
    now = now or timezone.now()
    cutoff = hot_cutoff(now)
    before = datetime(cutoff.year, cutoff.month, 1, tzinfo=UTC)  # whole months only
    found = (
        HealthMetric._base_manager.filter(recorded_at__lt=before)
        .annotate(month_start=TruncMonth("recorded_at", tzinfo=UTC))
        .values_list("user_id", "metric_type", "month_start")
        .distinct()
        .order_by("user_id", "metric_type", "month_start")
    )
    held = set(
        ArchivedMonth.objects.filter(
            restored_at__gt=now - timedelta(days=settings.LIFECYCLE_RESTORE_HOLD_DAYS)
        ).values_list("user_id", "data_type", "year", "month")
    )
    due = []
    for user_id, data_type, month_start in found:
        month_start = month_start.astimezone(UTC)
        item = (user_id, data_type, month_start.year, month_start.month)
        if item not in held:
            due.append(item)
    return due


def archive_due_months(*, job: RetentionJob, now: datetime | None = None) -> None:
    """The nightly archive: every due month, one at a time; a month that fails is recorded
    on the job and left hot, the others go on."""
    for user_id, data_type, year, month in months_due(now=now):
        try:
            result = archive_user_month(
                user_id=user_id, year=year, month=month, data_type=data_type
            )
        except Exception as exc:  # recorded on the job; the month stays hot for the next run
            record_error(job, f"user {user_id} {year}-{month:02d} {data_type}", exc)
            continue
        RetentionJob.objects.filter(pk=job.pk).update(
            rows_archived=F("rows_archived") + result.rows,
            rows_deleted=F("rows_deleted") + result.rows,
            bytes_written=F("bytes_written") + result.bytes,
        )


# --- restore, export, erasure, expiry, key rotation --------------------------------------------


def parse_month(text: str) -> tuple[int, int]:
    """`2025-01` -> (2025, 1); ValueError with a clear message otherwise."""
    try:
        moment = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise ValueError(f"{text!r} is not a month (YYYY-MM).") from None
    return moment.year, moment.month


def restore_months(*, user_id: int, first: tuple[int, int], last: tuple[int, int]) -> int:
    """Bring a user's archived months first..last back into the hot table and recompute
    their rollups. Idempotent: months restored already and rows already hot are skipped
    (one transaction per month). Returns rows inserted."""
    months = ArchivedMonth.objects.for_user(user_id).between_months(first, last).not_restored()
    inserted = 0
    for archived in months:
        rows = read_month(archived)
        start, end = month_bounds(archived.year, archived.month)
        with transaction.atomic():
            inserted += _into_hot_table(user_id, rows)
            # The owner's local days wholly inside the (UTC) month: a day straddling its
            # edge also holds rows of a neighbouring month, perhaps archived, and keeps the
            # rollup it had (the rows restored are the ones it was computed from).
            tz = calendar.zone_of(user_id)
            first = calendar.day_of(start, tz)
            if calendar.day_start(first, tz) < start:
                first += timedelta(days=1)
            last = calendar.day_of(end, tz) - timedelta(days=1)  # it ends at or before `end`
            if first <= last:
                rollups.recompute_days(
                    user_id=user_id,
                    metric_type=archived.data_type,
                    first=first,
                    last=last,
                    tz=tz,
                )
            ArchivedMonth.objects.filter(pk=archived.pk).update(restored_at=timezone.now())
    return inserted


def archived_rows(user) -> Iterator[dict[str, Any]]:
    """The user's archived samples not currently restored (those are in the hot table), notes
    decrypted: for the user's own export."""
    fernet = _notes_fernet()
    for archived in (
        ArchivedMonth.objects.for_user(user).not_restored().order_by("year", "month", "data_type")
    ):
        for row in read_month(archived):
            token = row.pop("notes_token")
            row["notes"] = fernet.decrypt(token).decode() if token else ""
            row["metadata"] = json.loads(row["metadata"])
            yield row


def _files_under(storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _files_under(storage, f"{folder}/{sub}")


def user_archive_delete(*, user_id: int) -> int:
    """Erasure: delete every archive file under the user's folder (recorded or left by an
    interrupted run), then their records. Returns the files deleted."""
    storage = archive_storage()
    keys = {a.key for a in ArchivedMonth.objects.for_user(user_id)}
    keys.update(_files_under(storage, str(user_id)))
    for key in sorted(keys):
        storage.delete(key)
    ArchivedMonth.objects.for_user(user_id).delete()
    return len(keys)


def delete_expired_archives(*, before: date) -> tuple[int, int]:
    """Delete archive files of months that ended before `before`; returns (files, rows)."""
    files = rows = 0
    storage = archive_storage()
    expired = ArchivedMonth.objects.filter(year__lt=before.year) | ArchivedMonth.objects.filter(
        year=before.year, month__lt=before.month
    )
    for archived in expired.order_by("pk"):
        storage.delete(archived.key)
        archived.delete()
        files += 1
        rows += archived.rows
    return files, rows


def rotate_archive_keys(*, job: RetentionJob | None = None) -> tuple[int, int]:
    """Re-encrypt the notes tokens of every archive file under the first FERNET_KEYS key (files
    already current are left alone). Returns (files rewritten, files current)."""
    primary = Fernet(settings.FERNET_KEYS[0])
    every_key = _notes_fernet()
    rewritten = current = 0
    for archived in ArchivedMonth.objects.order_by("pk"):
        data = _read_bytes(archived.key)
        rows = _arrow()[1].read_table(io.BytesIO(data)).to_pylist()
        if len(rows) != archived.rows:
            raise ArchiveVerificationError(f"{archived.key}: row count differs from the record")
        stale = False
        for row in rows:
            token = row["notes_token"]
            if not token:
                continue
            try:
                primary.decrypt(token)
            except InvalidToken:  # under an older key
                row["notes_token"] = every_key.rotate(token)
                stale = True
        if not stale:
            digest = hashlib.sha256(data).hexdigest()
            if digest != archived.sha256:  # rewritten by a run stopped before recording it
                ArchivedMonth.objects.filter(pk=archived.pk).update(
                    sha256=digest, size_bytes=len(data)
                )
            current += 1
            continue
        digest, size = _write_verified(archived.key, rows)
        ArchivedMonth.objects.filter(pk=archived.pk).update(sha256=digest, size_bytes=size)
        rewritten += 1
        if job is not None:
            RetentionJob.objects.filter(pk=job.pk).update(bytes_written=F("bytes_written") + size)
    return rewritten, current
