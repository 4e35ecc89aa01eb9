from __future__ import annotations

import io
import json
import zipfile

import pytest

from goals.models import HealthGoal
from healthtrack.portability import csv_io, export
from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup
from nutrition.models import NutritionLog
from tests.portability.data import populate

pytestmark = pytest.mark.django_db


def metrics_of(user) -> set[tuple]:
    return {
        (
            m.metric_type,
            m.value,
            m.unit,
            m.recorded_at,
            m.end_at,
            m.device.identifier if m.device else None,
            m.source_app,
            m.external_id,
            json.dumps(m.metadata, sort_keys=True),
            m.notes,
        )
        for m in HealthMetric.objects.filter(user=user).select_related("device")
    }


def devices_of(user) -> set[tuple]:
    return set(
        Device.objects.filter(user=user).values_list(
            "identifier", "name", "device_type", "priority"
        )
    )


def diary_of(user) -> set[tuple]:
    return {
        (
            log.meal_type,
            log.description,
            log.logged_at,
            log.food_id,
            log.grams,
            *(getattr(log, f) for f in csv_io.NUTRIENT_FIELDS),
            log.water_ml,
        )
        for log in NutritionLog.objects.filter(user=user)
    }


def goals_of(user) -> set[tuple]:
    return {
        (
            g.goal_type,
            g.title,
            g.description,
            g.metric_type,
            g.target_value,
            g.unit,
            g.direction,
            g.period_days,
            g.start_date,
            g.target_date,
            g.priority,
            g.status,
        )
        for g in HealthGoal.objects.filter(user=user)
    }


def rollups_of(user) -> set[tuple]:
    daily = DailyRollup.objects.filter(user=user).values_list(
        "metric_type", "day", "value", "min_value", "max_value", "count"
    )
    hourly = HourlyRollup.objects.filter(user=user).values_list(
        "metric_type", "period_start", "value", "count"
    )
    return set(daily) | set(hourly)


def json_export(user) -> bytes:
    return "".join(export.json_chunks(user)).encode()


def run(user, kind: str, content: bytes) -> ImportJob:
    job = ImportJob.objects.create(user=user, kind=kind)
    return import_job_execute(job=job, fileobj=io.BytesIO(content))


def test_json_export_imported_into_another_account_gives_the_same_data(user, other_user):
    populate(user)
    job = run(other_user, ImportJob.Kind.JSON_EXPORT, json_export(user))

    assert job.status == ImportJob.Status.DONE, job.errors
    assert job.error_count == 0
    assert job.summary["created"] == 11 + 3 + 1
    assert job.summary["skipped"] == {
        "section insights": 1,
        "section nutrition_targets": 1,
        "section share_grants": 1,
    }
    assert devices_of(other_user) == devices_of(user)
    assert metrics_of(other_user) == metrics_of(user)
    assert diary_of(other_user) == diary_of(user)
    assert goals_of(other_user) == goals_of(user)
    assert rollups_of(other_user) == rollups_of(user)


def test_importing_an_export_into_its_own_account_adds_nothing(user):
    populate(user)
    before = (metrics_of(user), diary_of(user), rollups_of(user), devices_of(user))

    job = run(user, ImportJob.Kind.JSON_EXPORT, json_export(user))

    assert job.summary["created"] == 0
    assert job.summary["duplicates"] == 11 + 3 + 1
    assert (metrics_of(user), diary_of(user), rollups_of(user), devices_of(user)) == before
    assert HealthGoal.objects.filter(user=user).count() == 1


def test_a_reformatted_json_export_still_imports(user, other_user):
    populate(user)
    pretty = json.dumps(json.loads(json_export(user)), indent=2).encode()

    job = run(other_user, ImportJob.Kind.JSON_EXPORT, pretty)

    assert job.status == ImportJob.Status.DONE
    assert metrics_of(other_user) == metrics_of(user)
    assert diary_of(other_user) == diary_of(user)


def test_json_of_another_kind_is_refused(user):
    job = run(user, ImportJob.Kind.JSON_EXPORT, b'{\n"format": "other",\n"x": [\n]\n}\n')

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["message"] == "This JSON is not a HealthTrack export."


def test_csv_export_tables_import_back_as_csv(user, other_user):
    populate(user)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(csv_io.csv_zip_chunks(export.csv_tables(user)))))

    metrics = run(other_user, ImportJob.Kind.CSV_METRICS, archive.read("metrics.csv"))
    diary = run(other_user, ImportJob.Kind.CSV_NUTRITION, archive.read("nutrition_logs.csv"))

    assert (metrics.error_count, diary.error_count) == (0, 0)

    def values(u):
        return {
            (m.metric_type, m.value, m.recorded_at, m.end_at, m.notes)
            for m in HealthMetric.objects.filter(user=u)
        }

    assert values(other_user) == values(user)
    assert diary_of(other_user) == diary_of(user)
    assert set(
        DailyRollup.objects.filter(user=other_user).values_list("metric_type", "day", "value")
    ) == set(DailyRollup.objects.filter(user=user).values_list("metric_type", "day", "value"))


def test_tampered_records_are_refused_one_by_one_with_their_line(user):
    content = (
        b'{\n"format": "healthtrack-export",\n"version": 1,\n"devices": [\n'
        b'{"id": [1], "identifier": "x", "name": "X", "device_type": "bogus", "priority": "hi"}\n'
        b'],\n"metrics": [\n'
        b'{"metric_type": "steps", "value": "lots", "recorded_at": "2026-03-02T08:00:00Z",'
        b' "device": [1], "external_id": ["a"]},\n'
        b"not json,\n"
        b'{"metric_type": "steps", "value": 10, "recorded_at": "2026-03-02T08:00:00Z"}\n'
        b"]\n}\n"
    )
    job = run(user, ImportJob.Kind.JSON_EXPORT, content)

    assert job.status == ImportJob.Status.DONE
    assert [(e["line"], e["field"], e["message"]) for e in job.errors] == [
        (8, "value", "A number is required."),
        (8, "external_id", "Must be a string."),
        (9, "non_field_errors", "Not valid JSON."),
    ]
    assert job.summary["created"] == 1
    device = Device.objects.get(user=user)
    assert (device.identifier, device.device_type, device.priority) == (
        "x",
        "third_party_wearable",
        50,
    )
