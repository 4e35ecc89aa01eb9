"""Concurrent writers on PostgreSQL (SQLite serialises every write transaction anyway): a
reader following the cursor while several writers commit misses no event, and a record
deleted while its upsert is being appended ends with its tombstone."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from healthtrack.changes import services
from healthtrack.changes.models import ChangeEvent
from metrics.models import HealthMetric
from metrics.services import metric_create, metric_delete
from tests.healthtrack.concurrency import together
from tests.metrics.factories import BASE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def write(user, minute: int):
    return metric_create(
        user=user, metric_type="heart_rate", value=60, recorded_at=BASE + timedelta(minutes=minute)
    )


def test_a_reader_following_the_cursor_during_concurrent_writes_misses_nothing(user):
    done = threading.Event()
    seen: list[int] = []

    def follow():
        cursor = None
        while True:
            finished = done.is_set()
            page = services.read_page(user_id=user.pk, since=cursor, limit=3)
            seen.extend(e.seq for e in page.events)
            cursor = page.cursor
            if finished and not page.has_more:
                return

    writers = [lambda i=i: write(user, i) for i in range(8)]

    def writers_then_done():
        errors = together(*writers)
        done.set()
        assert errors == []

    assert together(follow, writers_then_done) == []
    stored = list(ChangeEvent.objects.filter(user_id=user.pk).order_by("seq"))
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert seen == [e.seq for e in stored]
    assert {e.object_id for e in stored} == set(
        HealthMetric.objects.filter(user=user).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("attempt", range(3))
def test_a_record_deleted_during_writes_ends_with_its_tombstone(user, attempt):
    doomed = write(user, 0)
    doomed_id = doomed.pk
    assert together(lambda: metric_delete(metric=doomed), lambda: write(user, 0)) == []
    last = ChangeEvent.objects.filter(user_id=user.pk, object_id=doomed_id).order_by("-seq").first()
    assert last.action == ChangeEvent.Action.DELETED
