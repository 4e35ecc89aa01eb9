"""Clinically plausible input through every door: per-type ranges with their references,
blood pressure judged as a pair (form, API single, sync batch, stored counterpart, CSV and
Apple Health import), whole-number steps, messages in words, and readings stored before a rule
that never trigger an alert it would now fail."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.utils import timezone

from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from insights import services as insight_services
from insights.alert_readings import blood_pressure_averages
from insights.models import HealthInsight
from metrics import services
from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPES
from metrics.validation import RANGES, blood_pressure_errors, clean_measurement
from tests.metrics.factories import DeviceFactory, HealthMetricFactory
from tests.portability.apple import correlation, export_xml, record

pytestmark = pytest.mark.django_db

SYS, DIA = "blood_pressure_systolic", "blood_pressure_diastolic"
URL = "/api/v1/health-metrics/"


def recent() -> datetime:
    return (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alerts(user) -> list[str]:
    return list(
        HealthInsight.objects.filter(user=user, kind=HealthInsight.Kind.ALERT).values_list(
            "insight_type", flat=True
        )
    )


def sample(code: str, value: float, at: datetime) -> dict:
    return {"metric_type": code, "value": value, "unit": "mmHg", "recorded_at": iso(at)}


# --- the rules ------------------------------------------------------------------------------


def test_every_type_has_a_range_with_its_clinical_reference():
    assert set(RANGES) == set(METRIC_TYPES)
    for code, rng in RANGES.items():
        assert rng.low < rng.high and len(rng.reference) > 20, code
        assert (METRIC_TYPES[code].min_value, METRIC_TYPES[code].max_value) == (rng.low, rng.high)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "refused"),
    [(120, 80, False), (80, 120, True), (120, 120, True), (125, 120, True), (260, 100, True)],
)
def test_a_blood_pressure_pair_needs_diastolic_below_systolic_and_a_plausible_gap(
    systolic, diastolic, refused
):
    assert bool(blood_pressure_errors(systolic, diastolic)) is refused


def test_messages_name_the_type_and_unit_in_words_never_the_code():
    _, errors = clean_measurement(
        {"metric_type": SYS, "value": 300, "recorded_at": "2026-03-02T10:00:00Z"}
    )
    assert errors.items["value"] == [
        "Outside the plausible range for systolic blood pressure: 60 to 280 mmHg."
    ]
    _, errors = clean_measurement(
        {"metric_type": "steps", "value": 200_000, "recorded_at": "2026-03-02T10:00:00Z"}
    )
    assert errors.items["value"] == ["Outside the plausible range for steps: 0 to 100,000 steps."]
    _, errors = clean_measurement(
        {"metric_type": "heart_rate", "value": 70, "unit": "kg", "recorded_at": "2026-03-02T10Z"}
    )
    assert "heart rate" in errors.items["unit"][0] and "heart_rate" not in errors.items["unit"][0]


# --- API single -----------------------------------------------------------------------------


def test_api_refuses_a_diastolic_above_its_stored_systolic_and_writes_nothing(auth_client, user):
    at = recent()
    assert auth_client.post(URL, sample(SYS, 80, at), format="json").status_code == 201
    response = auth_client.post(URL, sample(DIA, 120, at), format="json")
    assert response.status_code == 400
    message = response.json()["value"][0]
    assert "diastolic" in message and "systolic" in message and "120" not in message
    assert list(HealthMetric.objects.filter(user=user).values_list("metric_type", flat=True)) == [
        SYS
    ]
    assert alerts(user) == []


def test_api_refuses_300_over_20_whichever_half_comes_first(auth_client, user):
    at = recent()
    for code, value in ((SYS, 300), (DIA, 20)):
        response = auth_client.post(URL, sample(code, value, at), format="json")
        assert response.status_code == 400
        assert "plausible range" in response.json()["value"][0]
    assert not HealthMetric.objects.filter(user=user).exists()
    assert alerts(user) == []


def test_a_counterpart_from_another_source_is_not_the_pair(auth_client, user):
    at = recent()
    watch = DeviceFactory(user=user)
    services.metric_create(user=user, metric_type=SYS, value=80, recorded_at=at, device=watch)
    response = auth_client.post(URL, sample(DIA, 70, at), format="json")
    assert response.status_code == 201


def test_api_refuses_fractional_steps(auth_client, user):
    body = {"metric_type": "steps", "value": 5161.81, "recorded_at": iso(recent())}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["value"] == ["Steps are counted in whole numbers."]
    body["value"] = 5161
    assert auth_client.post(URL, body, format="json").status_code == 201


# --- sync -----------------------------------------------------------------------------------


def test_sync_refuses_both_halves_of_a_swapped_pair_and_keeps_the_rest(
    auth_client, user, django_capture_on_commit_callbacks
):
    device = DeviceFactory(user=user)
    at = recent()
    samples = [
        sample(SYS, 80, at),
        sample(DIA, 120, at),
        sample(SYS, 128, at - timedelta(hours=1)),
        sample(DIA, 82, at - timedelta(hours=1)),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            f"/api/v1/devices/{device.pk}/sync", {"samples": samples}, format="json"
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"]["created"] == 2 and body["counts"]["errors"] == 2
    assert sorted(e["index"] for e in body["errors"]) == [0, 1]
    assert all(e["field"] == "value" for e in body["errors"])
    assert set(HealthMetric.objects.filter(user=user).values_list("value", flat=True)) == {
        128.0,
        82.0,
    }
    assert alerts(user) == []


def test_sync_checks_a_half_against_the_one_stored_by_an_earlier_sync(user):
    device = DeviceFactory(user=user)
    at = recent()
    services.device_sync(
        user=user, device=device, samples=[sample(SYS, 80, at)], idempotency_key="a"
    )
    body = services.device_sync(
        user=user, device=device, samples=[sample(DIA, 120, at)], idempotency_key="b"
    ).body
    assert body["counts"]["errors"] == 1 and body["counts"]["created"] == 0
    assert HealthMetric.objects.filter(user=user, metric_type=DIA).count() == 0


# --- the page form --------------------------------------------------------------------------


def test_form_refuses_a_swapped_pair_on_both_fields_and_writes_nothing(page_client, user):
    response = page_client.post(
        "/metrics/blood_pressure/add/",
        {"systolic": "80", "diastolic": "120", "recorded_at": recent().strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"systolic", "diastolic"}
    assert "swapped" in errors["systolic"][0]
    assert not HealthMetric.objects.filter(user=user).exists()
    assert alerts(user) == []


def test_form_edit_judges_the_new_pair_not_the_old_half(page_client, user):
    at = recent()
    s = services.metric_create(user=user, metric_type=SYS, value=120, recorded_at=at)
    services.metric_create(user=user, metric_type=DIA, value=80, recorded_at=at)
    response = page_client.post(
        f"/metrics/blood_pressure/{s.pk}/edit/",
        {"systolic": "85", "diastolic": "60", "recorded_at": at.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    rows = dict(HealthMetric.objects.filter(user=user).values_list("metric_type", "value"))
    assert rows == {SYS: 85.0, DIA: 60.0}


def test_steps_form_refuses_a_fraction(page_client, user):
    response = page_client.post(
        "/metrics/steps/add/",
        {"value": "6500.5", "unit": "count", "recorded_at": recent().strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["value"] == ["Steps are counted in whole numbers."]
    assert 'step="1"' in page_client.get("/metrics/steps/add/").content.decode()


# --- imports --------------------------------------------------------------------------------


def test_csv_import_refuses_a_swapped_pair_and_raises_no_alert(
    user, django_capture_on_commit_callbacks
):
    at = iso(recent())
    text = (
        "metric_type,value,unit,recorded_at,end_at,source\n"
        f"blood_pressure_systolic,80,mmHg,{at},,Omron\n"
        f"blood_pressure_diastolic,120,mmHg,{at},,Omron\n"
        f"blood_pressure_systolic,300,mmHg,{at},,Other cuff\n"
    )
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.CSV_METRICS)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_execute(job=job, fileobj=io.BytesIO(text.encode()))
    assert not HealthMetric.objects.filter(user=user).exists()
    assert sorted(e["line"] for e in job.errors) == [2, 3, 4]
    assert alerts(user) == []


def test_apple_health_import_refuses_a_swapped_pair_and_raises_no_alert(
    user, django_capture_on_commit_callbacks
):
    when = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:00 +0000")
    halves = [
        record("BloodPressureSystolic", 80, when, unit="mmHg", source="Withings", indent="  "),
        record("BloodPressureDiastolic", 120, when, unit="mmHg", source="Withings", indent="  "),
    ]
    xml = export_xml(
        [correlation("HKCorrelationTypeIdentifierBloodPressure", when, halves, "Withings")]
    )
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.APPLE_HEALTH)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_execute(job=job, fileobj=io.BytesIO(xml))
    assert not HealthMetric.objects.filter(user=user).exists()
    assert job.summary["rows_with_errors"] == 2
    assert alerts(user) == []


def test_admin_cannot_add_or_change_measurements(user):
    from accounts.models import User

    admin = User.objects.create_superuser("root", "root@example.com", "x")
    request = RequestFactory().get("/")
    request.user = admin
    model_admin = site._registry[HealthMetric]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)


# --- readings stored before the rule ---------------------------------------------------------


def test_a_swapped_pair_stored_before_the_rule_raises_no_alert_and_no_red_card(user, page_client):
    at = recent()
    for code, value in ((SYS, 80), (DIA, 120), ("oxygen_saturation", 20)):
        HealthMetricFactory(user=user, metric_type=code, value=value, unit="", recorded_at=at)
    for day_back in range(3):
        moment = at - timedelta(days=day_back, minutes=5)
        HealthMetricFactory(user=user, metric_type=SYS, value=80, unit="mmHg", recorded_at=moment)
        HealthMetricFactory(user=user, metric_type=DIA, value=150, unit="mmHg", recorded_at=moment)
    created = insight_services.alerts_check(user_id=user.pk, start=at - timedelta(days=4), end=at)
    assert created == [] and alerts(user) == []
    assert blood_pressure_averages(user_id=user.pk, last_day=at.date()) == {}
    response = page_client.get("/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Latest blood pressure" in body  # the slot, shown empty
    assert "Very high" not in body and "80/120" not in body
