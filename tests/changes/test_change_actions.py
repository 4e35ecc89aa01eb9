"""A change-feed event says `created` for a record's first event and `updated` after that,
also when a record without an event yet has a lower id than records that have one (the
append probes only ids at or below the highest one the person's feed holds)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from healthtrack.changes.models import ChangeEvent
from healthtrack.changes.services import expanded
from metrics import services
from metrics.models import HealthMetric
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db


def actions(user) -> list[tuple[int, str]]:
    rows = ChangeEvent.objects.filter(user_id=user.pk, resource="measurement").order_by("seq")
    return [(event.object_id, event.action) for event in expanded(rows)]


def sample(at, ext: str) -> dict:
    return {
        "metric_type": "heart_rate",
        "value": 70,
        "recorded_at": at.isoformat(),
        "external_id": ext,
    }


def test_an_older_record_without_an_event_is_created_and_a_known_one_updated(user):
    device = DeviceFactory(user=user)
    # Stored without the service: no event (as a row committed by a slower writer).
    older = HealthMetric.objects.create(
        user=user, metric_type="heart_rate", value=60, unit="bpm", recorded_at=BASE, device=device
    )
    later = BASE + timedelta(days=5)
    services.device_sync(
        user=user, device=device, samples=[sample(later, "a")], idempotency_key="one"
    )
    newest = HealthMetric.objects.get(user=user, external_id="a")
    assert newest.pk > older.pk
    assert actions(user) == [(newest.pk, "created")]

    # A sync around the older record names it (below the feed's highest id) and its own rows.
    around = [sample(BASE - timedelta(minutes=1), "b"), sample(BASE + timedelta(minutes=1), "b2")]
    services.device_sync(user=user, device=device, samples=around, idempotency_key="two")
    second = [HealthMetric.objects.get(user=user, external_id=e).pk for e in ("b", "b2")]
    assert actions(user)[1:] == [
        (older.pk, "created"),
        (second[0], "created"),
        (second[1], "created"),
    ]

    # Around the later record again: it is known.
    around = [sample(later - timedelta(minutes=1), "c"), sample(later + timedelta(minutes=1), "d")]
    services.device_sync(user=user, device=device, samples=around, idempotency_key="three")
    third = [HealthMetric.objects.get(user=user, external_id=e).pk for e in ("c", "d")]
    assert actions(user)[4:] == [
        (newest.pk, "updated"),
        (third[0], "created"),
        (third[1], "created"),
    ]

    # The record with the feed's highest id, changed: known too.
    changed = {**sample(later + timedelta(minutes=1), "d"), "value": 71}
    services.device_sync(user=user, device=device, samples=[changed], idempotency_key="four")
    assert actions(user)[7:] == [(third[1], "updated")]
