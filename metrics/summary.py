"""The summary of a person's measurements over the last N days (the API's `/summary`, the
report): per type average, min, max, count, latest sample and the per-day series, read from the
daily rollups."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router

from accounts import access
from healthtrack.core import days as calendar
from healthtrack.core.prepared import prepared_cursor
from metrics import averages
from metrics.figures import rounded
from metrics.latest import LATEST_SQL, latest_values
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


# The owner's daily rollups of a span and the latest sample of each type, in one plain
# statement: the ORM's building of the rollups' query and of its ~200 result rows cost ~0.45
# ms of CPU, twice what PostgreSQL's answer costs to read, and a second statement for the
# latest samples costs a round trip of its own on both sides (issue 15). The rollup rows are
# the QuerySet's below (same columns, order and values), by type and day; each type's latest
# sample (`metrics.latest.LATEST_SQL`) follows them, as a row without a day.
_ROLLUPS_AND_LATEST_SQL = f"""
SELECT metric_type, day, value, min_value, max_value, count, NULL::timestamptz
FROM metrics_dailyrollup
WHERE user_id = %s AND day >= %s AND day <= %s AND metric_type = ANY(%s)
UNION ALL
SELECT code, NULL, value, NULL, NULL, NULL, recorded_at FROM ({LATEST_SQL}) AS latest
ORDER BY 1, 2
"""  # noqa: S608 - no value in the text
_ROLLUP_COLUMNS = ("metric_type", "day", "value", "min_value", "max_value", "count")


def _rows_and_latest(
    user_id: int, first: date, last: date, before: datetime, viewer, codes: list[str]
) -> tuple[Iterable[tuple], dict[str, tuple[datetime, float]] | None]:
    """((type, day, value, min, max, count) of `user_id`'s daily rollups of `codes` from
    `first` to `last`, by type and day; the latest sample before `before` of each of those
    types, or None when the caller is to read them with `latest_values`). With `viewer`,
    only the rows they may read (a share grant's types and window,
    `accounts.access.readable_metrics`)."""
    using = router.db_for_read(DailyRollup)
    if viewer is None and connections[using].vendor == "postgresql":
        # Planned once per connection (`prepared_cursor`: ~0.1 ms of PostgreSQL's CPU a miss
        # spent parsing and planning it); a replica's connection plans it every time.
        cursor = prepared_cursor() if using == DEFAULT_DB_ALIAS else connections[using].cursor()
        with cursor:
            cursor.execute(
                _ROLLUPS_AND_LATEST_SQL, [user_id, first, last, codes, codes, user_id, before]
            )
            found = cursor.fetchall()
        rows = [row[:6] for row in found if row[1] is not None]
        return rows, {row[0]: (row[6], row[2]) for row in found if row[1] is None}
    rows = DailyRollup.objects.filter(
        user_id=user_id, day__gte=first, day__lte=last, metric_type__in=codes
    ).order_by("metric_type", "day")
    if viewer is not None:
        rows = access.readable_metrics(rows, viewer, time_field="day", time_is_date=True)
    return rows.values_list(*_ROLLUP_COLUMNS), None


@dataclass(frozen=True)
class Window:
    """The days a summary covers: `start`..`end` (series, count, today's figure), the finished
    days `first`..`last` its average, min and max are over, and the day in progress."""

    days: int
    start: date
    end: date
    first: date
    last: date
    in_progress: date


def window(days: int, *, today: date | None = None, tz: tzinfo) -> Window:
    """The window of `days` days to `today` (default: the day in progress in `tz`)."""
    start, end = _window(days, today, tz)
    in_progress = calendar.today(tz)
    first, last = averages.finished_window(
        today=min(end + timedelta(days=1), in_progress), days=days
    )
    return Window(days, start, end, first, last, in_progress)


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
    w = window(days, today=today, tz=tz)
    return {**heading(w), "metrics": entries(user_id=user_id, window=w, tz=tz, viewer=viewer)}


def heading(w: Window) -> dict[str, Any]:
    """`summary`'s answer but its `metrics`: the window's days."""
    return {
        "days": w.days,
        "start": w.start,
        "end": w.end,
        "finished_start": w.first,
        "finished_end": w.last,
    }


def entries(
    *,
    user_id: int,
    window: Window,
    tz: tzinfo,
    viewer=None,
    metric_types: Collection[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """`summary`'s `metrics` over `window`: the entry of each type with data in it, in the
    registry's order; of `metric_types` only, when given (a type's entry depends on that
    type's data alone: `metrics.summary_cache` computes one type at a time)."""
    w = window
    codes = list(METRIC_TYPES) if metric_types is None else sorted(metric_types)
    before = calendar.day_start(w.end + timedelta(days=1), tz)
    grouped: dict[str, list[tuple]] = {}
    finished: dict[str, list[tuple]] = {}
    rows, latest_by_type = _rows_and_latest(
        user_id, min(w.start, w.first), w.end, before, viewer, codes
    )
    for code, day, value, lo, hi, count in rows:
        row = (day, value, lo, hi, count)
        if w.start <= day:
            grouped.setdefault(code, []).append(row)
        if w.first <= day <= w.last:
            finished.setdefault(code, []).append(row)
    if latest_by_type is None:
        latest_by_type = latest_values(
            user_id=user_id, metric_types=list(grouped), before=before, viewer=viewer
        )
    metrics: dict[str, Any] = {}
    for code in sorted(grouped, key=list(METRIC_TYPES).index):
        mtype = get_metric_type(code)
        series = grouped[code]
        average, low, high = _figures(mtype.aggregation, finished.get(code, []))
        latest = latest_by_type.get(code)
        partial = series[-1] if series[-1][0] == w.in_progress else None
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
                {"date": r[0], "value": rounded(code, r[1]), "in_progress": r[0] == w.in_progress}
                for r in series
            ],
        }
    return metrics


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def type_payload(item: dict[str, Any]) -> dict[str, Any]:
    """One type's entry of `summary` with its dates and times as JSON strings."""
    latest, today = item["latest"], item["today"]
    return {
        **item,
        "latest": {"recorded_at": _iso(latest["recorded_at"]), "value": latest["value"]}
        if latest
        else None,
        "today": {**today, "date": today["date"].isoformat()} if today else None,
        "series": [{**p, "date": p["date"].isoformat()} for p in item["series"]],
    }


def payload(data: dict[str, Any]) -> dict[str, Any]:
    """`summary`'s answer with dates and times as JSON strings: the API's body."""
    return {
        "days": data["days"],
        "start": data["start"].isoformat(),
        "end": data["end"].isoformat(),
        "finished_start": data["finished_start"].isoformat(),
        "finished_end": data["finished_end"].isoformat(),
        "metrics": {code: type_payload(item) for code, item in data["metrics"].items()},
    }
