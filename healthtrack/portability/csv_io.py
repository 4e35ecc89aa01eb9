"""CSV in and out: templates, import of measurements and of nutrition diary entries (row-level
errors with line numbers, valid rows stored), and the streamed ZIP of CSV tables of an export.

Rows are validated by the apps' own rules: measurements through `metrics.services.device_sync`
(metrics.validation), diary entries through the nutrition API's input serializer (types) and
`nutrition.services.nutrition_log_create` (nutrition.validation).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.core.exceptions import ValidationError

from healthtrack.portability.importing import (
    DeviceResolver,
    ImportFailed,
    ImportReport,
    MetricBatcher,
    guess_device_type,
    stable_id,
)
from nutrition.api.serializers import NutritionLogInputSerializer
from nutrition.models import Food, NutritionLog
from nutrition.services import nutrition_log_create
from nutrition.validation import NUTRIENT_FIELDS

METRICS_COLUMNS = ["metric_type", "value", "unit", "recorded_at", "end_at", "source"]
# Optional extra columns read when present (a HealthTrack metrics.csv export has them).
METRICS_OPTIONAL = ["external_id", "notes"]
METRICS_REQUIRED = {"metric_type", "value", "recorded_at"}
# The nutrition API's field names; `food` is a catalogue id or a food's exact name.
NUTRITION_COLUMNS = [
    "meal_type",
    "logged_at",
    "description",
    "calories",
    "protein_g",
    "carbs_g",
    "fat_g",
    "fiber_g",
    "sugar_g",
    "sodium_mg",
    "water_ml",
    "food",
    "grams",
]
NUTRITION_REQUIRED = {"meal_type", "logged_at"}
TEMPLATE_COLUMNS = {"csv_metrics": METRICS_COLUMNS, "csv_nutrition": NUTRITION_COLUMNS}
CSV_SOURCE_APP = "CSV import"


# --- formula injection (OWASP "CSV injection") ------------------------------------------------
# A spreadsheet runs a cell that starts with one of these as a formula (`=HYPERLINK(...)` can
# send the sheet's other cells away). Such a text cell is written with a leading `'`, which
# spreadsheets show as text; a cell already starting with quotes before one gets one more, so
# the import (`csv_cell_read`) gives back exactly what was written. A plain number ("-3.5")
# is not a formula and is left alone.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _reads_as_formula(text: str) -> bool:
    return text.lstrip("'")[:1] in FORMULA_START and _NUMBER.fullmatch(text) is None


def csv_safe_cell(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet runs as a formula (a text cell gets a leading `'`)."""
    if isinstance(value, str) and value and _reads_as_formula(value):
        return "'" + value
    return value


def csv_cell_read(text: str) -> str:
    """A cell as the import reads it: the `'` that `csv_safe_cell` added is taken off."""
    if text.startswith("'") and _reads_as_formula(text[1:]):
        return text[1:]
    return text


