"""Charts of a metric type's daily values, drawn with the project's SVG charts
(`healthtrack.core.charts`): bars for summed types (steps per day), a line for averaged and
latest-value ones. Used by the admin patient page and the share pages.

Blood pressure (`blood_pressure_chart`, the metric type page and the dashboard) is drawn as
bands: the range of the systolic and of the diastolic readings per day, or per week for a long
period, with a line through the means; never one thin line per day (a barcode at 90 days)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from healthtrack.core import charts
from metrics.figures import min_span
from metrics.registry import SUM, get_metric_type


def fill_days(values: dict[date, float], start: date, end: date) -> list[tuple[date, float | None]]:
    """One point per day start..end (inclusive), None where `values` has no entry."""
    return [
        (start + timedelta(days=i), values.get(start + timedelta(days=i)))
        for i in range((end - start).days + 1)
    ]


def metric_chart(
    metric_type: str, values: dict[date, float], start: date, end: date, *, title: str = ""
) -> charts.Chart:
    mtype = get_metric_type(metric_type)
    points = fill_days(values, start, end)
    title = title or mtype.name
    if mtype.aggregation == SUM:
        return charts.bar_chart(
            points, title=title, unit=mtype.unit_label, empty_text="No data in this period."
        )
    return charts.line_chart(
        points,
        title=title,
        unit=mtype.unit_label,
        empty_text="No data in this period.",
        min_span=min_span(metric_type),
    )


BP_SYSTOLIC, BP_DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
# A period longer than this is drawn a week per band: 90 daily bands, each a few pixels wide,
# read as a barcode.
BP_DAILY_MAX_DAYS = 31

# A day's rollup of one half of blood pressure: (mean, lowest, highest, number of readings).
DayFigures = tuple[float, float, float, int]


def blood_pressure_chart(
    systolic: Mapping[date, DayFigures],
    diastolic: Mapping[date, DayFigures],
    start: date,
    end: date,
    *,
    title: str = "",
    guides=(),
) -> charts.Chart:
    """The days start..end as bands (`healthtrack.core.charts.bp_band_svg`): one per day up to
    `BP_DAILY_MAX_DAYS` days, else one per 7 days counted back from `end` (the first may be
    shorter), each the range of its readings with the mean of its readings."""
    days = (end - start).days + 1
    size = 1 if days <= BP_DAILY_MAX_DAYS else 7
    buckets = []
    last = end
    while last >= start:
        first = max(start, last - timedelta(days=size - 1))
        buckets.append((first, last))
        last = first - timedelta(days=1)
    points = []
    for first, last in reversed(buckets):
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        halves = []
        for half in (systolic, diastolic):
            found = [half[d] for d in span if d in half]
            if not found:
                halves.append((None, None, None))
                continue
            count = sum(f[3] for f in found)
            mean = sum(f[0] * f[3] for f in found) / count if count else None
            halves.append((min(f[1] for f in found), max(f[2] for f in found), mean))
        (s_lo, s_hi, s_mean), (d_lo, d_hi, d_mean) = halves
        points.append((first, s_lo, s_hi, d_lo, d_hi, s_mean, d_mean))
    return charts.bp_band_svg(
        points,
        title=title or f"Blood pressure, {'daily' if size == 1 else 'weekly'} range",
        guides=guides,
        min_span=min_span("blood_pressure"),
        per="day" if size == 1 else "week",
    )


def blood_pressure_rollups(rows) -> tuple[dict[date, DayFigures], dict[date, DayFigures]]:
    """Systolic and diastolic `DayFigures` by day from DailyRollup rows (or value tuples
    (metric_type, day, value, min_value, max_value, count))."""
    out: dict[str, dict[date, DayFigures]] = {BP_SYSTOLIC: {}, BP_DIASTOLIC: {}}
    for code, day, value, low, high, count in rows:
        if code in out:
            out[code][day] = (value, low, high, count)
    return out[BP_SYSTOLIC], out[BP_DIASTOLIC]


def format_value(value: float | None) -> str:
    """A reading for people: thousands grouped, at most one decimal."""
    if value is None:
        return "–"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"
