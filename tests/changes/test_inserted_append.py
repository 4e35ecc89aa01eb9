"""A posted reading's change-feed event: `created`, numbered next, announced once; on
PostgreSQL appended by the insert's own statement (no statement of the feed's after it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from healthtrack.changes.models import ChangeEvent, ChangeSequence
from healthtrack.changes.signals import changes_recorded
from metrics.services import metric_create, metric_upsert
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)


def post(user, minutes: int, metric_type: str = "heart_rate", **fields):
    return metric_create(
        user=user,
        metric_type=metric_type,
        value=80 if metric_type == "weight" else 61 + minutes,
        recorded_at=AT + timedelta(minutes=minutes),
        **fields,
    )


@pytest.mark.parametrize("metric_type", ["heart_rate", "weight"])
def test_each_posted_reading_is_created_with_the_next_number(metric_type):
    user = UserFactory()
    announced = []

    def receiver(sender, *, user_id, events, **kwargs):
        announced.extend((e.seq, e.object_id, e.action) for e in events)

    changes_recorded.connect(receiver)
    try:
        first, second = post(user, 0, metric_type), post(user, 1, metric_type)
    finally:
        changes_recorded.disconnect(receiver)
    rows = list(ChangeEvent.objects.filter(user_id=user.pk).order_by("seq"))
    expected = [(1, first.pk, "created"), (2, second.pk, "created")]
    assert [(r.seq, r.object_id, r.action) for r in rows] == expected
    assert [r.span for r in rows] == [1, 1]
    assert announced == expected
    assert ChangeSequence.objects.get(user_id=user.pk).last_seq == 2


def test_an_upsert_by_external_id_still_appends_through_the_feeds_statement():
    user = UserFactory()
    fields = {"source_app": "app", "external_id": "x-1"}
    created, _ = metric_upsert(
        user=user, metric_type="heart_rate", value=60, recorded_at=AT, **fields
    )
    metric_upsert(user=user, metric_type="heart_rate", value=70, recorded_at=AT, **fields)
    rows = ChangeEvent.objects.filter(user_id=user.pk).order_by("seq")
    assert [(r.seq, r.object_id, r.action) for r in rows] == [
        (1, created.pk, "created"),
        (2, created.pk, "updated"),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_on_postgresql_the_insert_statement_appends_the_event():
    user = UserFactory()
    post(user, 0)
    with CaptureQueriesContext(connection) as queries:
        metric = post(user, 1)
    feed = [q["sql"] for q in queries if "changes_change" in q["sql"]]
    assert len(feed) == 1 and "metrics_healthmetric" in feed[0]
    assert ChangeEvent.objects.get(user_id=user.pk, object_id=metric.pk).seq == 2
