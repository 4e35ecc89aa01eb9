from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, date, datetime

import pytest

from healthtrack.portability import apple_health
from healthtrack.portability.importing import ImportReport
from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup
from tests.portability.apple import (
    IPHONE,
    WATCH,
    correlation,
    export_xml,
    export_zip,
    record,
)

pytestmark = pytest.mark.django_db

SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
BP = "HKCorrelationTypeIdentifierBloodPressure"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def sample_export() -> bytes:
    """Three sources, every mapped type, sleep stages, unknown types and two bad records.
    Local times are UTC+1 (a London-registered phone travelling in Berlin)."""
    bp = [
        record(
            "BloodPressureSystolic",
            121,
            "2026-03-02 08:30:00 +0100",
            unit="mmHg",
            source="Withings",
            indent="  ",
        ),
        record(
            "BloodPressureDiastolic",
            79,
            "2026-03-02 08:30:00 +0100",
            unit="mmHg",
            source="Withings",
            indent="  ",
        ),
    ]
    return export_xml(
        [
            # The scale's first record is a weight: it becomes a third-party scale.
            record(
                "BodyMass", "154.3234", "2026-03-02 07:55:00 +0100", unit="lb", source="Withings"
            ),
            correlation(BP, "2026-03-02 08:30:00 +0100", bp, "Withings"),
            # Apple writes the halves again at the top level: stored once.
            *[line.replace("  <", " <", 1) for line in bp],
            # Overlapping steps: the watch (priority 100) wins the overlap over the iPhone.
            record(
                "StepCount",
                1000,
                "2026-03-02 09:00:00 +0100",
                "2026-03-02 09:30:00 +0100",
                unit="count",
                source=IPHONE,
            ),
            record(
                "StepCount",
                600,
                "2026-03-02 09:15:00 +0100",
                "2026-03-02 09:45:00 +0100",
                unit="count",
                source=WATCH,
            ),
            record(
                "HeartRate",
                60,
                "2026-03-02 10:00:00 +0100",
                unit="count/min",
                source=WATCH,
                metadata={"HKMetadataKeyHeartRateMotionContext": "0"},
            ),
            record("HeartRate", 80, "2026-03-02 10:05:00 +0100", unit="count/min", source=WATCH),
            record(
                "RestingHeartRate", 55, "2026-03-02 07:00:00 +0100", unit="count/min", source=WATCH
            ),
            record(
                "BloodGlucose",
                "5.5",
                "2026-03-02 07:30:00 +0100",
                unit="mmol<180.15588000005408>/L",
            ),
            record("OxygenSaturation", "0.97", "2026-03-02 10:10:00 +0100", unit="%", source=WATCH),
            record("BodyTemperature", "98.6", "2026-03-02 07:10:00 +0100", unit="degF"),
            record(
                "RespiratoryRate", 14, "2026-03-02 03:00:00 +0100", unit="count/min", source=WATCH
            ),
            record(
                "ActiveEnergyBurned",
                "418.4",
                "2026-03-02 09:00:00 +0100",
                "2026-03-02 09:30:00 +0100",
                unit="kJ",
                source=WATCH,
            ),
            record(
                "DistanceWalkingRunning",
                "1.5",
                "2026-03-02 09:00:00 +0100",
                "2026-03-02 09:30:00 +0100",
                unit="km",
                source=IPHONE,
            ),
            record(
                "AppleExerciseTime",
                12,
                "2026-03-02 09:00:00 +0100",
                "2026-03-02 09:12:00 +0100",
                unit="min",
                source=WATCH,
            ),
            record(
                SLEEP,
                "HKCategoryValueSleepAnalysisInBed",
                "2026-03-01 23:00:00 +0100",
                "2026-03-02 07:00:00 +0100",
                source=IPHONE,
            ),
            record(
                SLEEP,
                "HKCategoryValueSleepAnalysisAsleepCore",
                "2026-03-01 23:30:00 +0100",
                "2026-03-02 01:00:00 +0100",
                source=WATCH,
            ),
            record(
                SLEEP,
                "HKCategoryValueSleepAnalysisAsleepREM",
                "2026-03-02 01:00:00 +0100",
                "2026-03-02 01:30:00 +0100",
                source=WATCH,
            ),
            record(
                SLEEP,
                "HKCategoryValueSleepAnalysisAwake",
                "2026-03-02 01:30:00 +0100",
                "2026-03-02 01:35:00 +0100",
                source=WATCH,
            ),
            record("DietaryWater", 250, "2026-03-02 12:00:00 +0100", unit="mL"),
            record("DietaryWater", 300, "2026-03-02 13:00:00 +0100", unit="mL"),
            record("HeadphoneAudioExposure", 70, "2026-03-02 14:00:00 +0100", unit="dBASPL"),
            record("HeartRate", "abc", "2026-03-02 11:00:00 +0100", unit="count/min", source=WATCH),
            record("HeartRate", 400, "2026-03-02 11:05:00 +0100", unit="count/min", source=WATCH),
            ' <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="30" '
            'sourceName="Dana’s Apple Watch" startDate="2026-03-02 09:00:00 +0100" '
            'endDate="2026-03-02 09:30:00 +0100">\n'
            '  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="2026-03-02 09:00:00 +0100"/>\n'
            " </Workout>\n",
            ' <ActivitySummary dateComponents="2026-03-02" activeEnergyBurned="100"/>\n',
        ]
    )


