"""A measurement never refers to a user or device that does not exist (PostgreSQL: the
statement-level checks of migration metrics 0004, which replaced the per-row foreign keys),
also when a write and a deletion race. Needs DATABASE_URL (PostgreSQL's triggers and row
locks; SQLite keeps no database-level check on these columns)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from metrics import services
from metrics.models import Device, HealthMetric
from tests.accounts.factories import UserFactory
from tests.metrics.factories import DeviceFactory

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASE_URL, reason="needs DATABASE_URL (PostgreSQL's triggers)"
    ),
    pytest.mark.django_db(transaction=True),
]

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
INSERT = """
INSERT INTO metrics_healthmetric (user_id, metric_type, value, unit, recorded_at, device_id,
    source_app, external_id, metadata, created_at)
VALUES (%s, 'heart_rate', 70, 'bpm', %s, %s, '', '', '{}', now())
"""


def insert_sql(user_id: int, device_id: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [user_id, AT, device_id])


def other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def wait_until_blocked() -> None:
    """Until a session of this database waits for a lock (it queued behind another one).
    Each poll in a transaction of its own: pg_stat_activity is read once per transaction, so
    polling inside one would keep seeing the first answer."""
    with other_connection() as watcher:
        watcher.autocommit = True
        for _ in range(200):
            row = watcher.execute(
                "SELECT 1 FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row:
                return
            time.sleep(0.05)
    raise AssertionError("the second transaction never waited for the first one's lock")


def test_a_measurement_of_a_user_that_does_not_exist_is_refused():
    with pytest.raises(IntegrityError, match="user_id"), transaction.atomic():
        insert_sql(987654321, None)
    assert not HealthMetric.objects.exists()


def test_a_measurement_of_a_device_that_does_not_exist_is_refused():
    user = UserFactory()
    with pytest.raises(IntegrityError, match="device_id"), transaction.atomic():
        insert_sql(user.pk, 987654321)
    assert not HealthMetric.objects.exists()


def test_moving_a_measurement_to_a_device_that_does_not_exist_is_refused():
    device = DeviceFactory()
    insert_sql(device.user_id, device.pk)
    with pytest.raises(IntegrityError, match="device_id"), transaction.atomic():
        HealthMetric.objects.update(device_id=987654321)
    assert HealthMetric.objects.get().device_id == device.pk


def test_a_sync_onto_a_device_deleted_meanwhile_writes_nothing():
    device = DeviceFactory()
    user = device.user
    samples = [
        {"metric_type": "heart_rate", "value": 60 + i, "recorded_at": f"2026-03-02T10:{i:02d}:00Z"}
        for i in range(30)
    ]
    with other_connection() as deleter:
        deleter.execute("DELETE FROM metrics_device WHERE id = %s", [device.pk])
        errors: list[BaseException] = []

        def sync() -> None:  # in a thread: on a connection of its own
            try:
                services.device_sync(user=user, device=device, samples=samples, idempotency_key="k")
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                errors.append(exc)
            finally:
                connection.close()

        worker = threading.Thread(target=sync)
        worker.start()
        wait_until_blocked()
        deleter.commit()
        worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError), errors
    assert not HealthMetric.objects.filter(user=user).exists()
    assert not Device.objects.filter(pk=device.pk).exists()


def test_deleting_a_device_while_a_write_naming_it_is_open_fails_at_commit():
    device = DeviceFactory()
    with other_connection() as writer:
        writer.execute(INSERT, [device.user_id, AT, device.pk])  # holds its key-share lock
        with other_connection() as deleter:
            errors: list[BaseException] = []

            def delete() -> None:
                try:
                    deleter.execute("DELETE FROM metrics_device WHERE id = %s", [device.pk])
                    deleter.commit()
                except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                    errors.append(exc)

            worker = threading.Thread(target=delete)
            worker.start()
            wait_until_blocked()
            writer.commit()
            worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.ForeignKeyViolation)
    assert Device.objects.filter(pk=device.pk).exists()
    assert HealthMetric.objects.filter(device=device).count() == 1


def test_deleting_a_user_whose_measurements_remain_fails_at_commit():
    user = UserFactory()
    insert_sql(user.pk, None)
    with (
        pytest.raises(IntegrityError, match="metrics_healthmetric"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [user.pk])
    assert HealthMetric.objects.filter(user_id=user.pk).exists()


def test_deleting_a_user_through_django_still_takes_their_measurements_and_devices():
    device = DeviceFactory()
    user = device.user
    services.device_sync(
        user=user,
        device=device,
        samples=[{"metric_type": "heart_rate", "value": 61, "recorded_at": "2026-03-02T10:00:00Z"}],
        idempotency_key=None,
    )
    user.delete()
    assert not HealthMetric.objects.filter(user_id=user.pk).exists()
    assert not Device.objects.filter(pk=device.pk).exists()
