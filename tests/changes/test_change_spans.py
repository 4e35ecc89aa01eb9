"""A change-feed row names a span of consecutive ids (a device sync's new measurements are one
or two rows, not one per sample); what the feed hands out is one event per record, numbered
without a gap, and pages, cursors, actions and pruning are as for one row per event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from healthtrack.changes import services
from healthtrack.changes.models import ChangeEvent
from healthtrack.changes.signals import changes_recorded
from metrics.models import HealthMetric
from metrics.services import device_sync, metric_create
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db


def samples(count: int, *, start=BASE, value: int = 60) -> list[dict]:
    return [
        {
            "metric_type": "heart_rate",
            "value": value,
            "recorded_at": (start + timedelta(minutes=i)).isoformat(),
            "external_id": f"hr-{(start + timedelta(minutes=i)).isoformat()}",
        }
        for i in range(count)
    ]


def sync(user, device, batch, key):
    return device_sync(user=user, device=device, samples=batch, idempotency_key=key)


def ids(user) -> list[int]:
    return list(HealthMetric.objects.filter(user=user).order_by("pk").values_list("pk", flat=True))


def everything(user_id: int, limit: int = services.MAX_PAGE_SIZE) -> list:
    events, since = [], None
    while True:
        page = services.read_page(user_id=user_id, since=since, limit=limit)
        events += page.events
        since = page.cursor
        if not page.has_more:
            return events


def test_a_syncs_new_measurements_are_one_row_and_one_event_each(user):
    device = DeviceFactory(user=user)
    sync(user, device, samples(30), "one")

    assert ChangeEvent.objects.filter(user_id=user.pk).count() == 1
    events = everything(user.pk)
    assert [(e.seq, e.object_id, e.action) for e in events] == [
        (n, pk, "created") for n, pk in enumerate(ids(user), 1)
    ]


def test_pages_cut_inside_a_span_and_the_cursor_goes_on_from_the_middle(user):
    device = DeviceFactory(user=user)
    sync(user, device, samples(7), "one")
    metric_create(user=user, metric_type="weight", value=80, recorded_at=BASE)

    read = []
    for limit in (3, 1, 2):
        read += everything(user.pk, limit=limit)
    stored = ids(user)
    assert [e.object_id for e in read] == stored * 3
    assert [e.seq for e in read] == list(range(1, 9)) * 3

    first = services.read_page(user_id=user.pk, since=None, limit=3)
    rest = services.read_page(user_id=user.pk, since=first.cursor, limit=100)
    assert [e.seq for e in rest.events] == list(range(4, 9)) and not rest.has_more
    end = services.read_page(user_id=user.pk, since=rest.cursor, limit=100)
    assert end.events == [] and end.cursor == rest.cursor


def test_each_record_of_a_span_is_updated_once_known(user):
    device = DeviceFactory(user=user)
    sync(user, device, samples(5), "one")
    first = ids(user)
    # A later sync from the span's second record on names the records in its time span:
    # those of the first span are known, the new one is not.
    changed = samples(3, start=BASE + timedelta(minutes=1), value=61)
    sync(user, device, [*changed, *samples(1, start=BASE + timedelta(hours=1))], "two")

    events = everything(user.pk)
    assert [(e.object_id, e.action) for e in events[5:]] == [
        (first[1], "updated"),
        (first[2], "updated"),
        (first[3], "updated"),
        (first[4], "updated"),
        (ids(user)[-1], "created"),
    ]
    assert [e.seq for e in events] == list(range(1, 11))


def test_a_span_never_crosses_a_block_of_ids(user):
    device = DeviceFactory(user=user)
    # The next measurement id just below a multiple of SPAN_BLOCK.
    below = services.SPAN_BLOCK - 3
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('metrics_healthmetric', 'id'), %s)", [below]
            )
    else:
        HealthMetric.objects.create(
            pk=below, user=user, metric_type="weight", value=80, unit="kg", recorded_at=BASE
        )
    sync(user, device, samples(6, start=BASE + timedelta(days=1)), "one")

    rows = ChangeEvent.objects.filter(user_id=user.pk).order_by("seq")
    assert [(r.object_id, r.span) for r in rows] == [
        (below + 1, 2),
        (services.SPAN_BLOCK, 4),
    ]
    assert [e.object_id for e in everything(user.pk)] == list(range(below + 1, below + 7))


def test_the_signal_gets_one_event_per_record(user):
    device = DeviceFactory(user=user)
    got = []

    def listen(sender, *, user_id, events, **kwargs):
        got.extend((e.seq, e.object_id, e.action) for e in events)

    changes_recorded.connect(listen, dispatch_uid="test.spans")
    try:
        sync(user, device, samples(4), "one")
    finally:
        changes_recorded.disconnect(dispatch_uid="test.spans")
    assert got == [(n, pk, "created") for n, pk in enumerate(ids(user), 1)]


def test_pruning_a_span_counts_its_events_and_an_older_cursor_is_410(user, settings):
    device = DeviceFactory(user=user)
    sync(user, device, samples(4), "one")
    inside = services.read_page(user_id=user.pk, since=None, limit=2).cursor
    days = settings.DATA_LIFECYCLE["change_feed"]["delete_after"]
    ChangeEvent.objects.update(occurred_at=timezone.now() - timedelta(days=days + 1))
    metric_create(user=user, metric_type="weight", value=80, recorded_at=BASE)

    assert services.prune() == 4

    with pytest.raises(services.CursorExpired):
        services.read_page(user_id=user.pk, since=inside)
    assert [(e.seq, e.object_id) for e in everything(user.pk)] == [(5, ids(user)[-1])]


def test_the_api_pages_through_a_sync_one_record_per_change(auth_client, user):
    device = DeviceFactory(user=user)
    sync(user, device, samples(5), "one")

    whole = auth_client.get("/api/v1/changes").json()
    pages, since = [], None
    while True:
        params = {"limit": 2, **({"since": since} if since else {})}
        body = auth_client.get("/api/v1/changes", params).json()
        pages += body["changes"]
        since = body["cursor"]
        if not body["has_more"]:
            break

    assert pages == whole["changes"]
    assert since == whole["cursor"]
    assert [(c["type"], c["id"], c["action"], c["href"]) for c in pages] == [
        ("measurement", pk, "created", f"/api/v1/health-metrics/{pk}") for pk in ids(user)
    ]
