"""Everything a user owns, as tables (for the JSON and the CSV export) and back.

The JSON export is written one record per line inside its arrays:

    {
    "format": "healthtrack-export",
    "version": 1,
    ...
    "metrics": [
    {"id": 1, "metric_type": "steps", ...},
    {"id": 2, ...}
    ],
    ...
    }

It is plain JSON for any reader, and `import_json_export` reads it back line by line (constant
memory, line numbers in errors). Devices, measurements, diary entries and goals are imported;
the other sections (profile, insights, share grants, ...) are for the user to keep.

A diary entry with a meal photo names it in `"photo"` (`{"file": "photos/<entry id>.jpg",
"content_type", "width", "height", "size_bytes", "created_at"}`, else null): the file's name in
the ZIP archive (`archive_chunks`), which holds this JSON as `healthtrack-export.json` and the
stored photos (the metadata-free copies) under `photos/`. No storage name or URL is exported.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain
from typing import IO, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from accounts.models import CareTeam, ShareGrant
from healthtrack.lifecycle import archive as lifecycle_archive
from healthtrack.portability.csv_io import (
    NUTRITION_COLUMNS,
    FoodLookup,
    _Sink,
    import_nutrition_row,
)
from healthtrack.portability.importing import (
    ZIP_MAGIC,
    CappedReader,
    DeviceResolver,
    ImportFailed,
    ImportLimits,
    ImportReport,
    MetricBatcher,
    guess_device_type,
    is_zip,
)
from healthtrack.portability.models import ImportJob
from insights.models import HealthInsight
from metrics import services as metric_services
from metrics.models import Device, HealthMetric
from metrics.services import MUTABLE_FIELDS
from metrics.validation import clean_measurement
from nutrition import photos
from nutrition.models import MealPhoto, NutritionLog, NutritionTargets

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "healthtrack-export"
EXPORT_VERSION = 1
CHUNK_SIZE = 2000
# A JSON file not in the one-record-per-line layout is loaded whole only up to this size.
MAX_WHOLE_JSON_BYTES = 64 * 1024 * 1024

PROFILE_FIELDS = [
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "sex",
    "height_cm",
    "date_of_birth",
    "medical_history",
    "date_joined",
    "deleted_at",
]
DEVICE_COLUMNS = [
    "id",
    "device_type",
    "name",
    "identifier",
    "priority",
    "last_sync_at",
    "created_at",
]
# The first six are the CSV import's columns, so metrics.csv can be imported again.
METRIC_COLUMNS = [
    "metric_type",
    "value",
    "unit",
    "recorded_at",
    "end_at",
    "source",
    "id",
    "device",
    "device_identifier",
    "source_app",
    "external_id",
    "metadata",
    "notes",
    "created_at",
]
NUTRITION_LOG_COLUMNS = ["id", *NUTRITION_COLUMNS, "food_name", "created_at", "updated_at"]
IMPORT_COLUMNS = [
    "id",
    "kind",
    "status",
    "total",
    "processed",
    "error_count",
    "original_name",
    "created_at",
    "finished_at",
]


def plain(value: Any) -> Any:
    """A JSON-ready value: aware times and dates in ISO 8601, decimals and UUIDs as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def profile(user) -> dict[str, Any]:
    """The account's profile, encrypted fields decrypted (this is the owner's export)."""
    return {name: plain(getattr(user, name)) for name in PROFILE_FIELDS}


@dataclass(frozen=True)
class Section:
    name: str
    columns: list[str]
    rows: Callable[[], Iterator[dict[str, Any]]]


def _columns(model: type[Model], exclude: Iterable[str]) -> list[tuple[str, str]]:
    """(column name, attribute) of a model's concrete fields; a foreign key is its id."""
    skipped = set(exclude)
    return [(f.name, f.attname) for f in model._meta.concrete_fields if f.name not in skipped]


def _model_section(name: str, queryset: QuerySet, exclude: Iterable[str] = ()) -> Section:
    fields = _columns(queryset.model, exclude)

    def rows() -> Iterator[dict[str, Any]]:
        for obj in queryset.order_by("pk").iterator(chunk_size=CHUNK_SIZE):
            yield {column: plain(getattr(obj, attname)) for column, attname in fields}

    return Section(name, [column for column, _ in fields], rows)


