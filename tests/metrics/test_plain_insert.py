"""A reading without an external id is inserted with its audit entry, the person's lock and
their zone in one statement on PostgreSQL (issue 15, fifth round): the entry is still the one
django-auditlog writes for the model's `post_save`, field for field, and when auditlog would
not write it that way the ORM saves the reading as before. On SQLite the ORM path runs and
these tests compare it with itself; run them with DATABASE_URL for the statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.context import disable_auditlog, set_actor
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from metrics import services
from metrics.models import DailyRollup, HealthMetric
from tests.accounts.factories import UserFactory
from tests.core.audit_entries import compared, entry_of
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 8, 30, 15, 250000, tzinfo=UTC)


def _readings(user):
    device = DeviceFactory(user=user)
    return [
        {"metric_type": "heart_rate", "value": 61, "recorded_at": AT},
        {
            "metric_type": "steps",
            "value": 420,
            "recorded_at": AT,
            "end_at": AT + timedelta(minutes=10),
            "device": device,
            "metadata": {"b": [1, 2], "a": "x"},
        },
        {"metric_type": "weight", "value": 70.25, "recorded_at": AT, "notes": "private words"},
        {"metric_type": "blood_glucose", "value": 101, "recorded_at": AT, "source_app": "None"},
    ]


@pytest.mark.parametrize("index", range(4))
def test_the_entry_is_the_one_auditlog_writes(index):
    user = UserFactory()
    fields = _readings(user)[index]
    with set_actor(user, remote_addr="192.0.2.7", remote_port=4431):
        metric = services.metric_create(user=user, **fields)
        cleaned = {
            name: getattr(metric, name)
            for name in ("metric_type", "value", "unit", "recorded_at", "end_at", "device")
            + ("source_app", "external_id", "metadata", "notes")
        }
        by_orm = HealthMetric.objects.create(user=user, **cleaned)  # auditlog's receiver
    entry, expected = entry_of(metric), entry_of(by_orm)
    assert compared(entry) == compared(expected)
    assert entry.actor_id == user.pk and entry.remote_addr == "192.0.2.7"
    assert (entry.object_pk, entry.object_id) == (str(metric.pk), metric.pk)
    stored = HealthMetric.objects.get(pk=metric.pk)
    assert entry.changes == {
        name: list(change) for name, change in model_instance_diff(None, stored).items()
    }
    assert set(entry.changes) == set(expected.changes)
    assert "notes" not in entry.changes and "private words" not in str(entry.changes)


def test_the_api_entry_carries_the_request(auth_client, user):
    response = auth_client.post(
        "/api/v1/health-metrics/",
        {"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-03-02T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    entry = entry_of(HealthMetric.objects.get(pk=response.json()["id"]))
    assert entry.action == LogEntry.Action.CREATE
    assert entry.remote_addr == "127.0.0.1"
    assert entry.cid == response["X-Request-ID"]
    assert entry.changes["value"] == ["None", "72.0"]


def test_the_reading_its_entry_and_the_lock_are_one_statement():
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        metric = services.metric_create(
            user=user, metric_type="heart_rate", value=61, recorded_at=AT
        )
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT INTO" in q["sql"]]
    writing = [sql for sql in inserts if '"metrics_healthmetric"' in sql]
    assert len(writing) == 1
    if connection.vendor == "postgresql":
        assert '"auditlog_logentry"' in writing[0]
        assert "pg_advisory_xact_lock" in writing[0]
        assert not any("pg_advisory_xact_lock" in q["sql"] for q in queries.captured_queries[2:])
    assert entry_of(metric).changes["id"] == ["None", str(metric.pk)]
    assert DailyRollup.objects.get(user=user).value == 61


def test_with_auditlog_disabled_no_entry_is_written():
    user = UserFactory()
    with disable_auditlog():
        metric = services.metric_create(
            user=user, metric_type="heart_rate", value=61, recorded_at=AT
        )
    assert HealthMetric.objects.filter(pk=metric.pk).exists()
    assert not LogEntry.objects.get_for_object(metric).exists()


def test_another_post_save_receiver_still_hears_the_reading():
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=HealthMetric, dispatch_uid="tests.plain_insert")
    try:
        user = UserFactory()
        metric = services.metric_create(
            user=user, metric_type="heart_rate", value=61, recorded_at=AT
        )
    finally:
        post_save.disconnect(sender=HealthMetric, dispatch_uid="tests.plain_insert")
    assert heard == [(metric.pk, True)]
    assert entry_of(metric).changes["value"] == ["None", "61.0"]
