"""Apple Health export (`export.zip` or `export.xml` from the iPhone Health app).

The XML is read in one pass by expat's callbacks (no element tree is built): a record's
attributes are kept only until its end tag, so memory stays flat for a multi-GB file however
its elements are nested, and each record's line number is known. A ZIP member is
decompressed as a stream, never extracted whole. The decompressed bytes, the nesting depth,
the number of elements and the children of one element are capped (settings
IMPORT_MAX_XML_MB, _DEPTH, _ELEMENTS, _CHILDREN): a file beyond them is refused with a job
error that names the limit. Records are counted as they are read (progress estimates the
total from the bytes read).

`Record` types map to metric types (units through the metrics registry: the Apple unit is
named as one of the registry's input units, after a pre-factor where the registry has no
such unit, e.g. a fraction to %). Sleep analysis intervals that are asleep become sleep
minutes. Each `sourceName` becomes a Device (iPhone, Apple Watch, iPad, the Health app as
manual entry, other sources third-party scale or wearable by what they measure), and each
record gets a stable external_id (hash of type, source, start, end and value), so importing
the same file again adds nothing. Writes go through `metrics.services.device_sync` in
batches. Unknown record types are counted and skipped.

Expat never fetches external entities, and an export that declares any entity (Apple's DTD
declares none) is refused, so an uploaded XML cannot make the parser read files or expand
entity bombs.
"""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO
from xml.parsers import expat

from healthtrack.portability.importing import (
    CappedReader,
    DeviceResolver,
    ImportFailed,
    ImportLimits,
    ImportRefused,
    ImportReport,
    MetricBatcher,
    guess_device_type,
    is_zip,
    stable_id,
)

SOURCE_APP = "Apple Health"
# The XML is fed to the parser in pieces of this size.
READ_BYTES = 1 << 16
# Expat holds a whole tag (or comment) in memory until it ends: a file with this many bytes
# without a new element is refused (Apple writes a record every few hundred bytes).
MAX_QUIET_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RecordType:
    code: str
    # Apple unit -> (registry input unit, factor applied before the registry's conversion).
    units: dict[str, tuple[str, float]]


_PER_MINUTE = {"count/min": ("bpm", 1.0)}
RECORD_TYPES: dict[str, RecordType] = {
    "HKQuantityTypeIdentifierStepCount": RecordType("steps", {"count": ("count", 1.0)}),
    "HKQuantityTypeIdentifierHeartRate": RecordType("heart_rate", _PER_MINUTE),
    "HKQuantityTypeIdentifierRestingHeartRate": RecordType("resting_heart_rate", _PER_MINUTE),
    "HKQuantityTypeIdentifierBodyMass": RecordType(
        "weight",
        {"kg": ("kg", 1.0), "lb": ("lb", 1.0), "g": ("kg", 0.001), "st": ("kg", 6.35029318)},
    ),
    # HealthKit stores percentages as fractions (0.97 with unit "%").
    "HKQuantityTypeIdentifierBodyFatPercentage": RecordType("body_fat", {"%": ("%", 100.0)}),
    "HKQuantityTypeIdentifierBloodPressureSystolic": RecordType(
        "blood_pressure_systolic", {"mmHg": ("mmHg", 1.0)}
    ),
    "HKQuantityTypeIdentifierBloodPressureDiastolic": RecordType(
        "blood_pressure_diastolic", {"mmHg": ("mmHg", 1.0)}
    ),
    # mmol/L is written with the molar mass of glucose: "mmol<180.15588000005408>/L".
    "HKQuantityTypeIdentifierBloodGlucose": RecordType(
        "blood_glucose", {"mg/dL": ("mg/dL", 1.0), "mmol/L": ("mmol/L", 1.0)}
    ),
    "HKQuantityTypeIdentifierOxygenSaturation": RecordType(
        "oxygen_saturation", {"%": ("%", 100.0)}
    ),
    "HKQuantityTypeIdentifierBodyTemperature": RecordType(
        "body_temperature", {"degC": ("°C", 1.0), "degF": ("°F", 1.0)}
    ),
    "HKQuantityTypeIdentifierRespiratoryRate": RecordType(
        "respiratory_rate", {"count/min": ("breaths/min", 1.0)}
    ),
    "HKQuantityTypeIdentifierActiveEnergyBurned": RecordType(
        "active_energy",
        {
            "kcal": ("kcal", 1.0),
            "Cal": ("kcal", 1.0),
            "cal": ("kcal", 0.001),
            "kJ": ("kJ", 1.0),
            "J": ("kJ", 0.001),
        },
    ),
    "HKQuantityTypeIdentifierDistanceWalkingRunning": RecordType(
        "distance",
        {
            "m": ("m", 1.0),
            "km": ("km", 1.0),
            "mi": ("mi", 1.0),
            "cm": ("m", 0.01),
            "ft": ("m", 0.3048),
            "yd": ("m", 0.9144),
        },
    ),
    "HKQuantityTypeIdentifierAppleExerciseTime": RecordType(
        "exercise", {"min": ("min", 1.0), "s": ("min", 1 / 60), "hr": ("min", 60.0)}
    ),
}
SLEEP_TYPE = "HKCategoryTypeIdentifierSleepAnalysis"
ASLEEP_VALUES = frozenset(
    {
        "HKCategoryValueSleepAnalysisAsleep",
        "HKCategoryValueSleepAnalysisAsleepUnspecified",
        "HKCategoryValueSleepAnalysisAsleepCore",
        "HKCategoryValueSleepAnalysisAsleepDeep",
        "HKCategoryValueSleepAnalysisAsleepREM",
    }
)