class SafeCsvWriter:
    """`csv.writer` whose every cell goes through `csv_safe_cell`: every CSV the app writes
    uses it (the import templates, the export's tables)."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_safe_cell(cell) for cell in row])


def template_csv(kind: str) -> str:
    """The header row of the CSV a kind of import reads (KeyError for another kind)."""
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerow(TEMPLATE_COLUMNS[kind])
    return buffer.getvalue()


# --- reading ---------------------------------------------------------------------------------


class CsvRows:
    """The data rows of a CSV file as (line number of the row's first line, {column: text}).

    UTF-8 (a byte-order mark is skipped); the header is line 1; blank rows are skipped.
    `fileobj` must be a seekable binary file; it is left open."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.fileobj = fileobj
        self.columns: list[str] = []

    def _reader(self):
        self.fileobj.seek(0)
        text = io.TextIOWrapper(self.fileobj, encoding="utf-8-sig", newline="")
        return text, csv.reader(text)

    def count(self) -> int:
        """Reads the header (ImportFailed if there is none) and counts the data rows."""
        text, reader = self._reader()
        try:
            try:
                header = next(reader, None)
            except (UnicodeDecodeError, csv.Error):
                raise ImportFailed("The file is not a UTF-8 CSV file.") from None
            if not header:
                raise ImportFailed("The file is empty.")
            self.columns = [name.strip().lower() for name in header]
            try:
                return sum(1 for row in reader if any(cell.strip() for cell in row))
            except (UnicodeDecodeError, csv.Error):
                return 0  # reported with its line number when the rows are read
        finally:
            text.detach()

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        text, reader = self._reader()
        try:
            try:
                header = next(reader, None)
            except (UnicodeDecodeError, csv.Error):
                raise ImportFailed("The file is not a UTF-8 CSV file.") from None
            if not header:
                raise ImportFailed("The file is empty.")
            self.columns = [name.strip().lower() for name in header]
            line = reader.line_num + 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise ImportFailed(f"Line {line} is not UTF-8 text.") from None
                except csv.Error:
                    raise ImportFailed(f"Line {line} is not valid CSV.") from None
                start, line = line, reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) > len(self.columns):
                    yield start, {"__extra__": ""}
                    continue
                cells = zip(self.columns, row, strict=False)
                yield start, {name: csv_cell_read(cell.strip()) for name, cell in cells}
        finally:
            text.detach()


def _check_columns(columns: list[str], required: set[str]) -> None:
    missing = sorted(required - set(columns))
    if missing:
        raise ImportFailed(f"Missing column(s): {', '.join(missing)}.")


_EXTRA_CELLS = {"non_field_errors": ["The row has more cells than the header has columns."]}


def import_metrics_csv(*, user, fileobj: IO[bytes], report: ImportReport, key_prefix: str) -> None:
    """Measurements from a CSV with the columns of METRICS_COLUMNS. Each distinct `source`
    becomes a device (`csv:<source>`); rows without one go to a "manual entry" device. A
    row's external_id (unless the file gives one) is a hash of its cells, so importing the
    same file again adds nothing."""
    rows = CsvRows(fileobj)
    report.total = rows.count()
    _check_columns(rows.columns, METRICS_REQUIRED)
    report.report()
    devices = DeviceResolver(user)
    with MetricBatcher(
        user=user, report=report, key_prefix=key_prefix, content_id_prefix="csv:"
    ) as batcher:
        _metric_rows_into(rows, devices, batcher, report)


def _metric_rows_into(rows: CsvRows, devices: DeviceResolver, batcher, report) -> None:
    for line, row in rows:
        report.advance()
        if "__extra__" in row:
            report.reject(line=line, errors=_EXTRA_CELLS)
            continue
        code = row.get("metric_type", "")
        source = row.get("source", "")
        cells = [code, row.get("value", ""), row.get("unit", ""), row.get("recorded_at", "")]
        sample: dict[str, Any] = {
            "metric_type": code,
            "value": row.get("value", ""),
            "unit": row.get("unit") or None,
            "recorded_at": row.get("recorded_at", ""),
            "end_at": row.get("end_at") or None,
            "source_app": CSV_SOURCE_APP,
            "external_id": row.get("external_id")
            or stable_id("csv", *cells, row.get("end_at", ""), source),
            "notes": row.get("notes", ""),
        }
        device = devices.get(
            identifier=f"csv:{source}" if source else "csv:manual",
            name=source or "Manual entry (CSV)",
            device_type=guess_device_type(source, "", code),
        )
        batcher.add(device, sample, line)


class FoodLookup:
    """Catalogue foods by id or exact name (any case), cached for one import."""

    def __init__(self) -> None:
        self._by_name: dict[str, int | None] = {}

    def resolve(self, value: Any) -> Any:
        """A food id for `value` (an id, or a name), or the value unchanged for the
        serializer to refuse; None when a name matches no food."""
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return value
        if not isinstance(value, str):
            return value
        key = value.strip().lower()
        if key not in self._by_name:
            food = Food.objects.filter(name__iexact=value.strip()).only("pk").first()
            self._by_name[key] = food.pk if food is not None else None
        return self._by_name[key]


