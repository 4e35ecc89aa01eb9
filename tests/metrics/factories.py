from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from metrics.models import Device, HealthMetric
from tests.accounts.factories import UserFactory

BASE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    user = factory.SubFactory(UserFactory)
    device_type = Device.Type.APPLE_WATCH
    name = factory.Sequence(lambda n: f"Device {n}")
    identifier = factory.Sequence(lambda n: f"dev-{n}")
    priority = factory.LazyAttribute(lambda d: Device.default_priority(d.device_type))


class HealthMetricFactory(factory.django.DjangoModelFactory):
    """A raw row, written without the services (so without rollups): for read tests."""

    class Meta:
        model = HealthMetric

    user = factory.SubFactory(UserFactory)
    metric_type = "heart_rate"
    value = 70.0
    unit = "bpm"
    recorded_at = factory.Sequence(lambda n: BASE - timedelta(minutes=n))
    source_app = "tests"