EXPECTED_ROWS = {
    # (metric_type, value, recorded_at, end_at, source)
    ("weight", 70.0, utc(2, 6, 55), None, "Withings"),
    ("blood_pressure_systolic", 121.0, utc(2, 7, 30), None, "Withings"),
    ("blood_pressure_diastolic", 79.0, utc(2, 7, 30), None, "Withings"),
    ("steps", 1000.0, utc(2, 8), utc(2, 8, 30), IPHONE),
    ("steps", 600.0, utc(2, 8, 15), utc(2, 8, 45), WATCH),
    ("heart_rate", 60.0, utc(2, 9), None, WATCH),
    ("heart_rate", 80.0, utc(2, 9, 5), None, WATCH),
    ("resting_heart_rate", 55.0, utc(2, 6), None, WATCH),
    ("blood_glucose", 99.09, utc(2, 6, 30), None, IPHONE),
    ("oxygen_saturation", 97.0, utc(2, 9, 10), None, WATCH),
    ("body_temperature", 37.0, utc(2, 6, 10), None, IPHONE),
    ("respiratory_rate", 14.0, utc(2, 2), None, WATCH),
    ("active_energy", 100.0, utc(2, 8), utc(2, 8, 30), WATCH),
    ("distance", 1500.0, utc(2, 8), utc(2, 8, 30), IPHONE),
    ("exercise", 12.0, utc(2, 8), utc(2, 8, 12), WATCH),
    ("sleep", 90.0, utc(1, 22, 30), utc(2, 0), WATCH),
    ("sleep", 30.0, utc(2, 0), utc(2, 0, 30), WATCH),
}


def line_of(xml: bytes, needle: str) -> int:
    return next(i for i, line in enumerate(xml.decode().splitlines(), 1) if needle in line)


def run_import(user, content: bytes, name: str = "export.xml") -> ImportJob:
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.APPLE_HEALTH, original_name=name)
    return import_job_execute(job=job, fileobj=io.BytesIO(content))


def stored_rows(user) -> set[tuple]:
    return {
        (m.metric_type, round(m.value, 2), m.recorded_at, m.end_at, m.device.name)
        for m in HealthMetric.objects.filter(user=user).select_related("device")
    }


def test_apple_health_export_imports_every_mapped_type_with_units_converted(user):
    xml = sample_export()
    job = run_import(user, xml)

    assert job.status == ImportJob.Status.DONE
    assert stored_rows(user) == EXPECTED_ROWS
    assert job.total == job.processed == 26
    assert job.summary["created"] == 17
    assert job.summary["duplicates"] == 2  # the blood pressure halves written twice
    assert job.summary["unknown_types"] == {
        "HKQuantityTypeIdentifierDietaryWater": 2,
        "HKQuantityTypeIdentifierHeadphoneAudioExposure": 1,
    }
    assert job.summary["skipped"] == {
        "element ActivitySummary": 1,
        "element Correlation": 1,
        "element ExportDate": 1,
        "element Me": 1,
        "element Workout": 1,
        "sleep Awake": 1,
        "sleep InBed": 1,
    }
    every = HealthMetric.objects.filter(user=user)
    assert set(every.values_list("source_app", flat=True)) == {"Apple Health"}
    assert all(m.external_id.startswith("ah:") for m in every)


def test_bad_records_are_reported_with_their_line_and_field_never_the_value(user):
    xml = sample_export()
    job = run_import(user, xml)

    assert job.error_count == 2
    assert job.summary["rows_with_errors"] == 2
    assert job.errors == [
        {"line": line_of(xml, 'value="abc"'), "field": "value", "message": "A number is required."},
        {
            "line": line_of(xml, 'value="400"'),
            "field": "value",
            "message": "Outside the plausible range for heart rate: 20 to 250 bpm.",
        },
    ]
    assert all("400" not in e["message"] for e in job.errors)