# DRF messages that would repeat the submitted value, replaced by ones that do not.
_SAFE_MESSAGES = {
    "invalid_choice": "Not one of the accepted values.",
    "does_not_exist": "Unknown food.",
    "incorrect_type": "Give a catalogue food id or name.",
}


def _safe(errors: dict) -> dict[str, list[str]]:
    return {
        name: [_SAFE_MESSAGES.get(getattr(m, "code", None), str(m)) for m in messages]
        for name, messages in errors.items()
    }


def _duplicate_entry(user, values: dict[str, Any]) -> bool:
    """An identical diary entry is already stored (same time, meal, food or amounts)."""
    food = values.get("food")
    candidates = NutritionLog.objects.filter(
        user=user,
        logged_at=values["logged_at"],
        meal_type=values["meal_type"],
        food=food,
        grams=values.get("grams"),
    )
    for log in candidates:
        if food is None and any(getattr(log, f) != values.get(f) for f in NUTRIENT_FIELDS):
            continue
        if log.water_ml != values.get("water_ml"):
            continue
        if log.description != (values.get("description") or ""):
            continue
        return True
    return False


def import_nutrition_row(
    *, user, data: dict[str, Any], line: int | None, report: ImportReport, foods: FoodLookup
) -> None:
    """Store one diary entry given with the nutrition API's field names (empty cells are
    omitted); an identical stored entry counts as a duplicate."""
    data = {k: v for k, v in data.items() if k in NUTRITION_COLUMNS and v not in ("", None)}
    if "food" in data:
        food_id = foods.resolve(data["food"])
        if food_id is None:
            report.reject(line=line, errors={"food": ["Unknown food."]})
            return
        data["food"] = food_id
    serializer = NutritionLogInputSerializer(data=data)
    if not serializer.is_valid():
        report.reject(line=line, errors=_safe(serializer.errors))
        return
    values = dict(serializer.validated_data)
    if _duplicate_entry(user, values):
        report.counts["duplicates"] += 1
        return
    try:
        nutrition_log_create(user=user, **values)
    except ValidationError as exc:
        report.reject(line=line, errors=exc.message_dict)
        return
    report.counts["created"] += 1


def import_nutrition_csv(*, user, fileobj: IO[bytes], report: ImportReport, **_: Any) -> None:
    """Diary entries from a CSV with the nutrition API's field names (NUTRITION_COLUMNS)."""
    rows = CsvRows(fileobj)
    report.total = rows.count()
    _check_columns(rows.columns, NUTRITION_REQUIRED)
    report.report()
    foods = FoodLookup()
    for line, row in rows:
        report.advance()
        if "__extra__" in row:
            report.reject(line=line, errors=_EXTRA_CELLS)
            continue
        import_nutrition_row(user=user, data=row, line=line, report=report, foods=foods)


# --- writing: a streamed ZIP of CSV tables ---------------------------------------------------


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken out as they come, so a ZIP can
    be streamed to the client without being built in memory or on disk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def csv_zip_chunks(
    tables: Iterable[tuple[str, list[str], Iterable[dict[str, Any]]]], rows_per_chunk: int = 1000
) -> Iterator[bytes]:
    """The bytes of a ZIP holding `<name>.csv` per table (header + rows), as it is written."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, columns, rows in tables:
            with (
                archive.open(f"{name}.csv", "w", force_zip64=True) as member,
                io.TextIOWrapper(member, encoding="utf-8", newline="") as text,
            ):
                writer = SafeCsvWriter(text)
                writer.writerow(columns)
                for i, row in enumerate(rows, 1):
                    writer.writerow([_cell(row.get(c)) for c in columns])
                    if i % rows_per_chunk == 0:
                        text.flush()
                        yield sink.take()
            yield sink.take()
    yield sink.take()
