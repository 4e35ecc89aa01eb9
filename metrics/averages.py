"""The one definition of an "N-day average" (the 7-day average by default): the mean of the
daily figures of the N finished days before today, counting only days with data (a day
nothing was recorded is missing data, not a zero). Today is in progress
(`healthtrack.core.days`) and is never part of it.

Read by goal progress (`goals.progress.window` / `average`), the recommendation rules
(`insights.snapshot.Snapshot.window`) and the pages that state them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

DEFAULT_DAYS = 7


def finished_window(*, today: date, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """First and last day (inclusive) of the `days` finished days before `today`."""
    return today - timedelta(days=days), today - timedelta(days=1)


def average_of_days(values: Mapping[date, float]) -> float | None:
    """The mean of the days given (days with data only); None without any."""
    if not values:
        return None
    return sum(values.values()) / len(values)
