from __future__ import annotations

import random

import pytest
import yaml
from auditlog.models import LogEntry
from django.core.management import call_command

from accounts.demo import DEMO_USERS
from accounts.models import User
from metrics import demo, services
from metrics.models import DailyRollup, Device, HealthMetric
from tests.accounts.factories import UserFactory
from tests.metrics.factories import BASE, DeviceFactory, HealthMetricFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", ["device", "healthmetric", "hourlyrollup", "dailyrollup"])
def test_admin_changelists_load_with_a_constant_number_of_queries(
    superuser_client, user, model, django_assert_max_num_queries
):
    device = DeviceFactory(user=user)
    for _ in range(5):
        services.metric_create(
            user=user, metric_type="steps", value=5, recorded_at=BASE, device=device
        )
    HealthMetricFactory(user=user, device=device)
    with django_assert_max_num_queries(12):
        response = superuser_client.get(f"/admin/metrics/{model}/")
    assert response.status_code == 200
    assert superuser_client.get(f"/admin/metrics/{model}/?q=user").status_code == 200


def test_admin_for_non_superuser_staff_is_scoped_by_access(client, user, other_user):
    from django.contrib.auth.models import Permission

    from accounts.care import care_team_add, clinician_enable_admin
    from tests.accounts.factories import ClinicianFactory

    # Staff who are neither superusers nor admin clinicians see no health data at all.
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_healthmetric"))
    HealthMetricFactory(user=other_user)
    mine = HealthMetricFactory(user=user)
    client.force_login(staff)
    assert client.get("/admin/metrics/healthmetric/").status_code == 403
    # An admin clinician sees their care-team patients' rows only.
    doctor = clinician_enable_admin(user=ClinicianFactory())
    care_team_add(clinician=doctor, patient=user)
    client.force_login(doctor)
    response = client.get("/admin/metrics/healthmetric/")
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [mine]


def test_auditlog_records_measurement_changes_without_notes(user):
    metric = services.metric_create(
        user=user, metric_type="steps", value=5, recorded_at=BASE, notes="secret note"
    )
    services.metric_update(metric=metric, notes="another secret", value=6)
    entries = LogEntry.objects.get_for_object(metric)
    assert entries.count() == 2
    for entry in entries:
        assert "notes" not in entry.changes_dict
        assert "secret" not in str(entry.changes)
    device = DeviceFactory(user=user)
    services.device_update(device=device, name="renamed")
    assert LogEntry.objects.get_for_object(device).exists()


def test_demo_seed_is_idempotent_and_builds_rollups():
    users = {role: User.objects.create(**fields) for role, fields in DEMO_USERS.items()}
    demo.seed(users=users, days=3, rng=random.Random(1))
    patient = users["patient"]
    count = HealthMetric.objects.filter(user=patient).count()
    assert count > 500
    assert Device.objects.filter(user=patient).count() == 4
    assert DailyRollup.objects.filter(user=patient, metric_type="steps").count() >= 3
    assert DailyRollup.objects.filter(user=patient, metric_type="heart_rate").count() >= 3
    demo.seed(users=users, days=3, rng=random.Random(2))
    assert HealthMetric.objects.filter(user=patient).count() == count
    assert Device.objects.filter(user=patient).count() == 4


def test_seed_demo_command_loads_metrics():
    call_command("seed_demo", days=2, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert HealthMetric.objects.filter(user__username="demo").exists()


def test_openapi_schema_describes_every_metrics_endpoint(client, tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    expected = {
        "/api/v1/metric-types": ["get"],
        "/api/v1/health-metrics": ["get", "post"],
        "/api/v1/health-metrics/{id}": ["get", "put", "patch", "delete"],
        "/api/v1/health-metrics/user/{user_id}": ["get"],
        "/api/v1/health-metrics/summary": ["get"],
        "/api/v1/health-metrics/aggregates": ["get"],
        "/api/v1/devices": ["get", "post"],
        "/api/v1/devices/{id}": ["get", "patch"],
        "/api/v1/devices/{id}/sync": ["post"],
    }
    for path, methods in expected.items():
        for method in methods:
            operation = paths[path][method]
            codes = set(operation["responses"])
            assert "429" in codes, (path, method)
            if path != "/api/v1/metric-types":
                assert {"401", "404"} <= codes, (path, method)
                assert {"jwtAuth": []} in operation["security"]
            if method in ("post", "put", "patch"):
                assert {"400", "413", "415"} <= codes, (path, method)


def test_superuser_device_edits_in_the_admin_go_through_the_service(superuser_client, user):
    from unittest import mock

    device = DeviceFactory(user=user, priority=100)
    url = f"/admin/metrics/device/{device.pk}/change/"
    with mock.patch("metrics.admin.services.device_update") as device_update:
        response = superuser_client.post(url, {"name": "Renamed", "priority": 5})
    assert response.status_code == 302
    kwargs = device_update.call_args.kwargs
    # The stored row (old priority) is handed over, so the service sees the change.
    assert (kwargs["device"].priority, kwargs["name"], kwargs["priority"]) == (100, "Renamed", 5)
