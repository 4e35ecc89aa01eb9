from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from metrics import services
from metrics.models import DailyRollup, Device, HealthMetric, HourlyRollup
from metrics.signals import measurements_changed
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hh: int, mm: int) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm)


def steps(user, device, start, end, value):
    return services.metric_create(
        user=user, metric_type="steps", value=value, recorded_at=start, end_at=end, device=device
    )


def hourly(user, code="steps") -> dict[datetime, float]:
    rows = HourlyRollup.objects.filter(user=user, metric_type=code).order_by("period_start")
    return {r.period_start: r.value for r in rows}


def daily(user, code="steps") -> float:
    return DailyRollup.objects.get(user=user, metric_type=code).value


@pytest.fixture
def devices(user):
    return (
        DeviceFactory(user=user, device_type=Device.Type.APPLE_WATCH),  # 100
        DeviceFactory(user=user, device_type=Device.Type.IPHONE),  # 80
    )


def test_worked_example_watch_and_phone_steps_are_deduplicated(user, devices):
    """
    watch 10:00-10:15  1500   kept whole (best source)
    watch 10:30-10:40  1000   kept whole
    phone 10:00-10:15  1200   fully under the watch: 0
    phone 10:15-10:30   600   no overlap: 600
    phone 10:35-10:45   400   half under the watch (10:35-10:40): 200
    no device 10:40-10:50 300 half under the phone (10:40-10:45): 150
    watch 23:30-23:45   800   alone: 800
    hour 10:00 = 1500 + 1000 + 0 + 600 + 200 + 150 = 3450; day = 3450 + 800 = 4250
    """
    watch, phone = devices
    steps(user, watch, at(10, 0), at(10, 15), 1500)
    steps(user, watch, at(10, 30), at(10, 40), 1000)
    steps(user, phone, at(10, 0), at(10, 15), 1200)
    steps(user, phone, at(10, 15), at(10, 30), 600)
    steps(user, phone, at(10, 35), at(10, 45), 400)
    steps(user, None, at(10, 40), at(10, 50), 300)
    steps(user, watch, at(23, 30), at(23, 45), 800)

    assert hourly(user) == {at(10, 0): pytest.approx(3450), at(23, 0): pytest.approx(800)}
    assert daily(user) == pytest.approx(4250)
    ten = HourlyRollup.objects.get(user=user, period_start=at(10, 0))
    assert (ten.count, ten.min_value, ten.max_value) == (6, 300, 1500)

    # Raising the phone above the watch re-ranks: phone whole, watch 10:00 dropped,
    # watch 10:30-10:40 half under the phone (10:35-10:40): 500.
    services.device_update(device=phone, priority=120)
    assert hourly(user)[at(10, 0)] == pytest.approx(1200 + 600 + 400 + 0 + 500 + 150)
    assert daily(user) == pytest.approx(2850 + 800)


def test_the_same_steps_from_two_devices_count_once_whatever_the_order(user, devices):
    watch, phone = devices
    steps(user, phone, at(9, 0), at(9, 30), 2000)
    assert daily(user) == 2000
    steps(user, watch, at(9, 0), at(9, 30), 2100)
    assert daily(user) == 2100


def test_an_overlap_across_midnight_is_deduplicated_on_both_days(user, devices):
    watch, phone = devices
    # Phone sample 23:50-00:10 (starts on day 1), watch 00:00-00:10 (day 2): the phone keeps
    # the 10 minutes before midnight, i.e. half.
    steps(user, phone, at(23, 50), at(24, 10), 1000)
    steps(user, watch, at(24, 0), at(24, 10), 700)
    rows = dict(DailyRollup.objects.filter(user=user).values_list("day", "value"))
    assert rows == {DAY.date(): pytest.approx(500), (DAY + timedelta(days=1)).date(): 700}
    # Deleting the watch sample gives the phone its whole count back, split in proportion
    # across midnight (10 minutes on each day).
    services.metric_delete(metric=user.health_metrics.get(device=watch))
    assert dict(DailyRollup.objects.filter(user=user).values_list("day", "value")) == {
        DAY.date(): pytest.approx(500),
        (DAY + timedelta(days=1)).date(): pytest.approx(500),
    }


