"""Imports in constant memory (issue 19): hostile or oversized files are refused by the limits
(IMPORT_MAX_XML_*) with a job error naming the limit, nothing more is stored, a nested bomb
is read in bounded memory, records are counted while they are read, and a job whose worker
keeps dying is given up."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile

from healthtrack.portability import apple_health, services
from healthtrack.portability.importing import ImportLimits, ImportReport, memory_limit
from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric
from tests.portability.apple import HEADER, WATCH, export_xml, export_zip, record

pytestmark = pytest.mark.django_db

HEART = record("HeartRate", 61, "2026-03-02 10:00:00 +0100", unit="count/min", source=WATCH)


def run_import(user, content: bytes, name: str = "export.xml", kind=ImportJob.Kind.APPLE_HEALTH):
    job = ImportJob.objects.create(user=user, kind=kind, original_name=name)
    return services.import_job_execute(job=job, fileobj=io.BytesIO(content))


def correlation_bomb(children: int) -> bytes:
    """One Correlation holding `children` empty elements: a few hundred bytes per 10,000 in
    a ZIP."""
    return (
        HEADER + ' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="x" '
        'startDate="2026-03-02 10:00:00 +0100" endDate="2026-03-02 10:00:00 +0100">\n'
        + "<a/>" * children
        + "</Correlation>\n</HealthData>\n"
    ).encode()


def nested_bomb(depth: int) -> bytes:
    return (HEADER + HEART + "<a>" * depth + "</a>" * depth + "\n</HealthData>\n").encode()


def limits(**changes) -> ImportLimits:
    return ImportLimits(**{**ImportLimits.from_settings().__dict__, **changes})


def peak_bytes_reading(xml: bytes, read_limits: ImportLimits) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in apple_health.iter_elements(io.BytesIO(xml), read_limits))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_a_zipped_correlation_of_many_empty_children_is_refused_naming_the_limit(user):
    archive = export_zip(correlation_bomb(300_000))
    assert len(archive) < 20_000

    job = run_import(user, archive, name="export.zip")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors == [
        {
            "line": None,
            "field": "file",
            "message": "An XML element of the export has more than 100,000 children "
            "(IMPORT_MAX_XML_CHILDREN); it was not imported.",
        }
    ]


def test_the_children_limit_does_not_count_the_records_under_the_root(user, settings):
    settings.IMPORT_MAX_XML_CHILDREN = 10
    readings = [
        record("StepCount", i, f"2026-03-02 10:{i:02d}:00 +0100", unit="count") for i in range(30)
    ]
    job = run_import(user, export_xml(readings))

    assert job.status == ImportJob.Status.DONE
    assert HealthMetric.objects.filter(user=user).count() == 30


def test_a_wide_element_is_read_in_bounded_memory_when_the_limits_allow_it():
    """Children are never kept: 300,000 of them (the tree the old reader built held them
    all, about 25 MB) cost no more than a few hundred kB at any time."""
    xml = correlation_bomb(300_000)
    count, peak = peak_bytes_reading(xml, limits(max_children=1_000_000))

    assert count == 3  # ExportDate, Me, the Correlation
    assert peak < 1_000_000


def test_deep_nesting_is_refused_and_nothing_is_stored(user):
    job = run_import(user, nested_bomb(5000))

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The export nests XML elements deeper than 32 levels (IMPORT_MAX_XML_DEPTH); it was "
        "not imported."
    )
    assert not HealthMetric.objects.filter(user=user).exists()


def test_deep_nesting_is_read_in_bounded_memory_up_to_the_depth_limit():
    xml = nested_bomb(50_000)
    count, peak = peak_bytes_reading(xml, limits(max_depth=60_000))

    assert count == 3 + 1  # ExportDate, Me, the record, the outer <a>
    assert peak < 20_000_000


def test_more_elements_than_the_limit_are_refused_and_nothing_is_stored(user, settings):
    settings.IMPORT_MAX_XML_ELEMENTS = 100
    job = run_import(user, export_xml([HEART] * 150))

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The export has more than 100 XML elements (IMPORT_MAX_XML_ELEMENTS); it was not imported."
    )
    assert job.summary["created"] == 0
    assert not HealthMetric.objects.filter(user=user).exists()


def test_within_the_element_limit_the_same_export_imports(user, settings):
    settings.IMPORT_MAX_XML_ELEMENTS = 200
    job = run_import(user, export_xml([HEART] * 150))

    assert job.status == ImportJob.Status.DONE
    assert HealthMetric.objects.filter(user=user).count() == 1  # the same reading 150 times


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "xml"])
def test_a_file_over_the_decompressed_size_limit_is_refused_before_anything_is_stored(
    user, settings, zipped
):
    settings.IMPORT_MAX_XML_MB = 1
    xml = export_xml([HEART] * 6000)
    assert len(xml) > 1024 * 1024
    content = export_zip(xml) if zipped else xml
    if zipped:
        assert len(content) < 100_000

    job = run_import(user, content, name="export.zip" if zipped else "export.xml")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The file is larger than 1 MB once decompressed (IMPORT_MAX_XML_MB); it was not imported."
    )
    assert job.processed == 0
    assert not HealthMetric.objects.filter(user=user).exists()


def test_a_zip_member_that_understates_its_size_cannot_pass_the_limit(user, settings):
    """The ZIP's directory says 1 kB; the data decompresses to 2 MB: zipfile stops at the
    stated size and the damaged member fails the import."""
    settings.IMPORT_MAX_XML_MB = 1
    xml = export_xml([HEART] * 6000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export.xml", xml)
    data = bytearray(buffer.getvalue())
    # Rewrite the uncompressed size in the local header and the central directory.
    real = len(xml).to_bytes(4, "little")
    for offset in [i for i in range(len(data) - 3) if data[i : i + 4] == real]:
        data[offset : offset + 4] = (1000).to_bytes(4, "little")

    job = run_import(user, bytes(data), name="export.zip")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The ZIP archive is damaged (its export.xml cannot be read)."
    )
    assert not HealthMetric.objects.filter(user=user).exists()


def test_the_export_zip_reader_has_the_same_decompressed_size_limit(user, settings):
    settings.IMPORT_MAX_XML_MB = 1
    lines = [
        "{",
        '"format": "healthtrack-export",',
        '"version": 1,',
        '"metrics": [',
        *[
            '{"metric_type": "steps", "value": 10, "unit": "count", '
            f'"recorded_at": "2026-03-02T10:{i % 60:02d}:00Z"}},'
            for i in range(30_000)
        ],
        "]",
        "}",
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("healthtrack-export.json", "\n".join(lines))

    job = run_import(user, buffer.getvalue(), name="export.zip", kind=ImportJob.Kind.JSON_EXPORT)

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"].startswith("The file is larger than 1 MB once decompressed")
    assert not HealthMetric.objects.filter(user=user).exists()


def test_a_tag_longer_than_the_parser_may_hold_is_refused(user, monkeypatch):
    """Expat keeps a whole tag in memory until it ends: a zipped 3 MB attribute value (a
    few kB in the ZIP) is refused once more than MAX_QUIET_BYTES have passed without a new
    element."""
    monkeypatch.setattr(apple_health, "MAX_QUIET_BYTES", 1024 * 1024)
    huge = HEART.replace('sourceVersion="17.3"', f'sourceVersion="{"9" * 3_000_000}"')
    archive = export_zip(export_xml([HEART, huge]))
    assert len(archive) < 50_000

    job = run_import(user, archive, name="export.zip")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The export has more than 1 MB without a new XML element (a tag, text or comment "
        "that long); it was not imported."
    )
    assert not HealthMetric.objects.filter(user=user).exists()


def test_entity_declarations_are_refused(user):
    laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n<!ENTITY lol "lol">\n'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        b"<HealthData>&lol2;</HealthData>\n"
    )
    job = run_import(user, laughs)

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == (
        "The XML declares entities, which an Apple Health export never does."
    )


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "xml"])
def test_records_are_counted_while_they_are_read_not_before(user, zipped):
    """Progress is reported while the file is being read (never after a first pass over it),
    with the total estimated from the share of bytes read, and exact at the end."""
    xml = export_xml(
        [
            record("StepCount", i, f"2026-03-02 10:{i % 60:02d}:00 +0100", unit="count")
            for i in range(7000)
        ]
    )
    fileobj = io.BytesIO(export_zip(xml) if zipped else xml)
    seen = []

    def progress(report: ImportReport) -> None:
        seen.append((report.processed, report.total, fileobj.tell()))

    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.APPLE_HEALTH)
    job = services.import_job_execute(job=job, fileobj=fileobj, on_progress=progress)

    assert job.status == ImportJob.Status.DONE
    assert job.total == job.processed == 7000
    during = [(p, t, at) for p, t, at in seen if 0 < p < 7000]
    assert during, seen
    processed, total, position = during[0]
    assert position < len(fileobj.getvalue())  # the file was not read through first
    assert 5000 <= total <= 9000  # estimated from the bytes read
    assert seen[0][:2] == (0, 0)


def stored_job(user, content: bytes) -> ImportJob:
    job = ImportJob(user=user, kind=ImportJob.Kind.APPLE_HEALTH, original_name="export.xml")
    job.file.save("export.xml", ContentFile(content), save=False)
    job.save()
    return job


def test_a_job_whose_worker_died_every_time_ends_failed_with_the_reason(user, settings):
    settings.IMPORT_MAX_ATTEMPTS = 3
    job = stored_job(user, export_xml([HEART]))
    stored = job.file.path
    for _ in range(3):
        # What a worker does before it is killed (late acks then deliver the task again).
        assert services.import_job_start(job_id=job.pk) is not None

    assert services.import_job_run(job_id=job.pk).status == ImportJob.Status.FAILED

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.attempts == 4
    assert job.errors[-1] == {
        "line": None,
        "field": "file",
        "message": "The import stopped its worker 3 times (out of memory, killed or timed out) "
        "and was not started again; the rows stored before are kept.",
    }
    assert job.file.name == ""
    assert not os.path.exists(stored)
    assert not HealthMetric.objects.filter(user=user).exists()
    # Delivered once more, it is left alone.
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.attempts == 4


def test_a_job_whose_worker_died_fewer_times_than_the_limit_runs_again(user, settings):
    settings.IMPORT_MAX_ATTEMPTS = 3
    job = stored_job(user, export_xml([HEART]))
    services.import_job_start(job_id=job.pk)
    services.import_job_start(job_id=job.pk)

    job = services.import_job_run(job_id=job.pk)

    assert job.status == ImportJob.Status.DONE
    assert HealthMetric.objects.filter(user=user).count() == 1


def test_the_import_memory_limit_turns_a_runaway_allocation_into_memory_error():
    with pytest.raises(MemoryError), memory_limit(64):
        bytearray(512 * 1024 * 1024)
    # Restored afterwards.
    assert len(bytearray(128 * 1024 * 1024)) == 128 * 1024 * 1024


def test_a_running_import_is_not_handed_to_another_worker_before_its_time_limit():
    """With late acks, Redis redelivers a task unacknowledged for `visibility_timeout`: a
    long import would be started again while it runs (and count as a dead worker)."""
    from django.conf import settings

    from healthtrack.celery import app

    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] > settings.IMPORT_TASK_TIME_LIMIT
    assert app.conf.worker_max_memory_per_child == settings.CELERY_WORKER_MAX_MEMORY_PER_CHILD
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