def goals_model() -> type[Model] | None:
    """`goals.HealthGoal` once the goals app has it (with a `user` field), else None."""
    try:
        model = apps.get_model("goals", "HealthGoal")
    except LookupError:
        return None
    if not any(f.name == "user" for f in model._meta.concrete_fields):
        return None
    return model


def _device_rows(user) -> Iterator[dict[str, Any]]:
    for device in Device.objects.filter(user=user).order_by("pk"):
        yield {c: plain(getattr(device, c)) for c in DEVICE_COLUMNS}


def _metric_rows(user) -> Iterator[dict[str, Any]]:
    devices = {d.pk: d for d in Device.objects.filter(user=user)}
    names = [
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
        "notes",
        "created_at",
    ]
    hot = (
        HealthMetric.objects.filter(user=user)
        .order_by("recorded_at", "id")
        .values_list(*names)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    # Archived months first (older than anything hot), read back from the archive storage.
    rows = chain(
        lifecycle_archive.archived_rows(user), (dict(zip(names, v, strict=True)) for v in hot)
    )
    for row in rows:
        device = devices.get(row.pop("device_id"))
        yield {
            "metric_type": row["metric_type"],
            "value": row["value"],
            "unit": row["unit"],
            "recorded_at": plain(row["recorded_at"]),
            "end_at": plain(row["end_at"]),
            "source": device.name if device is not None else row["source_app"],
            "id": row["id"],
            "device": device.pk if device is not None else None,
            "device_identifier": device.identifier if device is not None else "",
            "source_app": row["source_app"],
            "external_id": row["external_id"],
            "metadata": row["metadata"],
            "notes": row["notes"] or "",
            "created_at": plain(row["created_at"]),
        }


# The archive's folder of meal photos, and each stored type's file extension there.
PHOTO_FOLDER = "photos"
PHOTO_EXTENSIONS = {content_type: ext for _, content_type, ext in photos.STORED_AS.values()}
ARCHIVE_JSON_NAME = "healthtrack-export.json"
# How much of a stored photo is read (and sent on) at a time.
PHOTO_BLOCK_BYTES = 64 * 1024


def photo_file_name(photo: MealPhoto) -> str:
    """A photo's name in the export archive: `photos/<diary entry id>.<jpg|png|webp>`."""
    extension = PHOTO_EXTENSIONS.get(photo.content_type, "jpg")
    return f"{PHOTO_FOLDER}/{photo.log_id}.{extension}"


def _photo_entry(photo: MealPhoto | None) -> dict[str, Any] | None:
    if photo is None:
        return None
    return {
        "file": photo_file_name(photo),
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "size_bytes": photo.size_bytes,
        "created_at": plain(photo.created_at),
    }


def _nutrition_rows(user) -> Iterator[dict[str, Any]]:
    logs = (
        NutritionLog.objects.filter(user=user)
        .select_related("food", "photo")
        .order_by("logged_at", "id")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for log in logs:
        row = {c: plain(getattr(log, c)) for c in NUTRITION_LOG_COLUMNS if c != "food_name"}
        row["food"] = log.food_id
        row["food_name"] = log.food.name if log.food_id is not None else None
        # JSON only: the CSV tables keep their columns (NUTRITION_LOG_COLUMNS).
        row["photo"] = _photo_entry(getattr(log, "photo", None))
        yield row


def _import_rows(user) -> Iterator[dict[str, Any]]:
    for job in ImportJob.objects.for_user(user).order_by("pk"):
        yield {c: plain(getattr(job, c)) for c in IMPORT_COLUMNS}


def sections(user) -> list[Section]:
    """Every table of the user's records, in export order (devices before measurements)."""
    result = [
        Section("devices", DEVICE_COLUMNS, lambda: _device_rows(user)),
        Section("metrics", METRIC_COLUMNS, lambda: _metric_rows(user)),
        Section("nutrition_logs", NUTRITION_LOG_COLUMNS, lambda: _nutrition_rows(user)),
        _model_section(
            "nutrition_targets", NutritionTargets.objects.filter(user=user), exclude=["user"]
        ),
    ]
    goal_model = goals_model()
    if goal_model is not None:
        result.append(_model_section("goals", goal_model.objects.filter(user=user), ["user"]))
    result += [
        _model_section("insights", HealthInsight.objects.filter(user=user), exclude=["user"]),
        # Only hashes of a link's token and code are stored; neither is exported.
        _model_section(
            "share_grants",
            ShareGrant.objects.filter(owner=user),
            exclude=["owner", "token_hash", "code_hash"],
        ),
        _model_section("care_teams", CareTeam.objects.filter(Q(patient=user) | Q(clinician=user))),
        Section("imports", IMPORT_COLUMNS, lambda: _import_rows(user)),
    ]
    return result


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=plain)


def json_chunks(user, *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The JSON export, piece by piece (see the module docstring for its layout)."""
    yield "{\n"
    head = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "user_id": user.pk,
        "profile": profile(user),
    }
    for key, value in head.items():
        yield f"{_dumps(key)}: {_dumps(value)},\n"
    parts = sections(user)
    for index, section in enumerate(parts):
        yield f"{_dumps(section.name)}: [\n"
        buffer: list[str] = []
        first = True
        for row in section.rows():
            buffer.append(_dumps(row))
            if len(buffer) >= rows_per_chunk:
                yield ("" if first else ",\n") + ",\n".join(buffer)
                first, buffer = False, []
        if buffer:
            yield ("" if first else ",\n") + ",\n".join(buffer)
        yield "\n]" + (",\n" if index < len(parts) - 1 else "\n")
    yield "}\n"


def _zip_entry(name: str, moment: datetime, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=moment.astimezone(UTC).timetuple()[:6])
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16  # -rw-r--r-- once unpacked
    return info


def archive_chunks(user) -> Iterator[bytes]:
    """The bytes of the ZIP export, as it is written: `healthtrack-export.json` (the JSON
    export, importable on its own) and `photos/<entry id>.<ext>` per meal photo, the stored
    metadata-free copy (no thumbnails). Memory stays bounded: the JSON goes in as it is
    made, a photo in blocks of PHOTO_BLOCK_BYTES. A photo whose file is missing from storage
    is left out (and logged, without the user's data)."""
    return (piece for piece in _archive_pieces(user) if piece)


def _archive_pieces(user) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:
        info = _zip_entry(ARCHIVE_JSON_NAME, timezone.now(), zipfile.ZIP_DEFLATED)
        with archive.open(info, "w", force_zip64=True) as member:
            for piece in json_chunks(user):
                member.write(piece.encode("utf-8"))
                yield sink.take()
        yield sink.take()
        storage = photos.photo_storage()
        stored = MealPhoto.objects.filter(log__user=user).order_by("log_id")
        for photo in stored.iterator(chunk_size=CHUNK_SIZE):
            try:
                source = storage.open(photo.image_name, "rb")
            except OSError:  # FileNotFoundError included
                logger.warning("meal photo %s: file missing from storage, not exported", photo.pk)
                continue
            # JPEG, PNG and WebP are compressed already.
            info = _zip_entry(photo_file_name(photo), photo.created_at, zipfile.ZIP_STORED)
            with source, archive.open(info, "w") as member:
                while block := source.read(PHOTO_BLOCK_BYTES):
                    member.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def csv_tables(user) -> Iterator[tuple[str, list[str], Iterable[dict[str, Any]]]]:
    yield "profile", PROFILE_FIELDS, [profile(user)]
    for section in sections(user):
        yield section.name, section.columns, section.rows()


# --- reading a JSON export back ----------------------------------------------------------------

_SECTION_START = re.compile(r'^"(\w+)": \[$')
_HEAD_LINE = re.compile(r'^"(\w+)": (.*?),?$')
IMPORTED_SECTIONS = {"devices", "metrics", "nutrition_logs", "goals"}
# What a goal is made of (`goals.services.goal_create`); its progress is computed again.
GOAL_FIELDS = [
    "goal_type",
    "target_value",
    "title",
    "description",
    "metric_type",
    "unit",
    "direction",
    "period_days",
    "baseline_value",
    "start_date",
    "target_date",
    "priority",
    "status",
]


def _check_head(head: dict[str, Any]) -> None:
    if head.get("format") != EXPORT_FORMAT:
        raise ImportFailed("This JSON is not a HealthTrack export.")
    if head.get("version") != EXPORT_VERSION:
        raise ImportFailed(f"Only version {EXPORT_VERSION} exports can be imported.")


def _is_line_layout(fileobj: IO[bytes]) -> bool:
    fileobj.seek(0)
    first, second = fileobj.readline(64), fileobj.readline(256)
    fileobj.seek(0)
    return first.strip() == b"{" and second.startswith(b'"format": ')


def count_export_records(fileobj: IO[bytes]) -> int:
    fileobj.seek(0)
    count = sum(1 for line in iter(lambda: fileobj.readline(1 << 24), b"") if line[:2] == b'{"')
    fileobj.seek(0)
    return count


def iter_export(
    fileobj: IO[bytes], report: ImportReport
) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    """(line, section, record) for every record of a JSON export; a record line that is not
    valid JSON is an error in `report`. The head (format, version) is checked first."""
    if not _is_line_layout(fileobj):
        yield from _iter_whole(fileobj)
        return
    head: dict[str, Any] = {}
    section = None
    for number, raw in enumerate(iter(lambda: fileobj.readline(1 << 24), b""), 1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            report.reject(line=number, errors={"non_field_errors": ["Not UTF-8 text."]})
            continue
        if not text or text in ("{", "}"):
            continue
        if section is None:
            start = _SECTION_START.match(text)
            if start:
                _check_head(head)
                section = start.group(1)
                continue
            pair = _HEAD_LINE.match(text)
            if pair:
                try:
                    head[pair.group(1)] = json.loads(pair.group(2))
                except json.JSONDecodeError:
                    raise ImportFailed(f"Line {number} is not valid JSON.") from None
                continue
            raise ImportFailed(f"Line {number} is not part of a HealthTrack export.")
        if text in ("]", "],"):
            section = None
            continue
        try:
            record = json.loads(text.removesuffix(","))
        except json.JSONDecodeError:
            report.reject(line=number, errors={"non_field_errors": ["Not valid JSON."]})
            continue
        if not isinstance(record, dict):
            report.reject(line=number, errors={"non_field_errors": ["Expected an object."]})
            continue
        yield number, section, record
    _check_head(head)


def _iter_whole(fileobj: IO[bytes]) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(0)
    if size > MAX_WHOLE_JSON_BYTES:
        raise ImportFailed("This JSON is not a HealthTrack export (or was reformatted).")
    try:
        document = json.loads(fileobj.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ImportFailed("The file is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ImportFailed("This JSON is not a HealthTrack export.")
    _check_head(document)
    for name, records in document.items():
        if isinstance(records, list):
            for record in records:
                if isinstance(record, dict):
                    yield None, name, record


_METRIC_FIELDS = [
    "metric_type",
    "value",
    "unit",
    "recorded_at",
    "end_at",
    "source_app",
    "external_id",
    "metadata",
    "notes",
]


def _store_without_device(user, sample: dict[str, Any], line, report: ImportReport) -> None:
    """A measurement that had no device: stored through `metric_upsert`. A stored row with
    the same external_id (or, without one, the same type, time and value) and the same
    content counts as a duplicate."""
    cleaned, errors = clean_measurement(sample)
    if errors:
        report.reject(line=line, errors=errors.items)
        return
    same = HealthMetric.objects.filter(
        user=user, device__isnull=True, source_app=cleaned["source_app"]
    )
    if cleaned["external_id"]:
        same = same.filter(external_id=cleaned["external_id"])
    else:
        same = same.filter(
            external_id="",
            metric_type=cleaned["metric_type"],
            recorded_at=cleaned["recorded_at"],
            end_at=cleaned["end_at"],
            value=cleaned["value"],
        )
    for row in same:
        if all(getattr(row, f) == cleaned[f] for f in MUTABLE_FIELDS):
            report.counts["duplicates"] += 1
            return
    try:
        _, created = metric_services.metric_upsert(user=user, **sample)
    except ValidationError as exc:
        report.reject(line=line, errors=exc.message_dict)
        return
    report.counts["created" if created else "updated"] += 1


def import_json_export(*, user, fileobj: IO[bytes], report: ImportReport, key_prefix: str) -> None:
    """Devices, measurements and diary entries of a HealthTrack JSON export into `user`'s
    data: devices matched by identifier (created when missing), measurements through
    `device_sync` (with a device) or `metric_upsert` (without), entries through the nutrition
    service. Importing the same export again adds nothing. The ZIP export is read too: its
    `healthtrack-export.json` (its photos are counted as skipped, not imported)."""
    with _export_json(fileobj, report) as source:
        report.total = count_export_records(source)
        report.report()
        with MetricBatcher(user=user, report=report, key_prefix=key_prefix) as batcher:
            _records_into(user, iter_export(source, report), batcher, report)


def is_export_archive(head: bytes) -> bool:
    """Whether a file's first bytes are those of the ZIP export: its first member, named in
    the first local file header, is `healthtrack-export.json`."""
    if not head.startswith(ZIP_MAGIC) or len(head) < 30:
        return False
    name_length = int.from_bytes(head[26:28], "little")
    return head[30 : 30 + name_length] == ARCHIVE_JSON_NAME.encode()


@contextmanager
def _export_json(fileobj: IO[bytes], report: ImportReport) -> Iterator[IO[bytes]]:
    if not is_zip(fileobj):
        yield fileobj
        return
    try:
        archive = zipfile.ZipFile(fileobj)
        info = archive.getinfo(ARCHIVE_JSON_NAME)
    except (zipfile.BadZipFile, KeyError):
        raise ImportFailed(
            f"This ZIP is not a HealthTrack export (it has no {ARCHIVE_JSON_NAME})."
        ) from None
    photo_files = sum(1 for name in archive.namelist() if name.startswith(f"{PHOTO_FOLDER}/"))
    if photo_files:
        report.skipped["photos (not imported)"] += photo_files
    # Decompressed as it is read, never more than IMPORT_MAX_XML_MB (refused up front when
    # the archive says the member is larger).
    reader = CappedReader(
        None, size=info.file_size, max_bytes=ImportLimits.from_settings().max_bytes
    )
    with archive, archive.open(info) as member:
        reader.stream = member
        yield reader


def _store_goal(user, record: dict[str, Any], line, report: ImportReport) -> None:
    """A goal through `goals.services.goal_create` (its rules); an identical stored goal
    counts as a duplicate. Skipped while the goals app is not installed."""
    if goals_model() is None:
        report.skipped["section goals"] += 1
        return
    from goals.services import goal_create

    values = {k: record[k] for k in GOAL_FIELDS if record.get(k) is not None}
    for name in ("start_date", "target_date"):
        if isinstance(values.get(name), str):
            try:
                values[name] = date.fromisoformat(values[name])
            except ValueError:
                report.reject(line=line, errors={name: ["Not a valid date."]})
                return
    same = goals_model().objects.filter(
        user=user,
        **{k: values.get(k) for k in ("goal_type", "title", "target_value", "start_date")},
    )
    if any(goal.description == values.get("description", "") for goal in same):
        report.counts["duplicates"] += 1
        return
    try:
        goal_create(user=user, **values)
    except (ValidationError, TypeError) as exc:
        errors = getattr(exc, "message_dict", None) or {"non_field_errors": ["Not a valid goal."]}
        report.reject(line=line, errors=errors)
        return
    report.counts["created"] += 1


def _key(value: Any) -> int | str | None:
    """An exported id usable as a dict key (anything else in a tampered file: None)."""
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _records_into(user, records, batcher: MetricBatcher, report: ImportReport) -> None:
    resolver = DeviceResolver(user)
    devices: dict[Any, Device] = {}
    foods = FoodLookup()
    for line, section, record in records:
        report.advance()
        if section not in IMPORTED_SECTIONS:
            report.skipped[f"section {section}"] += 1
            continue
        if section == "devices":
            identifier = str(record.get("identifier") or "")
            if not identifier:
                report.reject(line=line, errors={"identifier": ["This field is required."]})
                continue
            device_type, priority = record.get("device_type"), record.get("priority")
            if device_type not in Device.Type.values:
                device_type = guess_device_type(str(record.get("name") or ""))
            try:
                device = resolver.get(
                    identifier=identifier,
                    name=str(record.get("name") or identifier),
                    device_type=device_type,
                    priority=priority if isinstance(priority, int) else None,
                )
            except ValidationError as exc:
                report.reject(line=line, errors=exc.message_dict)
                continue
            if _key(record.get("id")) is not None:
                devices[_key(record.get("id"))] = device
        elif section == "metrics":
            sample = {name: record.get(name) for name in _METRIC_FIELDS}
            sample["external_id"] = sample["external_id"] or ""
            sample["source_app"] = sample["source_app"] or ""
            sample["notes"] = sample["notes"] or ""
            device = devices.get(_key(record.get("device")))
            if device is None and isinstance(record.get("device_identifier"), str):
                device = resolver.find(record["device_identifier"])
            if device is not None:
                batcher.add(device, sample, line)
            else:
                _store_without_device(user, sample, line, report)
        elif section == "goals":
            _store_goal(user, record, line, report)
        else:
            data = dict(record)
            if data.get("food_name"):
                data["food"] = data["food_name"]
            import_nutrition_row(user=user, data=data, line=line, report=report, foods=foods)
