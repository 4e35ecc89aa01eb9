from __future__ import annotations

import pytest
from django.db.models import ProtectedError, RestrictedError

from metrics import services
from metrics.models import Device, HealthMetric
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db


def test_deleting_a_user_deletes_their_devices_and_measurements(user):
    device = DeviceFactory(user=user)
    services.metric_create(user=user, metric_type="steps", value=5, recorded_at=BASE, device=device)
    user.delete()
    assert not Device.objects.exists()
    assert not HealthMetric.objects.exists()


def test_a_device_with_measurements_cannot_be_deleted_alone(user):
    device = DeviceFactory(user=user)
    services.metric_create(user=user, metric_type="steps", value=5, recorded_at=BASE, device=device)
    with pytest.raises((ProtectedError, RestrictedError)):
        device.delete()


def test_services_accept_decimal_values(user):
    from decimal import Decimal

    metric = services.metric_create(
        user=user, metric_type="weight", value=Decimal("72.5"), recorded_at=BASE
    )
    assert metric.value == 72.5
