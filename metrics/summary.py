"""The summary of a person's measurements over the last N days (the API's `/summary`, the
report): per type average, min, max, count, latest sample and the per-day series, read from the
daily rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from accounts import access
from healthtrack.core import days as calendar
from metrics.figures import rounded
from metrics.latest import latest_values
from metrics.models import DailyRollup
from metrics.registry import AVERAGE, METRIC_TYPES, SUM, get_metric_type


def _window(days: int, today: date | None = None) -> tuple[date, date]:
    today = today or calendar.today()
    return today - timedelta(days=days - 1), today


def summary(*, user_id: int, days: int, today: date | None = None, viewer=None) -> dict[str, Any]:
    """Per metric type with data in the last `days` UTC days (today included): average, min,
    max, count, latest sample and the per-day series, read from the daily rollups.

    `average`, `min` and `max` are over daily totals for summed types (steps per day), over
    samples for averaged types, and over each day's last value for latest-value types;
    `count` is the number of samples. With `viewer`, only the days and types they may read
    (a named share grant's scope) count."""
    start, end = _window(days, today)
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
        before=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
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
