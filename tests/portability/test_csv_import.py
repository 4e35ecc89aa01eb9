from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from metrics.models import DailyRollup, Device, HealthMetric
from nutrition.models import Food, NutritionLog

pytestmark = pytest.mark.django_db

METRICS_CSV = """metric_type,value,unit,recorded_at,end_at,source
steps,4000,,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z,Fitbit Charge 6
weight,154.3234,lb,2026-03-02T07:00:00+01:00,,Withings Body+
heart_rate,abc,,2026-03-02T10:00:00Z,,Fitbit Charge 6

heart_rate,72,,2026-03-02T10:00:00,,Fitbit Charge 6
blood_glucose,5.5,mmol/L,2026-03-02T07:30:00Z,,
bogus,1,,2026-03-02T07:30:00Z,,
heart_rate,72,stone,2026-03-02T10:00:00Z,,Fitbit Charge 6
"sleep","420","min","2026-03-01T23:00:00Z","2026-03-02T06:00:00Z","Fitbit Charge 6"
steps,1,,2026-03-02T10:00:00Z,,Fitbit Charge 6,surplus
"""


def run(user, kind: str, text: str) -> ImportJob:
    job = ImportJob.objects.create(user=user, kind=kind)
    return import_job_execute(job=job, fileobj=io.BytesIO(text.encode()))


def test_metrics_csv_stores_valid_rows_and_reports_bad_ones_by_line(user):
    job = run(user, ImportJob.Kind.CSV_METRICS, METRICS_CSV)

    assert job.status == ImportJob.Status.DONE
    assert job.total == job.processed == 9  # the blank line is not a row
    stored = {
        (m.metric_type, round(m.value, 3), m.device.name)
        for m in HealthMetric.objects.filter(user=user).select_related("device")
    }
    assert stored == {
        ("steps", 4000.0, "Fitbit Charge 6"),
        ("weight", 70.0, "Withings Body+"),
        ("blood_glucose", 99.088, "Manual entry (CSV)"),
        ("sleep", 420.0, "Fitbit Charge 6"),
    }
    assert sorted((e["line"], e["field"]) for e in job.errors) == [
        (4, "value"),
        (6, "recorded_at"),
        (8, "metric_type"),
        (9, "unit"),
        (11, "non_field_errors"),
    ]
    messages = {e["line"]: e["message"] for e in job.errors}
    assert messages[4] == "A number is required."
    assert messages[6] == "Give a timezone (for example Z or +02:00); naive times are refused."
    assert job.summary["created"] == 4
    assert job.summary["rows_with_errors"] == 5
    weight = HealthMetric.objects.get(user=user, metric_type="weight")
    assert weight.recorded_at == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert DailyRollup.objects.get(user=user, metric_type="steps").value == 4000.0


def test_csv_sources_become_devices_by_name(user):
    run(user, ImportJob.Kind.CSV_METRICS, METRICS_CSV)

    devices = {d.identifier: (d.name, d.device_type) for d in Device.objects.filter(user=user)}
    assert devices == {
        "csv:Fitbit Charge 6": ("Fitbit Charge 6", "third_party_wearable"),
        "csv:Withings Body+": ("Withings Body+", "third_party_scale"),
        "csv:manual": ("Manual entry (CSV)", "manual_entry"),
    }


def test_importing_the_same_metrics_csv_again_adds_nothing(user):
    run(user, ImportJob.Kind.CSV_METRICS, METRICS_CSV)
    again = run(user, ImportJob.Kind.CSV_METRICS, METRICS_CSV)

    assert again.summary["created"] == 0
    assert again.summary["duplicates"] == 4
    assert HealthMetric.objects.filter(user=user).count() == 4


def test_a_csv_without_the_required_columns_fails(user):
    job = run(user, ImportJob.Kind.CSV_METRICS, "type,amount\nsteps,1\n")

    assert job.status == ImportJob.Status.FAILED
    assert job.errors == [
        {
            "line": None,
            "field": "file",
            "message": "Missing column(s): metric_type, recorded_at, value.",
        }
    ]


def test_a_file_that_is_not_utf8_fails(user):
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.CSV_METRICS)
    job = import_job_execute(job=job, fileobj=io.BytesIO(b"metric_type,value\n\xff\xfe,1\n"))

    assert job.status == ImportJob.Status.FAILED
    assert job.errors[0]["field"] == "file"


def nutrition_csv(food_name: str) -> str:
    return (
        "meal_type,logged_at,description,calories,protein_g,carbs_g,fat_g,fiber_g,sugar_g,"
        "sodium_mg,water_ml,food,grams\n"
        'breakfast,2026-03-02T07:30:00Z,"Porridge\nwith berries",350,12,60,6,8,10,50,,,\n'
        f'lunch,2026-03-02T12:30:00Z,,,,,,,,,,"{food_name}",120\n'
        "brunch,2026-03-02T10:00:00Z,,300,,,,,,,,,\n"
        "dinner,2026-03-02T19:00:00Z,,20000,,,,,,,,,\n"
        "drink,2026-03-02T15:00:00Z,,,,,,,,,500,,\n"
        "snack,2026-03-02T16:00:00Z,,,,,,,,,,,\n"
        "snack,2026-03-02T16:30:00Z,,100,,,,,,,,No such food,50\n"
    )


def test_nutrition_csv_stores_valid_entries_and_reports_bad_ones_by_line(user):
    food = Food.objects.order_by("name").first()
    job = run(user, ImportJob.Kind.CSV_NUTRITION, nutrition_csv(food.name))

    assert job.status == ImportJob.Status.DONE
    assert job.total == job.processed == 7
    logs = {log.meal_type: log for log in NutritionLog.objects.filter(user=user)}
    assert set(logs) == {"breakfast", "lunch", "drink"}
    assert logs["breakfast"].description == "Porridge\nwith berries"
    assert logs["breakfast"].calories == 350.0
    # A catalogue food named in the CSV: nutrients computed from the portion.
    assert logs["lunch"].food == food
    assert logs["lunch"].calories == round(food.calories * 1.2, 1)
    assert logs["drink"].water_ml == 500.0
    # The multi-line description makes the rows after it start one line later.
    assert [(e["line"], e["field"]) for e in job.errors] == [
        (5, "meal_type"),
        (6, "calories"),
        (8, "calories"),
        (8, "water_ml"),
        (9, "food"),
    ]
    assert job.errors[0]["message"] == "Not one of the accepted values."
    assert "20000" not in job.errors[1]["message"]
    assert job.summary["rows_with_errors"] == 4


def test_importing_the_same_nutrition_csv_again_adds_nothing(user):
    food = Food.objects.order_by("name").first()
    run(user, ImportJob.Kind.CSV_NUTRITION, nutrition_csv(food.name))
    again = run(user, ImportJob.Kind.CSV_NUTRITION, nutrition_csv(food.name))

    assert again.summary["created"] == 0
    assert again.summary["duplicates"] == 3
    assert NutritionLog.objects.filter(user=user).count() == 3
