"""Property: after any sequence of creates, updates and deletes through the services, the
stored rollups equal a naive recomputation from the raw rows, for owners in several time zones
(daily rollups are the owner's local days) with samples around local and UTC midnights."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from metrics import services
from metrics.models import (
    NO_DEVICE_PRIORITY,
    DailyRollup,
    Device,
    HealthMetric,
    HourlyRollup,
    PeriodRollup,
)
from metrics.registry import get_metric_type
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # the window spans a midnight
# Asia/Kolkata: local midnight falls inside a UTC hour; Pacific/Kiritimati: UTC+14.
ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati"]
TYPES = ["steps", "sleep", "heart_rate", "weight"]

create = st.fixed_dictionaries(
    {
        "op": st.just("create"),
        "metric_type": st.sampled_from(TYPES),
        "minute": st.integers(0, 4 * 60),
        "length": st.one_of(st.none(), st.integers(0, 180)),
        "value": st.integers(20, 200),
        "source": st.integers(0, 3),  # 0: no device; 1-3: devices
    }
)
update = st.fixed_dictionaries(
    {
        "op": st.just("update"),
        "pick": st.integers(0, 1000),
        "minute": st.integers(0, 4 * 60),
        "value": st.integers(20, 200),
    }
)
delete = st.fixed_dictionaries({"op": st.just("delete"), "pick": st.integers(0, 1000)})
operations = st.lists(st.one_of(create, create, update, delete), min_size=1, max_size=25)


def window_start(zone: str, anchor: str) -> datetime:
    """Two hours before a midnight: the owner's local one or UTC's."""
    if anchor == "utc":
        return T0
    local_midnight = datetime(2026, 3, 2, tzinfo=zoneinfo.ZoneInfo(zone))
    return local_midnight.astimezone(UTC) - timedelta(hours=2)


def naive_rollups(user) -> tuple[dict, dict]:
    """Independent recomputation: for each summed sample, the share of its interval that no
    better-ranked sample of another source covers, by brute force over minute edges; days are
    the owner's local dates."""
    tz = zoneinfo.ZoneInfo(user.time_zone)
    rows = list(HealthMetric.objects.filter(user=user).select_related("device"))

    def rank(m):
        if m.device is None:
            return (-NO_DEVICE_PRIORITY, 1, 0, m.source_app)
        return (-m.device.priority, 0, m.device.pk, "")

    def source(m):
        return ("d", m.device_id) if m.device_id else ("a", m.source_app)

    kept, better_of = {}, {}
    for m in rows:
        if not get_metric_type(m.metric_type).is_summed:
            continue
        better = [
            o
            for o in rows
            if o.metric_type == m.metric_type
            and source(o) != source(m)
            and rank(o) < rank(m)
            and o.end_at is not None
            and o.end_at > o.recorded_at
        ]
        better_of[m.pk] = better
        start, end = m.recorded_at, m.end_at or m.recorded_at
        if end == start:
            hit = any(o.recorded_at <= start < o.end_at for o in better)
            kept[m.pk] = 0.0 if hit else m.value
            continue
        edges = sorted(
            {start, end} | {t for o in better for t in (o.recorded_at, o.end_at) if start < t < end}
        )
        covered = timedelta()
        for a, b in zip(edges, edges[1:], strict=False):
            if any(o.recorded_at <= a and b <= o.end_at for o in better):
                covered += b - a
        kept[m.pk] = m.value * (1 - covered / (end - start))

    # A summed interval sample is split over the hours (and so days) it overlaps, minute by
    # minute, each minute that no better-ranked sample covers carrying value/minutes; it counts
    # in the period it starts in; min and max also see the periods it spills into.
    hour_of = lambda t: t.replace(minute=0, second=0, microsecond=0)  # noqa: E731
    hours, days = defaultdict(list), defaultdict(list)
    hour_share, day_share = defaultdict(float), defaultdict(float)
    hour_spill, day_spill = defaultdict(list), defaultdict(list)
    for m in rows:
        hours[(m.metric_type, hour_of(m.recorded_at))].append(m)
        days[(m.metric_type, m.recorded_at.astimezone(tz).date())].append(m)
        if m.pk not in kept:
            continue
        better = better_of[m.pk]
        end = m.end_at or m.recorded_at
        if end <= m.recorded_at:
            hour_share[(m.metric_type, hour_of(m.recorded_at))] += kept[m.pk]
            day_share[(m.metric_type, m.recorded_at.astimezone(tz).date())] += kept[m.pk]
            continue
        minutes = (end - m.recorded_at) / timedelta(minutes=1)
        t = m.recorded_at
        while t < end:
            step = min(end, t + timedelta(minutes=1))
            hidden = any(o.recorded_at <= t and step <= o.end_at for o in better)
            share = 0.0 if hidden else m.value * ((step - t) / timedelta(minutes=1)) / minutes
            hour_share[(m.metric_type, hour_of(t))] += share
            day_share[(m.metric_type, t.astimezone(tz).date())] += share
            if hour_of(t) != hour_of(m.recorded_at):
                hour_spill[(m.metric_type, hour_of(t))].append(m)
            if t.astimezone(tz).date() != m.recorded_at.astimezone(tz).date():
                day_spill[(m.metric_type, t.astimezone(tz).date())].append(m)
            t = step

    def aggregate(key, members, shares, spills):
        code = key[0]
        agg = get_metric_type(code).aggregation
        values = [m.value for m in members]
        if agg == "sum":
            value = shares[key]
            seen = values + [m.value for m in spills.get(key, [])]
            return (round(value, 6), min(seen), max(seen), len(values))
        if agg == "average":
            value = sum(values) / len(values)
        else:
            value = max(members, key=lambda m: (m.recorded_at, m.pk)).value
        return (round(value, 6), min(values), max(values), len(values))

    for key in hour_spill:
        hours.setdefault(key, [])
    for key in day_spill:
        days.setdefault(key, [])
    return (
        {k: aggregate(k, v, hour_share, hour_spill) for k, v in hours.items()},
        {k: aggregate(k, v, day_share, day_spill) for k, v in days.items()},
    )