def _apple_unit(unit: str) -> str:
    if unit.startswith("mmol<") and unit.endswith(">/L"):
        return "mmol/L"
    return unit


# --- reading the file ------------------------------------------------------------------------


def _export_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    names = [
        n
        for n in archive.namelist()
        if n == "export.xml" or n.endswith("/export.xml") and not n.startswith("__MACOSX/")
    ]
    if not names:
        raise ImportFailed("The ZIP file has no export.xml (an Apple Health export).")
    return archive.getinfo(min(names, key=len))


@contextlib.contextmanager
def open_export(fileobj: IO[bytes], limits: ImportLimits | None = None) -> Iterator[CappedReader]:
    """The export.xml stream of an uploaded file: the file itself, or the member of a ZIP,
    decompressed as it is read, never more than `limits.max_bytes` (refused up front when
    the file or the ZIP's member says it is larger). `fileobj` must be seekable; it is
    rewound."""
    limits = limits or ImportLimits.from_settings()
    if not is_zip(fileobj):
        fileobj.seek(0, 2)
        size = fileobj.tell()
        fileobj.seek(0)
        yield CappedReader(fileobj, size=size, max_bytes=limits.max_bytes)
        return
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile:
        raise ImportFailed("The file is not a readable ZIP archive.") from None
    with archive:
        info = _export_member(archive)
        reader = CappedReader(None, size=info.file_size, max_bytes=limits.max_bytes)
        try:
            member = archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError):
            raise ImportFailed("The export.xml in the ZIP cannot be read.") from None
        with member:
            reader.stream = member
            yield reader


def iter_elements(
    stream: IO[bytes], limits: ImportLimits | None = None
) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(line, tag, attributes) of every `Record` (also those nested in a `Correlation`),
    once its end tag is read, and of every other top-level element, in document order; the
    line is that of the start tag.

    Expat's callbacks are used directly and no tree is built: an element's attributes are
    kept only while it is open and it is a Record or top-level, so memory is bounded by the
    depth, however many elements (or children of one element) the file holds. Refused
    (ImportFailed) beyond `limits`: the nesting depth, the number of elements, the number of
    children of one element below the root; and any entity declaration (Apple never writes one)."""
    limits = limits or ImportLimits.from_settings()
    parser = expat.ParserCreate()
    ready: list[tuple[int, str, dict[str, str]]] = []
    # Per open element: [line, attributes or None, children so far].
    open_elements: list[list] = []
    elements = 0

    def start(tag: str, attrib: dict[str, str]) -> None:
        nonlocal elements
        elements += 1
        if elements > limits.max_elements:
            raise ImportRefused(
                f"The export has more than {limits.max_elements:,} XML elements "
                f"(IMPORT_MAX_XML_ELEMENTS); it was not imported."
            )
        depth = len(open_elements) + 1
        if depth > limits.max_depth:
            raise ImportRefused(
                f"The export nests XML elements deeper than {limits.max_depth} levels "
                f"(IMPORT_MAX_XML_DEPTH); it was not imported."
            )
        if depth == 1:
            if tag != "HealthData":
                raise ImportFailed("This XML is not an Apple Health export.")
        elif depth > 2:
            # The root holds every record; below it, an element holds a few (a Correlation
            # its two readings, a Workout its events).
            parent = open_elements[-1]
            parent[2] += 1
            if parent[2] > limits.max_children:
                raise ImportRefused(
                    f"An XML element of the export has more than {limits.max_children:,} "
                    f"children (IMPORT_MAX_XML_CHILDREN); it was not imported."
                )
        keep = tag == "Record" or depth == 2
        open_elements.append([parser.CurrentLineNumber, attrib if keep else None, 0])

    def end(tag: str) -> None:
        line, attrib, _ = open_elements.pop()
        if attrib is not None:
            ready.append((line, tag, attrib))

    def entity(*_args) -> None:
        raise ImportRefused("The XML declares entities, which an Apple Health export never does.")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity
    try:
        chunk = stream.read(READ_BYTES)
        if not chunk:
            raise ImportFailed("The file is empty.")
        quiet, seen = 0, 0
        while True:
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                yield from ready  # the records completed before the error
                raise ImportFailed(f"The XML is not well-formed at line {exc.lineno}.") from None
            quiet = quiet + len(chunk) if elements == seen else 0
            seen = elements
            if quiet > MAX_QUIET_BYTES:
                raise ImportRefused(
                    f"The export has more than {MAX_QUIET_BYTES // (1024 * 1024)} MB without "
                    "a new XML element (a tag, text or comment that long); it was not imported."
                )
            yield from ready
            ready.clear()
            if not chunk:
                return
            chunk = stream.read(READ_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise ImportFailed("The ZIP archive is damaged (its export.xml cannot be read).") from None


_OFFSETS: dict[str, timezone] = {}


def parse_date(raw: str) -> datetime:
    """Apple's "2024-03-01 07:30:00 +0100" as an aware datetime; ValueError if malformed."""
    if len(raw) == 25 and raw[4] == "-" and raw[10] == " " and raw[19] == " ":
        offset = raw[20:]
        tz = _OFFSETS.get(offset)
        if tz is None:
            sign = -1 if offset[0] == "-" else 1
            if offset[0] not in "+-":
                raise ValueError("bad offset")
            minutes = int(offset[1:3]) * 60 + int(offset[3:5])
            tz = _OFFSETS[offset] = timezone(sign * timedelta(minutes=minutes))
        return datetime(
            int(raw[0:4]),
            int(raw[5:7]),
            int(raw[8:10]),
            int(raw[11:13]),
            int(raw[14:16]),
            int(raw[17:19]),
            tzinfo=tz,
        )
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError("naive")
    return value


