"""A reading's commit releases the person's lock without waiting for the disk, and the write
waits for the disk right after it, before anything that follows its commit (issue 15: one
person's writes queue on the lock, so a disk flush under it made every queued write wait).
PostgreSQL only (SQLite has no such commit); run with DATABASE_URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from metrics import services
from metrics.models import DailyRollup, HealthMetric
from metrics.signals import measurements_changed
from tests.accounts.factories import UserFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit"),
    pytest.mark.django_db(transaction=True),
]

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)
AFTER_COMMIT = "SELECT 'a callback after the commit'"


@pytest.fixture
def callback_after_commit():
    """A receiver that leaves an after-commit callback, as the outbox and caches do."""

    def receiver(sender, **kwargs):
        def callback():
            with connection.cursor() as cursor:
                cursor.execute(AFTER_COMMIT)

        transaction.on_commit(callback)

    measurements_changed.connect(receiver, dispatch_uid="tests.flush_after_unlock")
    yield
    measurements_changed.disconnect(dispatch_uid="tests.flush_after_unlock")


def _position(statements: list[str], needle: str) -> int:
    found = [i for i, sql in enumerate(statements) if needle in sql]
    assert len(found) == 1, (needle, statements)
    return found[0]


@pytest.mark.parametrize("external_id", ["", "watch-1"])
def test_the_disk_wait_follows_the_unlocking_commit_before_any_callback(
    callback_after_commit, external_id
):
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        metric, created = services.metric_upsert(
            user=user, metric_type="heart_rate", value=61, recorded_at=AT, external_id=external_id
        )
    statements = [q["sql"] for q in queries.captured_queries]
    lock = _position(statements, "pg_advisory_xact_lock")
    assert "set_config('synchronous_commit', 'off', true)" in statements[lock]
    wait = _position(statements, "pg_current_xact_id")
    callback = _position(statements, AFTER_COMMIT)
    assert lock < wait < callback
    assert created
    assert HealthMetric.objects.filter(pk=metric.pk).exists()
    assert DailyRollup.objects.get(user=user).value == 61


def test_in_a_callers_transaction_the_commit_is_the_callers():
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        services.metric_create(user=user, metric_type="heart_rate", value=61, recorded_at=AT)
        services.metric_create(
            user=user, metric_type="heart_rate", value=63, recorded_at=AT + timedelta(minutes=1)
        )
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any("synchronous_commit" in sql for sql in statements)
    assert not any("pg_current_xact_id" in sql for sql in statements)
    assert DailyRollup.objects.get(user=user).value == 62


def test_the_session_commits_durably_again_after_the_write():
    user = UserFactory()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
    services.metric_create(user=user, metric_type="heart_rate", value=61, recorded_at=AT)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == before
