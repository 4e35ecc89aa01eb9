"""Reads of the data a goal measures, from the metrics rollups and the nutrition daily totals
(never a scan of raw rows): the inputs of `goals.progress.evaluate`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, tzinfo

from goals.measures import NUTRITION, Measure
from goals.progress import average, window
from healthtrack.core import days as calendar
from metrics.latest import latest_values
from metrics.series import daily_series
from nutrition.models import NutritionLog


class _Deferred(Mapping):
    """Day -> figure, read on first use. A latest measure's progress is its newest reading;
    its window's days count only when a keep goal's target date has come and it is met
    (`goals.progress._held`), so most recomputes never read them."""

    def __init__(self, read: Callable[[], dict[date, float]]) -> None:
        self._read = read
        self._values: dict[date, float] | None = None

    def _days(self) -> dict[date, float]:
        if self._values is None:
            self._values = self._read()
        return self._values

    def __getitem__(self, day: date) -> float:
        return self._days()[day]

    def __iter__(self) -> Iterator[date]:
        return iter(self._days())

    def __len__(self) -> int:
        return len(self._days())


class Readings:
    """One person's figures, memoised for one recompute (several goals may share a window)."""

    def __init__(self, user_id: int, *, tz: tzinfo | None = None) -> None:
        self.user_id = user_id
        self._tz = tz
        self._nutrition: dict[tuple[date, date], list[dict]] = {}
        self._series: dict[tuple[str, date, date], dict[date, float]] = {}

    @property
    def tz(self):
        """The person's zone (`healthtrack.core.days`), read once per recompute."""
        if self._tz is None:
            self._tz = calendar.zone_of(self.user_id)
        return self._tz

    def daily(self, measure: Measure, first: date, last: date) -> dict[date, float]:
        """Day -> that day's figure (rollup value or nutrition total), days with data only."""
        if measure.source == NUTRITION:
            key = (first, last)
            if key not in self._nutrition:
                rows = NutritionLog.objects.for_user(self.user_id, tz=self.tz).on_days(first, last)
                self._nutrition[key] = list(rows.daily_totals())
            return {
                row["day"]: float(row[measure.code])
                for row in self._nutrition[key]
                if row[measure.code] is not None
            }
        key = (measure.code, first, last)
        if key not in self._series:
            self._series[key] = daily_series(
                user_id=self.user_id, metric_type=measure.code, start=first, end=last
            )
        return self._series[key]

    def latest(self, measure: Measure, before: datetime | None = None) -> float | None:
        # `latest_values`: the same answer, one plain statement on PostgreSQL (the ORM's
        # query cost more CPU to build than to run, on every write's recompute).
        found = latest_values(user_id=self.user_id, metric_types=[measure.code], before=before)
        return float(found[measure.code][1]) if measure.code in found else None

    def current(
        self, measure: Measure, *, period_days: int, today: date
    ) -> tuple[float | None, dict[date, float]]:
        """(newest reading for latest measures else None, the window's daily figures). A
        latest measure's daily figures are read only if used (`_Deferred`)."""
        first, last = window(today=today, period_days=period_days)
        if not measure.is_latest:
            return None, self.daily(measure, first, last)
        return self.latest(measure), _Deferred(lambda: self.daily(measure, first, last))

    def baseline(self, measure: Measure, *, period_days: int, start_date: date) -> float | None:
        """Where the person stood when the goal started: the newest reading up to the end of
        `start_date` (latest measures), or the average of the `period_days` complete days
        before it (daily-average measures). None without data."""
        if measure.is_latest:
            end = calendar.day_start(start_date + timedelta(days=1), self.tz)
            value = self.latest(measure, before=end)
        else:
            first, last = window(today=start_date, period_days=period_days)
            value = average(self.daily(measure, first, last))
        return round(value, 2) if value is not None else None


def today_figures(user_id: int, codes: set[str] | frozenset[str]) -> dict[str, float]:
    """Today's figure so far of each daily-total measure in `codes` (`goals.progress.
    SO_FAR_CODES`) that has data today: the day's rollup or diary total. Two queries at most."""
    from goals.measures import MEASURES
    from goals.progress import SO_FAR_CODES
    from healthtrack.core import days

    wanted = [MEASURES[code] for code in codes if code in SO_FAR_CODES and code in MEASURES]
    if not wanted:
        return {}
    readings = Readings(user_id)
    today = days.today(readings.tz)
    found: dict[str, float] = {}
    metric_codes = [m.code for m in wanted if m.source != NUTRITION]
    if metric_codes:
        from metrics.models import DailyRollup

        rows = DailyRollup.objects.filter(
            user_id=user_id, metric_type__in=metric_codes, day=today
        ).values_list("metric_type", "value")
        found.update({code: float(value) for code, value in rows})
    for measure in wanted:
        if measure.source == NUTRITION:
            value = readings.daily(measure, today, today).get(today)
            if value is not None:
                found[measure.code] = value
    return found
