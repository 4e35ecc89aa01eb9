"""Reads on measurements and rollups, for the API, the dashboard, goals and insights.

Row-level reads go through the QuerySet API: `HealthMetric.objects.for_user(u).of_type("steps")
.between(a, b)`. Period figures come from the rollups (kept right by `metrics.services`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Q, Subquery

from accounts import access
from accounts import days as calendar
from metrics.figures import rounded
from metrics.models import DailyRollup, HealthMetric, HourlyRollup
from metrics.registry import AVERAGE, METRIC_TYPES, SUM, get_metric_type


def daily_series(*, user_id: int, metric_type: str, start: date, end: date) -> dict[date, float]:
    """Each day's rollup value (sum, average or latest per the type) for days start..end
    inclusive; days without data are absent."""
    rows = DailyRollup.objects.filter(
        user_id=user_id, metric_type=metric_type, day__gte=start, day__lte=end
    ).order_by("day")
    return dict(rows.values_list("day", "value"))


def latest_value(
    *, user_id: int, metric_type: str, before: datetime | None = None, viewer=None
) -> tuple[datetime, float] | None:
    """The newest sample's (recorded_at, value), or None. With `viewer`, only samples they
    may read (`accounts.access.readable_metrics`: a share grant's types and window)."""
    qs = HealthMetric.objects.for_user(user_id).of_type(metric_type)
    if viewer is not None:
        qs = access.readable_metrics(qs, viewer)
    if before is not None:
        qs = qs.filter(recorded_at__lt=before)
    return qs.newest_first().values_list("recorded_at", "value").first()


def latest_values(
    *, user_id: int, metric_types: list[str], before: datetime | None = None, viewer=None
) -> dict[str, tuple[datetime, float]]:
    """`latest_value` of several types; types without a sample are absent. For the owner's
    own data one query where the database allows ordered, limited parts in a UNION
    (PostgreSQL): each part is one index probe, so a summary costs one round trip instead of
    one per type. With `viewer` (share-grant scoping) it is `latest_value` per type."""
    if not metric_types:
        return {}
    union = connection.features.supports_slicing_ordering_in_compound
    if viewer is not None or not union or len(metric_types) == 1:
        found = {}
        for code in metric_types:
            latest = latest_value(user_id=user_id, metric_type=code, before=before, viewer=viewer)
            if latest is not None:
                found[code] = latest
        return found
    parts = []
    for code in metric_types:
        qs = HealthMetric.objects.for_user(user_id).of_type(code)
        if before is not None:
            qs = qs.filter(recorded_at__lt=before)
        parts.append(qs.newest_first().values_list("metric_type", "recorded_at", "value")[:1])
    rows = parts[0].union(*parts[1:], all=True)
    return {code: (at, value) for code, at, value in rows}


def latest_per_type(*, user_id: int) -> list[HealthMetric]:
    """The newest sample of every metric type the user has, in registry order. One query:
    a scalar subquery per type, each answered by the (user, type, -recorded_at) index."""
    newest = (
        Q(
            pk=Subquery(
                HealthMetric.objects.for_user(user_id).of_type(code).newest_first().values("pk")[:1]
            )
        )
        for code in METRIC_TYPES
    )
    rows = HealthMetric.objects.filter(reduce(or_, newest)).select_related("device")
    order = list(METRIC_TYPES)
    return sorted(rows, key=lambda m: order.index(m.metric_type))


def _window(days: int, today: date | None = None, tz=None) -> tuple[date, date]:
    today = today or calendar.today(tz)
    return today - timedelta(days=days - 1), today


def summary(*, user_id: int, days: int, today: date | None = None, viewer=None) -> dict[str, Any]:
    """Per metric type with data in the last `days` local days (today included): average, min,
    max, count, latest sample and the per-day series, read from the daily rollups.

    `average`, `min` and `max` are over daily totals for summed types (steps per day), over
    samples for averaged types, and over each day's last value for latest-value types;
    `count` is the number of samples. With `viewer`, only the days and types they may read
    (a named share grant's scope) count."""
    tz = calendar.zone_of(user_id)  # the owner's days
    start, end = _window(days, today, tz)
    rows = DailyRollup.objects.filter(user_id=user_id, day__gte=start, day__lte=end).order_by(
        "metric_type", "day"
    )
    if viewer is not None:
        rows = access.readable_metrics(rows, viewer, time_field="day", time_is_date=True)
    grouped: dict[str, list[tuple]] = {}
    for code, day, value, lo, hi, count in rows.values_list(
        "metric_type", "day", "value", "min_value", "max_value", "count"
    ):
        grouped.setdefault(code, []).append((day, value, lo, hi, count))

    latest_by_type = latest_values(
        user_id=user_id,
        metric_types=list(grouped),
        before=calendar.day_start(end + timedelta(days=1), tz),
        viewer=viewer,
    )
    metrics: dict[str, Any] = {}
    for code in sorted(grouped, key=list(METRIC_TYPES).index):
        mtype = get_metric_type(code)
        series = grouped[code]
        count = sum(r[4] for r in series)
        if mtype.aggregation == AVERAGE:
            average = sum(r[1] * r[4] for r in series) / count
            low, high = min(r[2] for r in series), max(r[3] for r in series)
        else:
            average = sum(r[1] for r in series) / len(series)
            if mtype.aggregation == SUM:
                low, high = min(r[1] for r in series), max(r[1] for r in series)
            else:
                low, high = min(r[2] for r in series), max(r[3] for r in series)
        latest = latest_by_type.get(code)
        # Every figure is stated with the shared rounding rule (metrics.figures), as the
        # pages state it: whole steps, never 5161.8099999999995.
        metrics[code] = {
            "name": mtype.name,
            "unit": mtype.unit,
            "aggregation": mtype.aggregation,
            "average": rounded(code, average),
            "min": rounded(code, low),
            "max": rounded(code, high),
            "count": count,
            "days_with_data": len(series),
            "latest": {"recorded_at": latest[0], "value": rounded(code, latest[1])}
            if latest
            else None,
            "series": [{"date": r[0], "value": rounded(code, r[1])} for r in series],
        }
    return {"days": days, "start": start, "end": end, "metrics": metrics}


def aggregates(
    *, user_id: int, metric_type: str, period: str, start: datetime | date, end: datetime | date
):
    """The rollup rows of one type, oldest first: hourly rows with `period_start` in
    [start, end), or daily rows with `day` in [start, end] (dates)."""
    if period == "hour":
        return HourlyRollup.objects.filter(
            user_id=user_id, metric_type=metric_type, period_start__gte=start, period_start__lt=end
        ).order_by("period_start")
    return DailyRollup.objects.filter(
        user_id=user_id, metric_type=metric_type, day__gte=start, day__lte=end
    ).order_by("day")


def shared_daily(
    *, owner_id: int, metric_types: tuple[str, ...] | list[str], date_from: date, date_to: date
) -> dict[str, list[DailyRollup]]:
    """A share's daily rollups per metric type, oldest first: `owner_id`'s rows of those types
    (registry types only, in registry order) on the days date_from..date_to. Every type of the
    share is a key, with an empty list when it has no data."""
    codes = [code for code in METRIC_TYPES if code in set(metric_types)]
    result: dict[str, list[DailyRollup]] = {code: [] for code in codes}
    rows = DailyRollup.objects.filter(
        user_id=owner_id, metric_type__in=codes, day__gte=date_from, day__lte=date_to
    ).order_by("metric_type", "day")
    for row in rows:
        result[row.metric_type].append(row)
    return result
