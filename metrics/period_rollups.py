"""Week and month rollups in the owner's time zone: ISO weeks (Monday first) and calendar months.

Kept in step with the daily rollups: `metrics.rollups.recompute_days` calls `refresh` in the
same transaction, for the local days it rewrote, and every week and month those days touch is
recomputed from the daily rollups of that period. The daily rollups are the owner's local days
(`healthtrack.core.days`), so a week is exactly its seven local days and a month its local days, in
every zone (also those whose offset is not a whole number of hours, such as India or Nepal).
Reads never recompute, except once for an owner whose rows were cut in another zone (they
changed `User.time_zone` and the recut task has not run yet: the owner's daily and period
rollups of that type are cut again, `metrics.rollups.recompute_all`) or who has daily rollups
but no period rows yet (data written before this table existed: `rebuild` from the days).

Aggregation follows the type: summed types add the days' (de-duplicated) sums, averaged types
weight each day's average by its sample count, latest types keep the last day's value.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db import connection, transaction

from healthtrack.core import days as calendar
from metrics.models import DailyRollup, PeriodRollup
from metrics.registry import AVERAGE, LATEST, SUM, get_metric_type

WEEK, MONTH = PeriodRollup.Period.WEEK.value, PeriodRollup.Period.MONTH.value
PERIODS = (WEEK, MONTH)


def owner_zone(user_id: int) -> tzinfo:
    """The owner's zone (`healthtrack.core.days.zone_of`, the one place that reads it)."""
    return calendar.zone_of(user_id)


def period_start(period: str, day: date) -> date:
    if period == WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(period: str, start: date) -> date:
    if period == WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bounds(period: str, start: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The period's [start, end) as UTC instants (local midnights in `tz`)."""
    lo = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(next_start(period, start), time.min, tzinfo=tz).astimezone(UTC)
    return lo, hi


def starts_between(period: str, first: date, last: date) -> list[date]:
    """The start of every period that contains a day of first..last."""
    out, start = [], period_start(period, first)
    while start <= last:
        out.append(start)
        start = next_start(period, start)
    return out


def _compute(
    user_id: int, metric_type: str, period: str, start: date, tz_name: str, days: list, dates: list
) -> PeriodRollup | None:
    """The period's row from `days` ((day, value, min, max, count), oldest first, covering at
    least the period; `dates` their days), or None when none falls in it."""
    days = days[
        bisect.bisect_left(dates, start) : bisect.bisect_left(dates, next_start(period, start))
    ]
    if not days:
        return None
    aggregation = get_metric_type(metric_type).aggregation
    count = sum(d[4] for d in days)
    if aggregation == SUM:
        value = sum(d[1] for d in days)
    elif aggregation == AVERAGE:
        value = sum(d[1] * d[4] for d in days) / count
    else:
        value = days[-1][1]
    return PeriodRollup(
        user_id=user_id,
        metric_type=metric_type,
        period=period,
        start=start,
        time_zone=tz_name,
        value=value,
        min_value=min(d[2] for d in days),
        max_value=max(d[3] for d in days),
        count=count,
    )


# PostgreSQL: the periods `%(periods)s` / `%(starts)s` / `%(nexts)s` name (unless a row of
# the type is cut in another zone: then nothing is written and the statement says so) written
# from their daily rollups in one statement: each period with days upserted, each without
# days deleted (the two sets are disjoint: no row is changed twice). `{value}`: the type's
# aggregation, in day order as `_compute` adds them, so the same floating-point sums.
_REWRITE_SQL = """
WITH periods (period, start, next) AS (
    SELECT * FROM unnest(%(periods)s::varchar[], %(starts)s::date[], %(nexts)s::date[])
),
other_zone AS (
    SELECT EXISTS (
        SELECT 1 FROM metrics_periodrollup
        WHERE user_id = %(user)s AND metric_type = %(type)s AND time_zone <> %(tz)s
    ) AS found
),
computed AS (
    SELECT p.period, p.start, {value} AS value, MIN(d.min_value) AS lo,
           MAX(d.max_value) AS hi, SUM(d.count) AS n
    FROM periods p JOIN metrics_dailyrollup d
      ON d.user_id = %(user)s AND d.metric_type = %(type)s
     AND d.day >= p.start AND d.day < p.next
    WHERE NOT (SELECT found FROM other_zone)
    GROUP BY p.period, p.start
),
emptied AS (
    DELETE FROM metrics_periodrollup r USING periods p
    WHERE NOT (SELECT found FROM other_zone)
      AND r.user_id = %(user)s AND r.metric_type = %(type)s
      AND r.period = p.period AND r.start = p.start
      AND NOT EXISTS (SELECT 1 FROM computed c WHERE c.period = p.period AND c.start = p.start)
),
written AS (
    INSERT INTO metrics_periodrollup
        (user_id, metric_type, period, start, time_zone, value, min_value, max_value, count)
    SELECT %(user)s, %(type)s, period, start, %(tz)s, value, lo, hi, n FROM computed
    ON CONFLICT (user_id, metric_type, period, start) DO UPDATE SET
        time_zone = EXCLUDED.time_zone, value = EXCLUDED.value, min_value = EXCLUDED.min_value,
        max_value = EXCLUDED.max_value, count = EXCLUDED.count
)
SELECT found FROM other_zone
"""
_VALUE_SQL = {
    SUM: "SUM(d.value ORDER BY d.day)",
    AVERAGE: "SUM(d.value * d.count ORDER BY d.day) / SUM(d.count)",
    LATEST: "(array_agg(d.value ORDER BY d.day DESC))[1]",
}
_REWRITE_BY_AGGREGATION = {
    aggregation: _REWRITE_SQL.format(value=value) for aggregation, value in _VALUE_SQL.items()
}


def _rewrite_sql(user_id: int, metric_type: str, tz: tzinfo, starts: dict[str, list[date]]) -> bool:
    """`_rewrite` in one statement (PostgreSQL), unless a period row of the type is cut in
    another zone than `tz`: then nothing is written and this returns False."""
    periods = [(period, s, next_start(period, s)) for period, ss in starts.items() for s in ss]
    if not periods:
        return not _cut_in_another_zone(user_id, metric_type, tz)
    params = {
        "user": user_id,
        "type": metric_type,
        "tz": calendar.zone_name(tz),
        "periods": [p for p, _, _ in periods],
        "starts": [s for _, s, _ in periods],
        "nexts": [n for _, _, n in periods],
    }
    sql = _REWRITE_BY_AGGREGATION[get_metric_type(metric_type).aggregation]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return not cursor.fetchone()[0]


def _rewrite(user_id: int, metric_type: str, tz: tzinfo, starts: dict[str, list[date]]) -> None:
    """Recompute the periods `starts` names from one read of their daily rollups."""
    if connection.vendor == "postgresql":
        _rewrite_sql(user_id, metric_type, tz, starts)
        return
    spans = [(s, next_start(period, s)) for period, ss in starts.items() for s in ss]
    if not spans:
        return
    days = list(
        DailyRollup.objects.filter(
            user_id=user_id,
            metric_type=metric_type,
            day__gte=min(lo for lo, _ in spans),
            day__lt=max(hi for _, hi in spans),
        )
        .order_by("day")
        .values_list("day", "value", "min_value", "max_value", "count")
    )
    dates = [d[0] for d in days]
    tz_name = calendar.zone_name(tz)
    rows = []
    for period, period_starts in starts.items():
        PeriodRollup.objects.filter(
            user_id=user_id, metric_type=metric_type, period=period, start__in=period_starts
        ).delete()
        rows += [
            _compute(user_id, metric_type, period, s, tz_name, days, dates) for s in period_starts
        ]
    PeriodRollup.objects.bulk_create([r for r in rows if r is not None])


def _cut_in_another_zone(user_id: int, metric_type: str, tz: tzinfo) -> bool:
    return (
        PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type)
        .exclude(time_zone=calendar.zone_name(tz))
        .exists()
    )


