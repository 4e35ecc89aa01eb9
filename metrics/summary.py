"""The summary of a person's measurements over the last N days (the API's `/summary`, the
report): per type average, min, max, count, latest sample and the per-day series, read from the
daily rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta, tzinfo
from typing import Any

from django.db import connections, router

from accounts import access
from healthtrack.core import days as calendar
from metrics import averages
from metrics.figures import rounded
from metrics.latest import latest_values
from metrics.models import DailyRollup
from metrics.registry import METRIC_TYPES, SUM, get_metric_type


def _window(days: int, today: date | None = None, tz=None) -> tuple[date, date]:
    today = today or calendar.today(tz)
    return today - timedelta(days=days - 1), today


def _figures(aggregation: str, rows: list[tuple]) -> tuple[float | None, ...]:
    """Average, min and max of finished days' rollup rows ((day, value, min, max, count)):
    the average is the N-day average of `metrics.averages` (the mean of the daily figures,
    days with data only); min and max are over the daily totals for summed types, else over
    the readings. None without a finished day."""
    if not rows:
        return None, None, None
    average = averages.average_of_days({r[0]: r[1] for r in rows})
    if aggregation == SUM:
        return average, min(r[1] for r in rows), max(r[1] for r in rows)
    return average, min(r[2] for r in rows), max(r[3] for r in rows)


# The owner's daily rollups of a span, every type, in plain SQL: the ORM's building of this
# one query and of its ~200 result rows cost ~0.45 ms of CPU, twice what PostgreSQL's answer
# costs to read (issue 15). The same columns, order and values as the QuerySet below.
_ROLLUPS_SQL = """
SELECT metric_type, day, value, min_value, max_value, count FROM metrics_dailyrollup
WHERE user_id = %s AND day >= %s AND day <= %s
ORDER BY metric_type, day
"""
_ROLLUP_COLUMNS = ("metric_type", "day", "value", "min_value", "max_value", "count")


def _rollup_rows(user_id: int, first: date, last: date, viewer) -> Iterable[tuple]:
    """(type, day, value, min, max, count) of `user_id`'s daily rollups from `first` to
    `last`, by type and day. With `viewer`, only those they may read (a share grant's types
    and window, `accounts.access.readable_metrics`)."""
    using = router.db_for_read(DailyRollup)
    if viewer is None and connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute(_ROLLUPS_SQL, [user_id, first, last])
            return cursor.fetchall()
    rows = DailyRollup.objects.filter(user_id=user_id, day__gte=first, day__lte=last).order_by(
        "metric_type", "day"
    )
    if viewer is not None:
        rows = access.readable_metrics(rows, viewer, time_field="day", time_is_date=True)
    return rows.values_list(*_ROLLUP_COLUMNS)


def summary(
    *,
    user_id: int,
    days: int,
    today: date | None = None,
    viewer=None,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """Per metric type with data in the `days` days to `today` (default: the day in progress,
    `healthtrack.core.days`): count, latest sample and the per-day series, today included and marked
    `in_progress`; today's figure so far as `today`; and `average`, `min` and `max` of
    finished days only (`finished_start`..`finished_end`), read from the daily rollups.

    The figures' days are the `days` finished days up to the window's end: when the window
    ends today (in progress, partial) they are the `days` days before it, the N-day average
    of `metrics.averages` (`finished_window`), so `?days=7` states the same 7-day average as
    the Goals page; a window ending on a finished day (the report) is itself finished.
    Today is never averaged or scored as a finished day.

    `average` is the mean of the daily figures (daily totals for summed types, the day's
    average or last value otherwise); `min` and `max` are over daily totals for summed
    types and over the readings otherwise; `count` is the number of samples in the window.
    With `viewer`, only the days and types they may read (a named share grant's scope)
    count. `tz`: the owner's zone when the caller holds their row (`calendar.zone_of(owner)`);
    else it is read."""
    tz = calendar.zone_of(user_id) if tz is None else tz  # the owner's days
    start, end = _window(days, today, tz)
    in_progress = calendar.today(tz)
    first, last = averages.finished_window(
        today=min(end + timedelta(days=1), in_progress), days=days
    )
    grouped: dict[str, list[tuple]] = {}
    finished: dict[str, list[tuple]] = {}
    for code, day, value, lo, hi, count in _rollup_rows(user_id, min(start, first), end, viewer):
        row = (day, value, lo, hi, count)
        if start <= day:
            grouped.setdefault(code, []).append(row)
        if first <= day <= last:
            finished.setdefault(code, []).append(row)

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
        average, low, high = _figures(mtype.aggregation, finished.get(code, []))
        latest = latest_by_type.get(code)
        partial = series[-1] if series[-1][0] == in_progress else None
        # Every figure is stated with the shared rounding rule (metrics.figures), as the
        # pages state it: whole steps, never 5161.8099999999995.
        metrics[code] = {
            "name": mtype.name,
            "unit": mtype.unit,
            "aggregation": mtype.aggregation,
            "average": rounded(code, average),
            "min": rounded(code, low),
            "max": rounded(code, high),
            "count": sum(r[4] for r in series),
            "days_with_data": len(series),
            "finished_days_with_data": len(finished.get(code, [])),
            "today": {"date": partial[0], "value": rounded(code, partial[1]), "in_progress": True}
            if partial
            else None,
            "latest": {"recorded_at": latest[0], "value": rounded(code, latest[1])}
            if latest
            else None,
            "series": [
                {"date": r[0], "value": rounded(code, r[1]), "in_progress": r[0] == in_progress}
                for r in series
            ],
        }
    return {
        "days": days,
        "start": start,
        "end": end,
        "finished_start": first,
        "finished_end": last,
        "metrics": metrics,
    }
