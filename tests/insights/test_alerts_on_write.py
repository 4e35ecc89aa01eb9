"""Alerts are raised when a reading is written, and a clinician sees them at once."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest

from insights import services, tasks
from insights.models import HealthInsight
from tests.insights.helpers import at, measure, utc_today
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/health-insights/user/{}?kind=alert"


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert_types(client, patient) -> list[str]:
    response = client.get(ALERTS.format(patient.pk))
    assert response.status_code == 200, response.json()
    return sorted(item["type"] for item in response.json()["results"])


@pytest.fixture
def moment():
    return at(utc_today(), 0)


def test_crisis_posted_through_the_api_is_seen_by_the_clinician_at_once(
    auth_client, user, care_team, clinician_client, moment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for code, value in (("blood_pressure_systolic", 190), ("blood_pressure_diastolic", 100)):
            response = auth_client.post(
                "/api/v1/health-metrics",
                {"metric_type": code, "value": value, "unit": "mmHg", "recorded_at": iso(moment)},
                format="json",
            )
            assert response.status_code == 201, response.json()
    assert alert_types(clinician_client, user) == ["blood_pressure_crisis"]
    alert = HealthInsight.objects.alerts().get(user=user)
    assert alert.severity == "high"
    assert "190" in alert.message


def test_crisis_synced_from_a_device_is_seen_by_the_clinician_at_once(
    auth_client, user, care_team, clinician_client, moment, django_capture_on_commit_callbacks
):
    device = DeviceFactory(user=user)
    samples = [
        {"metric_type": "blood_pressure_systolic", "value": 150, "unit": "mmHg"},
        {"metric_type": "blood_pressure_diastolic", "value": 125, "unit": "mmHg"},
        {"metric_type": "oxygen_saturation", "value": 88, "unit": "%"},
        {"metric_type": "blood_glucose", "value": 55, "unit": "mg/dL"},
        {"metric_type": "steps", "value": 100, "unit": "count"},
    ]
    for sample in samples:
        sample["recorded_at"] = iso(moment)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            f"/api/v1/devices/{device.pk}/sync", {"samples": samples}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert alert_types(clinician_client, user) == [
        "abnormal_glucose",
        "blood_pressure_crisis",
        "low_oxygen_saturation",
    ]
    assert alert_types(auth_client, user) == alert_types(clinician_client, user)


def test_a_high_seven_day_average_raises_an_alert(user, django_capture_on_commit_callbacks):
    today = utc_today()
    with django_capture_on_commit_callbacks(execute=True):
        for back, value in ((3, 150), (2, 145), (1, 142)):
            measure(user, "blood_pressure_systolic", value, today - timedelta(days=back))
    alert = HealthInsight.objects.alerts().get(user=user)
    assert alert.insight_type == "high_blood_pressure"
    assert alert.data["readings_systolic"] == 3


def test_normal_readings_raise_nothing(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "blood_pressure_systolic", 120, utc_today(), hour=0)
        measure(user, "oxygen_saturation", 97, utc_today(), hour=0)
        measure(user, "blood_glucose", 100, utc_today(), hour=0)
    assert not HealthInsight.objects.alerts().exists()


def test_the_same_reading_written_again_is_one_alert(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        measure(user, "oxygen_saturation", 85, utc_today(), hour=0)
        measure(user, "steps", 10, utc_today(), hour=0)
    services.alerts_check(user_id=user.pk, start=at(utc_today(), 0), end=at(utc_today(), 0))
    assert HealthInsight.objects.alerts().filter(user=user).count() == 1


def test_non_alert_types_do_not_run_the_alert_check(user, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(services, "alerts_check") as check,
        django_capture_on_commit_callbacks(execute=True),
    ):
        measure(user, "steps", 100, utc_today(), hour=0)
    check.assert_not_called()


def test_a_failed_inline_check_is_handed_to_the_retrying_task(
    user, caplog, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(services, "alerts_check", side_effect=RuntimeError("boom")),
        mock.patch.object(tasks.check_alerts, "apply_async") as retry,
        django_capture_on_commit_callbacks(execute=True),
    ):
        metric = measure(user, "oxygen_saturation", 85, utc_today(), hour=0)
    assert metric.pk is not None
    (call,) = retry.call_args_list
    assert call.kwargs["args"][0] == user.pk
    logged = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("insights"))
    assert "alert check" in logged and "85" not in logged


def test_the_alert_task_records_alerts(user):
    measure(user, "blood_glucose", 300, utc_today(), hour=0)
    moment = at(utc_today(), 0).isoformat()
    assert tasks.check_alerts.delay(user.pk, moment, moment).get() == 1
    assert HealthInsight.objects.alerts().get(user=user).insight_type == "abnormal_glucose"