# --- mapping records -------------------------------------------------------------------------


def map_record(attrib, line: int, report: ImportReport) -> dict | None:
    """The measurement (sync sample) for one Record's attributes, or None when it is skipped
    (counted in `report`) or refused (an error in `report`)."""
    rtype = attrib.get("type", "")
    if rtype == SLEEP_TYPE:
        category = attrib.get("value", "")
        if category not in ASLEEP_VALUES:
            report.skipped[f"sleep {category.removeprefix('HKCategoryValueSleepAnalysis')}"] += 1
            return None
        code = "sleep"
    else:
        mapping = RECORD_TYPES.get(rtype)
        if mapping is None:
            report.unknown_types[rtype or "(no type)"] += 1
            return None
        code = mapping.code

    raw_start, raw_end = attrib.get("startDate", ""), attrib.get("endDate", "")
    try:
        start = parse_date(raw_start)
    except (ValueError, IndexError):
        report.reject(line=line, errors={"recorded_at": ["Not a valid startDate."]})
        return None
    end = None
    if raw_end:
        try:
            end = parse_date(raw_end)
        except (ValueError, IndexError):
            report.reject(line=line, errors={"end_at": ["Not a valid endDate."]})
            return None

    raw_value = attrib.get("value", "")
    if code == "sleep":
        if end is None:
            report.reject(line=line, errors={"end_at": ["A sleep interval needs an endDate."]})
            return None
        value, unit = (end - start).total_seconds() / 60, "min"
    else:
        apple_unit = _apple_unit(attrib.get("unit", ""))
        converted = mapping.units.get(apple_unit)
        if converted is None:
            report.reject(
                line=line, errors={"unit": [f"Unit not supported for {rtype.removeprefix('HK')}."]}
            )
            return None
        unit, factor = converted
        try:
            value = float(raw_value) * factor
        except ValueError:
            report.reject(line=line, errors={"value": ["A number is required."]})
            return None

    source = attrib.get("sourceName", "")
    return {
        "metric_type": code,
        "value": value,
        "unit": unit,
        "recorded_at": start.astimezone(UTC),
        "end_at": end.astimezone(UTC) if end is not None and end > start else None,
        "source_app": SOURCE_APP,
        "external_id": stable_id("ah", rtype, source, raw_start, raw_end, raw_value),
    }


def import_export(*, user, fileobj: IO[bytes], report: ImportReport, key_prefix: str) -> None:
    """Read an Apple Health export into `user`'s measurements; counts and errors go to
    `report`. Raises ImportFailed when the file is not an Apple Health export, ImportRefused
    when it is beyond the import limits (settings IMPORT_MAX_*).

    One pass: records are counted as they are read; until the end, `report.total` is an
    estimate from the share of the (decompressed) bytes read so far."""
    limits = ImportLimits.from_settings()
    devices = DeviceResolver(user)
    by_source = {}
    with (
        open_export(fileobj, limits) as stream,
        MetricBatcher(
            user=user, report=report, key_prefix=key_prefix, content_id_prefix="ah:"
        ) as batcher,
    ):
        report.estimate_total = stream.estimate
        report.report()
        for line, tag, attrib in iter_elements(stream, limits):
            if tag != "Record":
                report.skipped[f"element {tag}"] += 1
                continue
            sample = map_record(attrib, line, report)
            report.advance()
            if sample is None:
                continue
            source = attrib.get("sourceName") or "Unknown source"
            device = by_source.get(source)
            if device is None:
                device = by_source[source] = devices.get(
                    identifier=f"apple-health:{source}",
                    name=source,
                    device_type=guess_device_type(
                        source, attrib.get("device", ""), sample["metric_type"]
                    ),
                )
            batcher.add(device, sample, line)
    report.estimate_total = None
    report.total = report.processed