def test_samples_of_one_device_are_not_deduplicated_against_each_other(user, devices):
    watch, _ = devices
    steps(user, watch, at(8, 0), at(8, 30), 100)
    steps(user, watch, at(8, 15), at(8, 45), 100)
    assert daily(user) == 200


def test_a_point_sample_inside_a_better_interval_is_dropped(user, devices):
    watch, phone = devices
    steps(user, watch, at(8, 0), at(8, 30), 100)
    steps(user, phone, at(8, 10), None, 40)
    steps(user, phone, at(8, 40), None, 30)
    assert daily(user) == 130


def test_averaged_and_latest_types_aggregate_per_period(user):
    for minute, bpm in [(0, 60), (20, 80), (70, 100)]:
        services.metric_create(
            user=user, metric_type="heart_rate", value=bpm, recorded_at=at(7, minute)
        )
    assert hourly(user, "heart_rate") == {at(7, 0): 70, at(8, 0): 100}
    day = DailyRollup.objects.get(user=user, metric_type="heart_rate")
    assert (day.value, day.min_value, day.max_value, day.count) == (80, 60, 100, 3)

    services.metric_create(user=user, metric_type="weight", value=80, recorded_at=at(7, 0))
    services.metric_create(user=user, metric_type="weight", value=79, recorded_at=at(19, 0))
    services.metric_create(user=user, metric_type="weight", value=81, recorded_at=at(12, 0))
    assert daily(user, "weight") == 79  # the latest by time, not by insertion
    assert hourly(user, "weight")[at(12, 0)] == 81


def test_updating_a_sample_moves_it_between_days(user):
    metric = services.metric_create(
        user=user, metric_type="heart_rate", value=60, recorded_at=at(7, 0)
    )
    services.metric_update(metric=metric, recorded_at=at(7, 0) + timedelta(days=3))
    assert list(DailyRollup.objects.filter(user=user).values_list("day", flat=True)) == [
        (DAY + timedelta(days=3)).date()
    ]


def test_signal_is_sent_once_inside_the_write_with_the_span(
    user, django_capture_on_commit_callbacks
):
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    measurements_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.metric_create(
                user=user,
                metric_type="steps",
                value=10,
                recorded_at=at(9, 0),
                end_at=at(9, 5),
            )
            # Inside the writing transaction: receivers record their work in it.
            assert len(received) == 1
    finally:
        measurements_changed.disconnect(receiver)
    assert len(received) == 1
    event = received[0]
    assert event["user_id"] == user.pk
    assert event["metric_types"] == {"steps"}
    assert (event["start"], event["end"]) == (at(9, 0), at(9, 5))


def test_a_failing_receiver_fails_the_write_as_a_whole(user, django_capture_on_commit_callbacks):
    # A receiver that cannot record its follow-up work must not leave the write without it.
    def broken(**kwargs):
        raise RuntimeError("boom")

    measurements_changed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            services.metric_create(user=user, metric_type="steps", value=10, recorded_at=at(9, 0))
    finally:
        measurements_changed.disconnect(broken)
    assert not HealthMetric.objects.filter(user=user).exists()
    assert not DailyRollup.objects.filter(user=user).exists()


def test_signal_carries_every_type_of_a_sync(user, django_capture_on_commit_callbacks):
    device = DeviceFactory(user=user)
    received = []
    measurements_changed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.device_sync(
                user=user,
                device=device,
                samples=[
                    {"metric_type": "steps", "value": 5, "recorded_at": at(1, 0).isoformat()},
                    {"metric_type": "weight", "value": 70, "recorded_at": at(2, 0).isoformat()},
                ],
                idempotency_key=None,
            )
    finally:
        measurements_changed.disconnect(dispatch_uid="t")
    assert received[0]["metric_types"] == {"steps", "weight"}
    assert (received[0]["start"], received[0]["end"]) == (at(1, 0), at(2, 0))