def _recut(user_id: int, metric_type: str, tz: tzinfo) -> None:
    from metrics import rollups  # it calls us: imported when needed

    rollups.recompute_all(user_id=user_id, metric_type=metric_type, tz=tz)


@transaction.atomic
def refresh(
    *, user_id: int, metric_type: str, first: date, last: date, tz: tzinfo | None = None
) -> None:
    """Recompute the weeks and months that local days first..last touch in the owner's zone
    (`tz`, looked up when not given)."""
    tz = calendar.zone_of(user_id) if tz is None else tz
    starts = {p: starts_between(p, first, last) for p in PERIODS}
    if connection.vendor == "postgresql":
        # The zone's check and the rewrite in one statement.
        if not _rewrite_sql(user_id, metric_type, tz, starts):
            _recut(user_id, metric_type, tz)
        return
    if _cut_in_another_zone(user_id, metric_type, tz):
        _recut(user_id, metric_type, tz)
        return
    _rewrite(user_id, metric_type, tz, starts)


@transaction.atomic
def rebuild(*, user_id: int, metric_type: str, tz: tzinfo | None = None) -> None:
    """Every week and month of one type, from the daily rollups, in the owner's zone."""
    tz = calendar.zone_of(user_id) if tz is None else tz
    PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type).delete()
    days = DailyRollup.objects.filter(user_id=user_id, metric_type=metric_type).order_by("day")
    first, last = (
        days.values_list("day", flat=True).first(),
        days.values_list("day", flat=True).last(),
    )
    if first is None:
        return
    _rewrite(user_id, metric_type, tz, {p: starts_between(p, first, last) for p in PERIODS})


def _missing(user_id: int, metric_type: str) -> bool:
    return (
        not PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type).exists()
        and DailyRollup.objects.filter(user_id=user_id, metric_type=metric_type).exists()
    )


def period_rows(*, user_id: int, metric_type: str, period: str, first: date, last: date):
    """The stored rows of the periods containing local days first..last, oldest first."""
    tz = calendar.zone_of(user_id)
    if _cut_in_another_zone(user_id, metric_type, tz):
        with transaction.atomic():
            _recut(user_id, metric_type, tz)  # the days too: they were cut in that zone
    elif _missing(user_id, metric_type):
        rebuild(user_id=user_id, metric_type=metric_type, tz=tz)
    return PeriodRollup.objects.filter(
        user_id=user_id,
        metric_type=metric_type,
        period=period,
        start__gte=period_start(period, first),
        start__lte=last,
    ).order_by("start")
