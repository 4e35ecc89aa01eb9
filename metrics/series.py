"""The per-period series of a type, read from the rollups (kept right by `metrics.services`):
a person's daily values, the API's hourly or daily rollup rows, and a share's daily rows."""

from __future__ import annotations

from datetime import date, datetime

from metrics.models import DailyRollup, HourlyRollup
from metrics.registry import METRIC_TYPES


def daily_series(*, user_id: int, metric_type: str, start: date, end: date) -> dict[date, float]:
    """Each day's rollup value (sum, average or latest per the type) for days start..end
    inclusive; days without data are absent."""
    rows = DailyRollup.objects.filter(
        user_id=user_id, metric_type=metric_type, day__gte=start, day__lte=end
    ).order_by("day")
    return dict(rows.values_list("day", "value"))


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
