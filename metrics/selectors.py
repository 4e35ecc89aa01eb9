"""Reads on measurements and rollups, for the API, the dashboard, goals and insights.

Row-level reads go through the QuerySet API: `HealthMetric.objects.for_user(u).of_type("steps")
.between(a, b)`. Period figures come from the rollups (kept right by `metrics.services`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

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
    *, user_id: int, metric_type: str, before: datetime | None = None
) -> tuple[datetime, float] | None:
    """The newest sample's (recorded_at, value), or None."""
    qs = HealthMetric.objects.for_user(user_id).of_type(metric_type)
    if before is not None:
        qs = qs.filter(recorded_at__lt=before)
    return qs.newest_first().values_list("recorded_at", "value").first()


def latest_values(
    *, user_id: int, metric_types: list[str], before: datetime | None = None
) -> dict[str, tuple[datetime, float]]:
    """`latest_value` of several types; types without a sample are absent. One query where
    the database allows ordered, limited parts in a UNION (PostgreSQL): each part is one
    index probe, so a summary costs one round trip instead of one per type."""
    if not metric_types:
        return {}
    if not connection.features.supports_slicing_ordering_in_compound or len(metric_types) == 1:
        found = {}
        for code in metric_types:
            latest = latest_value(user_id=user_id, metric_type=code, before=before)
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


def _window(days: int, today: date | None = None) -> tuple[date, date]:
    today = today or timezone.now().astimezone(UTC).date()
    return today - timedelta(days=days - 1), today


def summary(*, user_id: int, days: int, today: date | None = None) -> dict[str, Any]:
    """Per metric type with data in the last `days` UTC days (today included): average, min,
    max, count, latest sample and the per-day series, read from the daily rollups.

    `average`, `min` and `max` are over daily totals for summed types (steps per day), over
    samples for averaged types, and over each day's last value for latest-value types;
    `count` is the number of samples."""
    start, end = _window(days, today)
    rows = DailyRollup.objects.filter(user_id=user_id, day__gte=start, day__lte=end).order_by(
        "metric_type", "day"
    )
    grouped: dict[str, list[tuple]] = {}
    for code, day, value, lo, hi, count in rows.values_list(
        "metric_type", "day", "value", "min_value", "max_value", "count"
    ):
        grouped.setdefault(code, []).append((day, value, lo, hi, count))

    latest_by_type = latest_values(
        user_id=user_id,
        metric_types=list(grouped),
        before=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
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
        metrics[code] = {
            "name": mtype.name,
            "unit": mtype.unit,
            "aggregation": mtype.aggregation,
            "average": average,
            "min": low,
            "max": high,
            "count": count,
            "days_with_data": len(series),
            "latest": {"recorded_at": latest[0], "value": latest[1]} if latest else None,
            "series": [{"date": r[0], "value": r[1]} for r in series],
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
