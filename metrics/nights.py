"""The one definition of a night's sleep ("last night"): the sleep recorded from noon of the
day before until noon of the day, keyed by the morning it ended (`healthtrack.core.days`).
Read by the dashboard's sleep card and chart, the care-program sleep target and the doctor's
report."""

from __future__ import annotations

from datetime import date, tzinfo

from healthtrack.core import days
from metrics.models import HourlyRollup


def nights(*, user_id: int, first: date, last: date, tz: tzinfo | None = None) -> dict[date, float]:
    """Minutes of sleep per night first..last (keyed by the morning, in the owner's zone `tz`,
    looked up when not given); nights without sleep recorded are absent. From the hourly
    rollups: a sample counts in the hour it starts (where local noon falls inside a UTC hour,
    as in UTC+5:30, that hour counts for the night it starts in)."""
    tz = days.zone_of(user_id) if tz is None else tz
    lo, _ = days.night_bounds(first, tz)
    _, hi = days.night_bounds(last, tz)
    result: dict[date, float] = {}
    rows = HourlyRollup.objects.filter(
        user_id=user_id, metric_type="sleep", period_start__gte=lo, period_start__lt=hi
    ).values_list("period_start", "value")
    for period_start, value in rows:
        night = days.night_of(period_start, tz)
        result[night] = result.get(night, 0.0) + value
    return result