def test_writes_invalidate_the_cached_summary(user, django_capture_on_commit_callbacks):
    # Every cached summary (payload or rendered answer) is served only under the person's
    # summary version token: each write deletes it.
    key = services.summary_version_key(user.pk)
    cache.set(key, "v1")
    with django_capture_on_commit_callbacks(execute=True):
        metric = services.metric_create(
            user=user, metric_type="steps", value=1, recorded_at=at(1, 0)
        )
    assert cache.get(key) is None
    for write in (
        lambda: services.metric_update(metric=metric, value=2),
        lambda: services.metric_delete(metric=metric),
    ):
        cache.set(key, "v1")
        with django_capture_on_commit_callbacks(execute=True):
            write()
        assert cache.get(key) is None


def test_a_failed_write_leaves_rollups_and_rows_untouched(user):
    from django.core.exceptions import ValidationError

    services.metric_create(user=user, metric_type="steps", value=100, recorded_at=at(1, 0))
    with pytest.raises(ValidationError):
        services.metric_create(user=user, metric_type="steps", value=-1, recorded_at=at(1, 5))
    assert user.health_metrics.count() == 1
    assert daily(user) == 100


def test_deferred_rollups_are_computed_once_when_the_bulk_load_ends(
    user, django_capture_on_commit_callbacks
):
    device = DeviceFactory(user=user)
    received = []
    measurements_changed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="d")
    try:
        with django_capture_on_commit_callbacks(execute=True), services.rollups_deferred():
            for hour in (1, 5):
                services.device_sync(
                    user=user,
                    device=device,
                    samples=[
                        {
                            "metric_type": "steps",
                            "value": 100,
                            "recorded_at": at(hour, 0).isoformat(),
                            "end_at": at(hour, 30).isoformat(),
                        }
                    ],
                    idempotency_key=None,
                )
            assert hourly(user) == {}
            assert received == []
    finally:
        measurements_changed.disconnect(dispatch_uid="d")
    assert hourly(user) == {at(1, 0): 100, at(5, 0): 100}
    assert daily(user) == 200
    assert len(received) == 1
    assert (received[0]["start"], received[0]["end"]) == (at(1, 0), at(5, 30))


def test_a_deferred_bulk_load_over_months_is_recomputed_and_announced_a_month_at_a_time(
    user, django_capture_on_commit_callbacks
):
    device = DeviceFactory(user=user)
    first = datetime(2026, 1, 1, 8, tzinfo=UTC)
    days = 100
    received = []
    measurements_changed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="m")
    try:
        with django_capture_on_commit_callbacks(execute=True), services.rollups_deferred():
            services.device_sync(
                user=user,
                device=device,
                samples=[
                    {
                        "metric_type": "steps",
                        "value": 1000,
                        "recorded_at": (first + timedelta(days=n)).isoformat(),
                    }
                    for n in range(days)
                ],
                idempotency_key=None,
            )
    finally:
        measurements_changed.disconnect(dispatch_uid="m")
    # Every day has its rollup, as a recomputation from scratch would give ...
    assert DailyRollup.objects.filter(user=user, metric_type="steps").count() == days
    assert {r.value for r in DailyRollup.objects.filter(user=user, metric_type="steps")} == {1000}
    # ... and no single step read or announced more than a month (a bulk load's merged span
    # can cover years: each piece is bounded, together they cover it).
    assert len(received) >= 4
    assert all(kw["end"] - kw["start"] <= services.ROLLUP_FLUSH_CHUNK for kw in received)
    assert min(kw["start"] for kw in received) == first
    assert max(kw["end"] for kw in received) == first + timedelta(days=days - 1)