def stored_rollups(user) -> tuple[dict, dict]:
    hours = {
        (r.metric_type, r.period_start): (round(r.value, 6), r.min_value, r.max_value, r.count)
        for r in HourlyRollup.objects.filter(user=user)
    }
    days = {
        (r.metric_type, r.day): (round(r.value, 6), r.min_value, r.max_value, r.count)
        for r in DailyRollup.objects.filter(user=user)
    }
    return hours, days


@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=operations,
    zone=st.sampled_from(ZONES),
    anchor=st.sampled_from(["local", "utc"]),
)
def test_rollups_equal_a_recomputation_from_raw_rows(user, ops, zone, anchor):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    t0 = window_start(zone, anchor)
    HealthMetric.objects.filter(user=user).delete()
    HourlyRollup.objects.filter(user=user).delete()
    DailyRollup.objects.filter(user=user).delete()
    PeriodRollup.objects.filter(user=user).delete()
    Device.objects.filter(user=user).delete()
    devices = [
        None,
        DeviceFactory(user=user, priority=100),
        DeviceFactory(user=user, priority=80),
        DeviceFactory(user=user, priority=80),  # same priority: ties go to the older device
    ]
    for op in ops:
        existing = list(HealthMetric.objects.filter(user=user).order_by("pk"))
        if op["op"] == "create":
            start = t0 + timedelta(minutes=op["minute"])
            length = op["length"]
            value = op["value"]
            if op["metric_type"] == "weight":
                value = value / 2
            services.metric_create(
                user=user,
                metric_type=op["metric_type"],
                value=value,
                recorded_at=start,
                end_at=None if length is None else start + timedelta(minutes=length),
                device=devices[op["source"]],
                source_app="" if op["source"] else "app",
            )
        elif existing:
            metric = existing[op["pick"] % len(existing)]
            if op["op"] == "delete":
                services.metric_delete(metric=metric)
            else:
                start = t0 + timedelta(minutes=op["minute"])
                length = metric.end_at - metric.recorded_at if metric.end_at else None
                services.metric_update(
                    metric=metric,
                    recorded_at=start,
                    end_at=start + length if length is not None else None,
                    value=op["value"] / 2 if metric.metric_type == "weight" else op["value"],
                )
    assert stored_rollups(user) == naive_rollups(user)
