"""Week and month rollups in the owner's time zone: ISO weeks (Monday first) and calendar months.

Kept in step with the daily rollups: `metrics.rollups.recompute_days` calls `refresh` in the
same transaction, for the span it rewrote, and every week and month that span touches in the
owner's zone is recomputed from the hourly rollups of that period. Reads never recompute, except
once for an owner whose rows were cut in another zone (they changed `User.time_zone`) or who has
hourly rollups but no period rows yet (data written before this table existed).

Each UTC hour belongs to the local period in which it starts: exact for every zone whose offset
is a whole number of hours, within the hour for the few that are not (India, Nepal, ...).
Aggregation follows the type: summed types add the hours' (de-duplicated) sums, averaged types
weight each hour's average by its sample count, latest types keep the last hour's value.
"""

from __future__ import annotations

import bisect
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Min

from metrics.models import HourlyRollup, PeriodRollup
from metrics.registry import AVERAGE, SUM, get_metric_type

WEEK, MONTH = PeriodRollup.Period.WEEK.value, PeriodRollup.Period.MONTH.value
PERIODS = (WEEK, MONTH)


def owner_zone(user_id: int) -> zoneinfo.ZoneInfo:
    name = get_user_model().objects.filter(pk=user_id).values_list("time_zone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def period_start(period: str, day: date) -> date:
    if period == WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(period: str, start: date) -> date:
    if period == WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bounds(period: str, start: date, tz: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
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
    user_id: int,
    metric_type: str,
    period: str,
    start: date,
    tz: zoneinfo.ZoneInfo,
    hours: list,
    times: list[datetime],
) -> PeriodRollup | None:
    """The period's row from `hours` ((period_start, value, min, max, count), oldest first,
    covering at least the period; `times` their period_start), or None when none falls in it."""
    lo, hi = bounds(period, start, tz)
    hours = hours[bisect.bisect_left(times, lo) : bisect.bisect_left(times, hi)]
    if not hours:
        return None
    aggregation = get_metric_type(metric_type).aggregation
    count = sum(h[4] for h in hours)
    if aggregation == SUM:
        value = sum(h[1] for h in hours)
    elif aggregation == AVERAGE:
        # Weighted by samples; an hour reached only by a summed sample's spill has none.
        value = sum(h[1] * h[4] for h in hours) / count
    else:
        value = hours[-1][1]
    return PeriodRollup(
        user_id=user_id,
        metric_type=metric_type,
        period=period,
        start=start,
        time_zone=tz.key,
        value=value,
        min_value=min(h[2] for h in hours),
        max_value=max(h[3] for h in hours),
        count=count,
    )


def _rewrite(
    user_id: int, metric_type: str, tz: zoneinfo.ZoneInfo, starts: dict[str, list[date]]
) -> None:
    """Recompute the periods `starts` names from one read of their hourly rollups."""
    spans = [bounds(period, s, tz) for period, ss in starts.items() for s in ss]
    if not spans:
        return
    hours = list(
        HourlyRollup.objects.filter(
            user_id=user_id,
            metric_type=metric_type,
            period_start__gte=min(lo for lo, _ in spans),
            period_start__lt=max(hi for _, hi in spans),
        )
        .order_by("period_start")
        .values_list("period_start", "value", "min_value", "max_value", "count")
    )
    times = [h[0] for h in hours]
    rows = []
    for period, period_starts in starts.items():
        PeriodRollup.objects.filter(
            user_id=user_id, metric_type=metric_type, period=period, start__in=period_starts
        ).delete()
        rows += [_compute(user_id, metric_type, period, s, tz, hours, times) for s in period_starts]
    PeriodRollup.objects.bulk_create([r for r in rows if r is not None])


@transaction.atomic
def refresh(*, user_id: int, metric_type: str, lo: datetime, hi: datetime) -> None:
    """Recompute the weeks and months that the UTC span [lo, hi) touches in the owner's zone."""
    tz = owner_zone(user_id)
    if (
        PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type)
        .exclude(time_zone=tz.key)
        .exists()
    ):
        rebuild(user_id=user_id, metric_type=metric_type)
        return
    first = lo.astimezone(tz).date()
    last = (hi - timedelta(microseconds=1)).astimezone(tz).date()
    _rewrite(user_id, metric_type, tz, {p: starts_between(p, first, last) for p in PERIODS})


@transaction.atomic
def rebuild(*, user_id: int, metric_type: str) -> None:
    """Every week and month of one type, from scratch, in the owner's current zone."""
    tz = owner_zone(user_id)
    PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type).delete()
    span = HourlyRollup.objects.filter(user_id=user_id, metric_type=metric_type).aggregate(
        first=Min("period_start"), last=Max("period_start")
    )
    if span["first"] is None:
        return
    first, last = span["first"].astimezone(tz).date(), span["last"].astimezone(tz).date()
    _rewrite(user_id, metric_type, tz, {p: starts_between(p, first, last) for p in PERIODS})


def _stale(user_id: int, metric_type: str, tz: zoneinfo.ZoneInfo) -> bool:
    rows = PeriodRollup.objects.filter(user_id=user_id, metric_type=metric_type)
    if rows.exclude(time_zone=tz.key).exists():
        return True
    return (
        not rows.exists()
        and HourlyRollup.objects.filter(user_id=user_id, metric_type=metric_type).exists()
    )


def period_rows(*, user_id: int, metric_type: str, period: str, first: date, last: date):
    """The stored rows of the periods containing local days first..last, oldest first."""
    tz = owner_zone(user_id)
    if _stale(user_id, metric_type, tz):
        rebuild(user_id=user_id, metric_type=metric_type)
    return PeriodRollup.objects.filter(
        user_id=user_id,
        metric_type=metric_type,
        period=period,
        start__gte=period_start(period, first),
        start__lte=last,
    ).order_by("start")