def test_each_source_becomes_a_device_with_its_priority(user):
    run_import(user, sample_export())

    devices = {d.name: (d.device_type, d.priority) for d in Device.objects.filter(user=user)}
    assert devices == {
        WATCH: ("apple_watch", 100),
        IPHONE: ("iphone", 80),
        "Withings": ("third_party_scale", 40),
    }


def test_rollups_after_import_deduplicate_overlapping_steps_and_sum_sleep(user):
    run_import(user, sample_export())

    daily = {
        (r.metric_type, r.day): (round(r.value, 2), r.count)
        for r in DailyRollup.objects.filter(user=user)
    }
    march_2, march_1 = date(2026, 3, 2), date(2026, 3, 1)
    # Watch keeps its 600; the iPhone keeps the half of its 1000 outside the overlap.
    assert daily[("steps", march_2)] == (1100.0, 2)
    assert daily[("heart_rate", march_2)] == (70.0, 2)
    assert daily[("sleep", march_1)] == (90.0, 1)
    assert daily[("sleep", march_2)] == (30.0, 1)
    assert daily[("weight", march_2)] == (70.0, 1)
    assert daily[("blood_glucose", march_2)] == (99.09, 1)
    assert len(daily) == 15
    hourly_steps = HourlyRollup.objects.get(user=user, metric_type="steps")
    assert (hourly_steps.period_start, hourly_steps.value) == (utc(2, 8), 1100.0)


def test_importing_the_same_export_again_as_a_zip_adds_nothing(user):
    xml = sample_export()
    run_import(user, xml)
    before_rows = stored_rows(user)
    before_rollups = set(
        DailyRollup.objects.filter(user=user).values_list("metric_type", "day", "value", "count")
    )

    again = run_import(user, export_zip(xml), name="export.zip")

    assert again.status == ImportJob.Status.DONE
    assert again.summary["created"] == 0
    assert again.summary["duplicates"] == 19
    assert HealthMetric.objects.filter(user=user).count() == 17
    assert stored_rows(user) == before_rows
    assert Device.objects.filter(user=user).count() == 3
    assert (
        set(
            DailyRollup.objects.filter(user=user).values_list(
                "metric_type", "day", "value", "count"
            )
        )
        == before_rollups
    )


def test_a_zip_without_export_xml_fails_with_a_message(user):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photos/cat.jpg", b"meow")
    job = run_import(user, buffer.getvalue(), name="export.zip")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors == [
        {
            "line": None,
            "field": "file",
            "message": "The ZIP file has no export.xml (an Apple Health export).",
        }
    ]


def test_malformed_xml_fails_naming_the_line_and_keeps_records_before_it(user):
    xml = export_xml(
        [record("HeartRate", 61, "2026-03-02 10:00:00 +0100", unit="count/min", source=WATCH)]
    )
    broken = xml.replace(b"</HealthData>", b"<Record type=\n</HealthData>")
    job = run_import(user, broken)

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"].startswith("The XML is not well-formed at line ")
    assert HealthMetric.objects.filter(user=user).count() == 1


def test_another_xml_document_is_refused(user):
    job = run_import(user, b'<?xml version="1.0"?>\n<html><body/></html>\n')

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == "This XML is not an Apple Health export."


def test_parser_memory_stays_flat_however_many_records(user):
    """Elements are dropped as they are read: parsing 20,000 records (about 6 MB of XML)
    allocates no more than a small, fixed amount at any time."""
    line = record("HeartRate", 70, "2026-03-02 10:00:00 +0100", unit="count/min", source=WATCH)
    xml = export_xml([line] * 20000)
    tracemalloc.start()
    try:
        count = sum(1 for _ in apple_health.iter_elements(io.BytesIO(xml)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20000 + 2  # the records, ExportDate and Me
    assert len(xml) > 5_000_000
    assert peak < 1_000_000


def test_apple_dates_with_offsets_parse_to_aware_utc():
    parsed = apple_health.parse_date("2026-03-02 07:30:00 -0530")
    assert parsed.astimezone(UTC) == utc(2, 13)
    with pytest.raises(ValueError):
        apple_health.parse_date("2026-03-02 07:30:00")


def test_unsupported_unit_is_an_error_on_that_record(user):
    xml = export_xml(
        [record("HeartRate", 1, "2026-03-02 10:00:00 +0100", unit="count/s", source=WATCH)]
    )
    report = ImportReport()
    apple_health.import_export(user=user, fileobj=io.BytesIO(xml), report=report, key_prefix="t")
    assert report.errors == [
        {
            "line": line_of(xml, "count/s"),
            "field": "unit",
            "message": "Unit not supported for QuantityTypeIdentifierHeartRate.",
        }
    ]
