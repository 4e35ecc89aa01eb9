"""Apple Health export (`export.zip` or `export.xml` from the iPhone Health app).

The XML is read by a pull parser (`xml.etree.ElementTree.XMLPullParser`, the incremental
engine behind `iterparse`) fed one line at a time, so each record's line number is known, and
every top-level element is dropped from the tree as soon as it has been read: memory stays
flat for a multi-GB file. A ZIP member is decompressed as a stream, never extracted whole.

`Record` types map to metric types (units through the metrics registry: the Apple unit is
named as one of the registry's input units, after a pre-factor where the registry has no
such unit, e.g. a fraction to %). Sleep analysis intervals that are asleep become sleep
minutes. Each `sourceName` becomes a Device (iPhone, Apple Watch, iPad, the Health app as
manual entry, other sources third-party scale or wearable by what they measure), and each
record gets a stable external_id (hash of type, source, start, end and value), so importing
the same file again adds nothing. Writes go through `metrics.services.device_sync` in
batches. Unknown record types are counted and skipped.

Expat (2.4+) refuses entity-expansion bombs and ElementTree never fetches external
entities, so an uploaded XML cannot make the parser read files or blow up memory.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO
from xml.etree import ElementTree

from healthtrack.portability.importing import (
    DeviceResolver,
    ImportFailed,
    ImportReport,
    MetricBatcher,
    guess_device_type,
    is_zip,
    stable_id,
)

SOURCE_APP = "Apple Health"
# A longer line is fed in pieces of this size (Apple writes one record per line).
MAX_LINE = 1 << 20


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


def _export_member(archive: zipfile.ZipFile) -> str:
    names = [
        n
        for n in archive.namelist()
        if n == "export.xml" or n.endswith("/export.xml") and not n.startswith("__MACOSX/")
    ]
    if not names:
        raise ImportFailed("The ZIP file has no export.xml (an Apple Health export).")
    return min(names, key=len)


@contextlib.contextmanager
def open_export(fileobj: IO[bytes]) -> Iterator[IO[bytes]]:
    """The export.xml stream of an uploaded file: the file itself, or the member of a ZIP,
    decompressed as it is read. `fileobj` must be seekable; it is rewound."""
    if not is_zip(fileobj):
        yield fileobj
        return
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile:
        raise ImportFailed("The file is not a readable ZIP archive.") from None
    with archive, archive.open(_export_member(archive)) as member:
        yield member


def count_records(stream: IO[bytes]) -> int:
    """How many `<Record ` elements the stream holds (a fast byte scan, for progress)."""
    needle = b"<Record "
    count, tail = 0, b""
    while chunk := stream.read(1 << 20):
        data = tail + chunk
        count += data.count(needle)
        tail = data[-(len(needle) - 1) :]
    return count


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.readline(MAX_LINE):
        yield chunk


def iter_elements(stream: IO[bytes]) -> Iterator[tuple[int, ElementTree.Element]]:
    """(line, element) for every `Record` (also those nested in a `Correlation`) and every
    other top-level element, in document order. The element is only valid until the next
    item is asked for: top-level elements are cleared and dropped as soon as they end."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    root = None
    depth = 0
    completed = 0
    record_line = 0
    try:
        for chunk in _lines(stream):
            line = completed + 1
            if chunk.endswith(b"\n"):
                completed += 1
            parser.feed(chunk)
            for event, elem in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth == 1:
                        if elem.tag != "HealthData":
                            raise ImportFailed("This XML is not an Apple Health export.")
                        root = elem
                    elif elem.tag == "Record":
                        record_line = line
                    continue
                if elem.tag == "Record":
                    yield record_line, elem
                elif depth == 2:
                    yield line, elem
                if depth == 2:
                    # Done with this top-level element: free it and its children.
                    root.clear()
                depth -= 1
        parser.close()
    except ElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        where = f" at line {line}" if line else ""
        raise ImportFailed(f"The XML is not well-formed{where}.") from None
    if root is None:
        raise ImportFailed("The file is empty.")


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
    `report`. Raises ImportFailed when the file is not an Apple Health export."""
    with open_export(fileobj) as stream:
        report.total = count_records(stream)
    report.report()
    devices = DeviceResolver(user)
    by_source = {}
    with (
        MetricBatcher(
            user=user, report=report, key_prefix=key_prefix, content_id_prefix="ah:"
        ) as batcher,
        open_export(fileobj) as stream,
    ):
        for line, elem in iter_elements(stream):
            if elem.tag != "Record":
                report.skipped[f"element {elem.tag}"] += 1
                continue
            sample = map_record(elem.attrib, line, report)
            report.advance()
            if sample is None:
                continue
            source = elem.get("sourceName") or "Unknown source"
            device = by_source.get(source)
            if device is None:
                device = by_source[source] = devices.get(
                    identifier=f"apple-health:{source}",
                    name=source,
                    device_type=guess_device_type(
                        source, elem.get("device", ""), sample["metric_type"]
                    ),
                )
            batcher.add(device, sample, line)
    report.total = max(report.total, report.processed)
